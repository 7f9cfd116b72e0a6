// Helpers for the trust server's interop and crash tests: a TLS CA and server certificate
// made with the openssl CLI, starting `docket-server trust` (or any server) as a child
// process on a free loopback port, and running peer CLIs with captured output.
// (Written here because no shared test-process helper existed when these tests were; fold
// into the shared one when it lands.)
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/file.h"

extern char** environ;

namespace docket::trustserver::testing {
namespace fs = std::filesystem;

inline std::string sh_quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) {
    if (c == '\'')
      o += "'\\''";
    else
      o += c;
  }
  return o + "'";
}

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr interleaved
};

// Runs `cmd` (already shell-quoted) with `env` prepended; bounded by `timeout` via the
// coreutils timeout(1) command.
inline RunResult run(const std::string& cmd, const std::map<std::string, std::string>& env = {},
                     const std::string& stdin_file = "", int timeout_s = 60) {
  std::string full = "timeout -k 5 " + std::to_string(timeout_s) + " env";
  for (const auto& [k, v] : env) full += " " + k + "=" + sh_quote(v);
  full += " " + cmd;
  full += stdin_file.empty() ? " </dev/null" : " <" + sh_quote(stdin_file);
  full += " 2>&1";
  RunResult r;
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed");
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

inline bool port_open(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

// A CA and a server certificate for 127.0.0.1 / localhost, made with the openssl CLI.
struct TestPki {
  fs::path dir, ca_cert, ca_key, server_cert, server_key;
  explicit TestPki(const fs::path& d) : dir(d) {
    ca_cert = dir / "ca.crt";
    ca_key = dir / "ca.key";
    server_cert = dir / "server.crt";
    server_key = dir / "server.key";
    auto q = [](const fs::path& p) { return sh_quote(p.string()); };
    std::string ext = (dir / "ext.cnf").string();
    if (!atomic_write_file(ext,
                           "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                           "extendedKeyUsage=serverAuth,clientAuth\n"))
      throw std::runtime_error("writing ext.cnf");
    auto r = run("sh -c " +
                 sh_quote("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                          "-nodes -days 2 -subj /CN=docket-test-ca "
                          "-keyout " +
                          q(ca_key) + " -out " + q(ca_cert) + " && " +
                          "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                          "-subj /CN=localhost "
                          "-keyout " +
                          q(server_key) + " -out " + q(dir / "server.csr") + " && " +
                          "openssl x509 -req -in " + q(dir / "server.csr") + " -CA " + q(ca_cert) +
                          " -CAkey " + q(ca_key) + " -CAcreateserial -days 2 -extfile " +
                          sh_quote(ext) + " -out " + q(server_cert)));
    if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.output);
  }
  // A client certificate signed by the CA (for mutual TLS).
  std::pair<fs::path, fs::path> client_cert(const std::string& name) const {
    auto crt = dir / (name + ".crt"), key = dir / (name + ".key"), csr = dir / (name + ".csr");
    auto q = [](const fs::path& p) { return sh_quote(p.string()); };
    auto r = run(
        "sh -c " +
        sh_quote("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=" +
                 name + " -keyout " + q(key) + " -out " + q(csr) + " && openssl x509 -req -in " +
                 q(csr) + " -CA " + q(ca_cert) + " -CAkey " + q(ca_key) +
                 " -CAcreateserial -days 2 -extfile " + q(dir / "ext.cnf") + " -out " + q(crt)));
    if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.output);
    return {crt, key};
  }
};

// A child process (a server), killed when the object dies.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
        const fs::path& log) {
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) envs.emplace_back(*e);
    for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
    std::vector<char*> a, e;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    for (const auto& s : envs) e.push_back(const_cast<char*>(s.c_str()));
    e.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (posix_spawn(&pid_, a[0], &fa, nullptr, a.data(), e.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    if (pid_ <= 0) throw std::runtime_error("cannot start " + argv[0]);
  }
  ~Child() { stop(SIGTERM); }
  pid_t pid() const { return pid_; }
  // Sends `sig` and reaps the child (SIGKILL after 10 s).
  void stop(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    for (int i = 0; i < 1000; ++i) {
      int st;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  bool running() {
    if (pid_ <= 0) return false;
    int st;
    return ::waitpid(pid_, &st, WNOHANG) == 0;
  }

 private:
  pid_t pid_ = -1;
};

inline bool wait_for_port(int port, Child& c,
                          std::chrono::seconds limit = std::chrono::seconds(30)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (port_open(port)) return true;
    if (!c.running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

inline std::string docket_server_bin() {
  return std::string(DOCKET_BINARY_DIR) + "/cli/docket-server";
}

}  // namespace docket::trustserver::testing
