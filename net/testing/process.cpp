#include "net/testing/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/file.h"

extern char** environ;

namespace docket::net::testing {

namespace fs = std::filesystem;

TempDir TempDir::create(std::string_view prefix) {
  const char* t = std::getenv("TMPDIR");
  fs::path base = t && *t ? t : "/tmp";
  fs::path p = base / (std::string(prefix) + "-" + random_hex_id().substr(0, 12));
  fs::create_directories(p);
  return TempDir(p);
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

int bind_loopback_ephemeral(int fd, bool ipv6) {
  int rc;
  if (ipv6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0) return -1;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ipv6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
              : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

int free_loopback_port(bool ipv6) {
  int fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  int port = bind_loopback_ephemeral(fd, ipv6);
  ::close(fd);
  if (port < 0) throw std::runtime_error("bind to a loopback port failed");
  return port;
}

std::optional<fs::path> find_executable(std::string_view name) {
  if (name.find('/') != std::string_view::npos) {
    if (::access(std::string(name).c_str(), X_OK) == 0) return fs::path(name);
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/local/bin:/usr/bin:/bin";
  std::stringstream ss(p);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    fs::path cand = fs::path(dir) / name;
    if (::access(cand.c_str(), X_OK) == 0 && !fs::is_directory(cand)) return cand;
  }
  return std::nullopt;
}

Result<Process> Process::start(ProcessOptions o) {
  if (o.argv.empty()) return make_error(Fault::bug, "usage", "Process::start: empty argv");
  auto exe = find_executable(o.argv[0]);
  if (!exe) return make_error(Fault::user, "not_found", o.argv[0] + " is not on PATH");
  fs::path log = o.log_file ? *o.log_file
                            : fs::path(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") /
                                  ("docket-peer-" + random_hex_id().substr(0, 12) + ".log");

  // Everything the child needs is prepared before fork: after fork in a threaded process
  // only async-signal-safe calls are allowed.
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const auto& k : o.unset_env) env.erase(k);
  for (const auto& [k, v] : o.env) env[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = o.argv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string exe_s = exe->string();
  std::string log_s = log.string();
  std::string wd = o.working_dir ? o.working_dir->string() : "";
  pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) return make_error(Fault::local, "io", "fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int fd = ::open(log_s.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      if (fd > 2) ::close(fd);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (!wd.empty() && ::chdir(wd.c_str()) != 0) ::_exit(126);
    ::execve(exe_s.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so kill(-pid) works at once
  Process p;
  p.pid_ = pid;
  p.log_ = log;
  p.grace_ = o.stop_grace;
  return p;
}

Process::Process(Process&& o) noexcept
    : pid_(o.pid_), reaped_(o.reaped_), log_(std::move(o.log_)), grace_(o.grace_) {
  o.pid_ = -1;
}

Process::~Process() {
  stop();
}

bool Process::running() {
  if (pid_ <= 0 || reaped_) return false;
  int status;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    return false;
  }
  return true;
}

std::optional<int> Process::wait(std::chrono::milliseconds bound) {
  if (pid_ <= 0 || reaped_) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (true) {
    int status;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::optional<int> Process::stop() {
  if (pid_ <= 0 || reaped_) return std::nullopt;
  ::kill(-pid_, SIGTERM);
  ::kill(pid_, SIGTERM);
  if (auto st = wait(grace_)) {
    ::kill(-pid_, SIGKILL);  // leftovers in the group
    return st;
  }
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  return wait(std::chrono::milliseconds(10'000));
}

std::string Process::log_tail(std::size_t max_bytes) const {
  std::ifstream f(log_, std::ios::binary);
  if (!f) return "(no log at " + log_.string() + ")";
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (s.size() > max_bytes) s = "..." + s.substr(s.size() - max_bytes);
  return s;
}

namespace {

bool try_connect(int port, std::string_view host) {
  bool v6 = host.find(':') != std::string_view::npos;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int rc = -1;
  std::string h(host);
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET6, h.c_str(), &a.sin6_addr) == 1)
      rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, h.c_str(), &a.sin_addr) == 1)
      rc = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  ::close(fd);
  return rc == 0;
}

}  // namespace

Status wait_for_port(int port, std::chrono::milliseconds bound, std::string_view host) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!try_connect(port, host)) {
    if (std::chrono::steady_clock::now() >= deadline)
      return make_error(Fault::remote, "network",
                        "nothing listens on " + std::string(host) + ":" + std::to_string(port) +
                            " after " + std::to_string(bound.count()) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}

Status Process::wait_for_port(int port, std::chrono::milliseconds bound, std::string_view host) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (!try_connect(port, host)) {
    if (!running())
      return make_error(Fault::remote, "network",
                        "peer process exited before listening on port " + std::to_string(port) +
                            "; log:\n" + log_tail());
    if (std::chrono::steady_clock::now() >= deadline)
      return make_error(Fault::remote, "network",
                        "peer process not listening on port " + std::to_string(port) + " after " +
                            std::to_string(bound.count()) + " ms; log:\n" + log_tail());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return {};
}

Status Process::wait_for_url(const HttpClient& client, const std::string& url,
                             std::chrono::milliseconds bound) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (true) {
    auto r = client.get(url);
    if (r) return {};
    if (!running())
      return make_error(
          Fault::remote, "network",
          "peer process exited before answering " + redact_url(url) + "; log:\n" + log_tail());
    if (std::chrono::steady_clock::now() >= deadline)
      return make_error(Fault::remote, "network",
                        "no answer from " + redact_url(url) + " after " +
                            std::to_string(bound.count()) + " ms (" + r.error().message +
                            "); log:\n" + log_tail());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace docket::net::testing
