#include "keys/passphrase.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/file.h"

namespace docket::keys {
namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

std::string describe_key(const PassphraseRequest& r) {
  std::string s = r.role.empty() ? "key" : r.role + " key";
  if (!r.key_id.empty()) s += " " + r.key_id.substr(0, 12);
  if (!r.gun.empty()) s += " (" + r.gun + ")";
  return s;
}

std::string join_or(const std::vector<std::string>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += i + 1 == v.size() ? " or " : ", ";
    out += v[i];
  }
  return out;
}

// A source answers, declines (nullopt: ask the next one), or fails.
using Answer = Result<std::optional<Secret>>;

class Chain final : public PassphraseSource {
 public:
  explicit Chain(std::vector<std::unique_ptr<PassphraseSource>> parts) : parts_(std::move(parts)) {}
  Result<Secret> get(const PassphraseRequest& req) override;

 private:
  std::vector<std::unique_ptr<PassphraseSource>> parts_;
};

constexpr std::string_view kDeclined = "passphrase-declined";

Error declined() {
  return Error{Fault::user, std::string(kDeclined), ""};
}

Result<Secret> Chain::get(const PassphraseRequest& req) {
  for (const auto& p : parts_) {
    auto r = p->get(req);
    if (r) return r;
    if (r.error().code != kDeclined) return r;
  }
  auto vars = passphrase_env_vars(req.role);
  return make_error(Fault::user, "passphrase",
                    "no passphrase for the " + describe_key(req) + ": set " + join_or(vars) +
                        ", pass --passphrase-file, or run on a terminal");
}

class Fixed final : public PassphraseSource {
 public:
  explicit Fixed(Secret s) : s_(std::move(s)) {}
  Result<Secret> get(const PassphraseRequest& req) override {
    if (req.attempt > 0)
      return make_error(Fault::user, "passphrase", "wrong passphrase for the " + describe_key(req));
    return s_;
  }

 private:
  Secret s_;
};

class Env final : public PassphraseSource {
 public:
  explicit Env(const Environment& env) : env_(env) {}
  Result<Secret> get(const PassphraseRequest& req) override {
    for (const auto& name : passphrase_env_vars(req.role)) {
      auto v = env_.get(name);
      if (!v || v->empty()) continue;
      if (req.attempt > 0)
        return make_error(
            Fault::user, "passphrase",
            "wrong passphrase for the " + describe_key(req) + " (from $" + name + ")");
      return Secret(std::move(*v));
    }
    return std::unexpected(declined());
  }

 private:
  const Environment& env_;
};

class File final : public PassphraseSource {
 public:
  File(Secret s, std::string path) : s_(std::move(s)), path_(std::move(path)) {}
  Result<Secret> get(const PassphraseRequest& req) override {
    if (req.attempt > 0)
      return make_error(Fault::user, "passphrase",
                        "wrong passphrase for the " + describe_key(req) + " (from " + path_ + ")");
    return s_;
  }

 private:
  Secret s_;
  std::string path_;
};

class Tty final : public PassphraseSource {
 public:
  explicit Tty(Terminal& t) : t_(t) {}
  Result<Secret> get(const PassphraseRequest& req) override {
    if (!t_.available()) return std::unexpected(declined());
    if (req.attempt >= kMaxPassphraseAttempts)
      return make_error(Fault::user, "passphrase",
                        "wrong passphrase for the " + describe_key(req) + " after " +
                            std::to_string(kMaxPassphraseAttempts) + " attempts");
    if (req.attempt > 0) t_.say("Passphrase incorrect. Please retry.");
    const std::string what = describe_key(req);
    for (int tries = 0; tries < kMaxPassphraseAttempts; ++tries) {
      auto first = t_.read_secret(req.create ? "Enter passphrase for new " + what + ": "
                                             : "Enter passphrase for " + what + ": ");
      if (!first) return std::unexpected(first.error());
      if (!*first)
        return make_error(Fault::user, "passphrase",
                          "no passphrase entered for the " + what + " (end of input)");
      if (!req.create) return std::move(**first);
      if ((*first)->empty()) {
        t_.say("The passphrase must not be empty.");
        continue;
      }
      auto again = t_.read_secret("Repeat passphrase for new " + what + ": ");
      if (!again) return std::unexpected(again.error());
      if (!*again)
        return make_error(Fault::user, "passphrase",
                          "no passphrase entered for the " + what + " (end of input)");
      if (**again == **first) return std::move(**first);
      t_.say("Passphrases do not match. Please retry.");
    }
    return make_error(Fault::user, "passphrase",
                      "no usable passphrase entered for the " + what + " after " +
                          std::to_string(kMaxPassphraseAttempts) + " tries");
  }

 private:
  Terminal& t_;
};

