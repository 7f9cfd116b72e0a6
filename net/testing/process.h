// Test-only: temp directories, free loopback ports, and peer processes (a real
// notary-server, docker-registry, python3 -m http.server, ...) started by a test and always
// cleaned up. Link target: docket_net_testing.
//
//   auto dir = TempDir::create("registry");
//   int port = free_loopback_port();
//   ProcessOptions po;
//   po.argv = {"docker-registry", "serve", cfg};
//   po.log_file = dir.path() / "registry.log";
//   auto peer = Process::start(po).value();
//   ASSERT_TRUE(peer.wait_for_port(port, std::chrono::seconds(20))) << peer.log_tail();
//   ... // peer is SIGTERMed (then SIGKILLed) and reaped when `peer` goes out of scope
//
// The bounds given to the wait functions are give-up limits for a broken set-up, not
// timing assertions. A free port is only free when asked; bind it promptly.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

#include "common/error.h"
#include "net/http_client.h"

namespace docket::net::testing {

// A fresh directory under $TMPDIR (or /tmp), removed recursively on destruction.
class TempDir {
 public:
  static TempDir create(std::string_view prefix = "docket-test");
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TempDir(std::filesystem::path p) : path_(std::move(p)) {}
  std::filesystem::path path_;
};

// A TCP port on 127.0.0.1 (or ::1) that was free a moment ago.
int free_loopback_port(bool ipv6 = false);

// Binds the socket `fd` (of the matching family) to a port the kernel picks on 127.0.0.1 (or
// ::1) and returns that port, or -1 with errno set when bind(2) fails.
int bind_loopback_ephemeral(int fd, bool ipv6);

// Path of an executable found on PATH, or nullopt (for GTEST_SKIP when a peer is absent).
std::optional<std::filesystem::path> find_executable(std::string_view name);

struct ProcessOptions {
  std::vector<std::string> argv{};  // argv[0] is looked up on PATH
  // Added to (or overriding) the inherited environment.
  std::map<std::string, std::string> env{};
  // Removed from the inherited environment (e.g. "http_proxy").
  std::vector<std::string> unset_env{};
  std::optional<std::filesystem::path> working_dir{};
  // stdout and stderr go here (appended); default: a file in $TMPDIR.
  std::optional<std::filesystem::path> log_file{};
  // Bound on the SIGTERM grace period at destruction before SIGKILL.
  std::chrono::milliseconds stop_grace{3000};
};

class Process {
 public:
  // Starts the process in its own process group; it also gets SIGKILL if the test process
  // dies (PR_SET_PDEATHSIG; start peers from the test's main thread).
  static Result<Process> start(ProcessOptions options);
  Process(Process&& o) noexcept;
  Process& operator=(Process&&) = delete;
  ~Process();  // stop()

  pid_t pid() const { return pid_; }
  bool running();
  // SIGTERM to the process group, SIGKILL after the grace period; reaps. Returns the exit
  // status as from waitpid (or nullopt if already reaped).
  std::optional<int> stop();
  // Waits up to `bound` for the process to exit by itself; its wait status, or nullopt.
  std::optional<int> wait(std::chrono::milliseconds bound);

  // Polls until something accepts TCP connections on host:port, the process exits (error
  // with the log tail), or `bound` passes (error).
  Status wait_for_port(int port, std::chrono::milliseconds bound,
                       std::string_view host = "127.0.0.1");
  // Polls until `url` answers with any HTTP response (through `client`).
  Status wait_for_url(const HttpClient& client, const std::string& url,
                      std::chrono::milliseconds bound);

  const std::filesystem::path& log_path() const { return log_; }
  // The last `max_bytes` of the log, for assertion messages.
  std::string log_tail(std::size_t max_bytes = 4096) const;

 private:
  Process() = default;
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::filesystem::path log_;
  std::chrono::milliseconds grace_{3000};
};

// TCP connect to host:port succeeded within `bound` (polling).
Status wait_for_port(int port, std::chrono::milliseconds bound,
                     std::string_view host = "127.0.0.1");

}  // namespace docket::net::testing
