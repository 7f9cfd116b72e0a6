// Where passphrases for private keys come from, as Notary and Docker look for them:
//
//   role        environment variables, first set (non-empty) one wins
//   root        NOTARY_ROOT_PASSPHRASE, DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE
//   targets     NOTARY_TARGETS_PASSPHRASE, DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE
//   snapshot    NOTARY_SNAPSHOT_PASSPHRASE, DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE
//   timestamp   NOTARY_TIMESTAMP_PASSPHRASE, DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE
//   other       NOTARY_DELEGATION_PASSPHRASE, DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE
//               (any non-canonical role, e.g. targets/releases, is a delegation)
//
// then a passphrase file (--passphrase-file), then a prompt on /dev/tty (echo off, asked
// twice when a new key is encrypted). Without any of them the request fails at once with
// a user error naming the variables to set; nothing ever loops waiting for input.
#pragma once

#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace docket::keys {

// How many times a passphrase is asked for one key before giving up.
inline constexpr int kMaxPassphraseAttempts = 3;
// Largest passphrase file read.
inline constexpr std::size_t kMaxPassphraseFileBytes = 4096;

// A passphrase: wiped from memory when destroyed, never printable by accident.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string s) : s_(std::move(s)) {}
  Secret(const Secret& o) : s_(o.s_) {}
  Secret(Secret&& o) noexcept : s_(std::move(o.s_)) { o.wipe(); }
  Secret& operator=(Secret o) noexcept {
    wipe();
    s_.swap(o.s_);
    return *this;
  }
  ~Secret() { wipe(); }
  std::string_view view() const { return s_; }
  bool empty() const { return s_.empty(); }
  bool operator==(const Secret& o) const { return s_ == o.s_; }

 private:
  void wipe();
  std::string s_;
};

// The canonical roles' names; anything else counts as a delegation.
bool is_base_role(std::string_view role);

struct PassphraseRequest {
  std::string key_id;
  std::string role;     // root, targets, snapshot, timestamp, or a delegation name
  std::string gun;      // may be empty
  bool create = false;  // a new key is being encrypted (a prompt asks twice)
  int attempt = 0;      // 0 at first; n after n wrong passphrases
};

// The environment variables that can hold the passphrase for `role`, in lookup order.
std::vector<std::string> passphrase_env_vars(std::string_view role);

class PassphraseSource {
 public:
  virtual ~PassphraseSource() = default;
  // The passphrase for a request. Errors are Fault::user, code "passphrase".
  virtual Result<Secret> get(const PassphraseRequest& req) = 0;
};

// ---- injectable environment and terminal ----

class Environment {
 public:
  virtual ~Environment() = default;
  virtual std::optional<std::string> get(const std::string& name) const = 0;
};
// getenv().
class ProcessEnvironment final : public Environment {
 public:
  std::optional<std::string> get(const std::string& name) const override;
};
class MapEnvironment final : public Environment {
 public:
  explicit MapEnvironment(std::map<std::string, std::string> vars) : vars_(std::move(vars)) {}
  MapEnvironment(std::initializer_list<std::pair<const std::string, std::string>> vars)
      : vars_(vars) {}
  std::optional<std::string> get(const std::string& name) const override;

 private:
  std::map<std::string, std::string> vars_;
};

class Terminal {
 public:
  virtual ~Terminal() = default;
  // Whether there is a terminal to ask at all.
  virtual bool available() = 0;
  // Prints `prompt`, reads one line with echo off; nullopt on end of input.
  virtual Result<std::optional<Secret>> read_secret(std::string_view prompt) = 0;
  virtual void say(std::string_view line) = 0;
};
// The controlling terminal, /dev/tty (so it works with stdin/stdout redirected).
std::unique_ptr<Terminal> controlling_terminal();

// ---- sources ----

// Always the same passphrase (tests, programmatic use). Cannot retry.
std::unique_ptr<PassphraseSource> fixed_passphrase(Secret s);
// Environment variables as in the table above. Cannot retry.
std::unique_ptr<PassphraseSource> env_passphrase(const Environment& env);
// The first line of a file (trailing "\n" or "\r\n" removed), for every role.
Result<std::unique_ptr<PassphraseSource>> file_passphrase(const std::filesystem::path& path);
// Prompts on the terminal.
std::unique_ptr<PassphraseSource> tty_passphrase(Terminal& tty);

struct PassphraseOptions {
  const Environment* env = nullptr;  // nullptr: no environment lookup
  std::optional<std::filesystem::path> passphrase_file;
  Terminal* tty = nullptr;  // nullptr or unavailable: no prompt
};
// Environment, then file, then terminal. When none applies the error names the
// environment variables for the role and the --passphrase-file option.
Result<std::unique_ptr<PassphraseSource>> default_passphrase_source(const PassphraseOptions& o);

}  // namespace docket::keys