class DevTty final : public Terminal {
 public:
  DevTty() { fd_ = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC); }
  ~DevTty() override {
    if (fd_ >= 0) ::close(fd_);
  }
  bool available() override { return fd_ >= 0 && ::isatty(fd_); }

  void say(std::string_view line) override {
    std::string s = std::string(line) + "\n";
    write_all(s);
  }

  Result<std::optional<Secret>> read_secret(std::string_view prompt) override {
    if (!available())
      return make_error(Fault::user, "passphrase", "no terminal to ask for a passphrase");
    write_all(prompt);
    termios old{};
    bool restore = ::tcgetattr(fd_, &old) == 0;
    if (restore) {
      termios quiet = old;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      quiet.c_lflag |= ECHONL;
      ::tcsetattr(fd_, TCSAFLUSH, &quiet);
    }
    std::string line;
    bool eof = false;
    while (true) {
      char c;
      ssize_t n = ::read(fd_, &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        eof = line.empty();
        break;
      }
      if (c == '\n') break;
      if (line.size() < 4096) line += c;
    }
    if (restore) ::tcsetattr(fd_, TCSAFLUSH, &old);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (eof) return std::optional<Secret>();
    return std::optional<Secret>(Secret(std::move(line)));
  }

 private:
  void write_all(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::write(fd_, s.data(), s.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      s.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  int fd_ = -1;
};

}  // namespace

void Secret::wipe() {
  if (!s_.empty()) OPENSSL_cleanse(s_.data(), s_.size());
  s_.clear();
}

bool is_base_role(std::string_view role) {
  return role == "root" || role == "targets" || role == "snapshot" || role == "timestamp";
}

std::vector<std::string> passphrase_env_vars(std::string_view role) {
  if (role == "root") return {"NOTARY_ROOT_PASSPHRASE", "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE"};
  if (is_base_role(role))
    return {"NOTARY_" + upper(role) + "_PASSPHRASE", "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"};
  return {"NOTARY_DELEGATION_PASSPHRASE", "DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE"};
}

std::optional<std::string> ProcessEnvironment::get(const std::string& name) const {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::optional<std::string> MapEnvironment::get(const std::string& name) const {
  auto it = vars_.find(name);
  if (it == vars_.end()) return std::nullopt;
  return it->second;
}

std::unique_ptr<Terminal> controlling_terminal() {
  return std::make_unique<DevTty>();
}

std::unique_ptr<PassphraseSource> fixed_passphrase(Secret s) {
  return std::make_unique<Fixed>(std::move(s));
}

std::unique_ptr<PassphraseSource> env_passphrase(const Environment& env) {
  // Standalone, a declined lookup must still be a clear error: wrap in a chain.
  std::vector<std::unique_ptr<PassphraseSource>> parts;
  parts.push_back(std::make_unique<Env>(env));
  return std::make_unique<Chain>(std::move(parts));
}

Result<std::unique_ptr<PassphraseSource>> file_passphrase(const std::filesystem::path& path) {
  auto text = read_file(path, kMaxPassphraseFileBytes);
  if (!text)
    return make_error(Fault::user, "passphrase",
                      "cannot read passphrase file " + path.string() + ": " + text.error().message);
  std::string s = std::move(*text);
  auto nl = s.find('\n');
  if (nl != std::string::npos) {
    // Only the first line counts; anything but trailing blank lines is a mistake.
    for (std::size_t i = nl; i < s.size(); ++i)
      if (s[i] != '\n' && s[i] != '\r') {
        OPENSSL_cleanse(s.data(), s.size());
        return make_error(Fault::user, "passphrase",
                          "passphrase file " + path.string() + " has more than one line");
      }
    s.resize(nl);
  }
  if (!s.empty() && s.back() == '\r') s.pop_back();
  if (s.empty())
    return make_error(Fault::user, "passphrase", "passphrase file " + path.string() + " is empty");
  return std::unique_ptr<PassphraseSource>(
      std::make_unique<File>(Secret(std::move(s)), path.string()));
}

std::unique_ptr<PassphraseSource> tty_passphrase(Terminal& tty) {
  std::vector<std::unique_ptr<PassphraseSource>> parts;
  parts.push_back(std::make_unique<Tty>(tty));
  return std::make_unique<Chain>(std::move(parts));
}

Result<std::unique_ptr<PassphraseSource>> default_passphrase_source(const PassphraseOptions& o) {
  std::vector<std::unique_ptr<PassphraseSource>> parts;
  if (o.env != nullptr) parts.push_back(std::make_unique<Env>(*o.env));
  if (o.passphrase_file) {
    auto f = file_passphrase(*o.passphrase_file);
    if (!f) return std::unexpected(f.error());
    parts.push_back(std::move(*f));
  }
  if (o.tty != nullptr) parts.push_back(std::make_unique<Tty>(*o.tty));
  return std::unique_ptr<PassphraseSource>(std::make_unique<Chain>(std::move(parts)));
}

}  // namespace docket::keys
