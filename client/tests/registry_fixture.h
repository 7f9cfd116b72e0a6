// Test-only: Debian's real docker-registry (distribution 2.8) on a free loopback port with a
// temp config and storage directory, optionally behind htpasswd (bcrypt) auth. Stopped
// (SIGTERM, then SIGKILL) and its files removed when the object goes away.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "client/tests/test_util.h"
#include "common/file.h"
#include "net/http_client.h"

namespace docket::client::test {

inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

inline bool have_program(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

class DockerRegistry {
 public:
  // user/password: when non-empty, htpasswd auth with that single account.
  // tls_cert/tls_key: when set, the registry serves HTTPS with them.
  explicit DockerRegistry(std::string user = "", std::string password = "",
                          std::string tls_cert = "", std::string tls_key = "") {
    tls_ = !tls_cert.empty();
    port_ = free_port();
    std::string auth;
    if (!user.empty()) {
      std::string cmd =
          "htpasswd -Bbn '" + user + "' '" + password + "' > " + (dir_.path / "htpasswd").string();
      if (std::system(cmd.c_str()) != 0) return;
      auth = "auth:\n  htpasswd:\n    realm: docket-test\n    path: " +
             (dir_.path / "htpasswd").string() + "\n";
    }
    std::string cfg =
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  "
        "filesystem:\n    rootdirectory: " +
        (dir_.path / "data").string() +
        "\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:" + std::to_string(port_) + "\n" +
        (tls_ ? "  tls:\n    certificate: " + tls_cert + "\n    key: " + tls_key + "\n"
              : std::string()) +
        auth;
    (void)atomic_write_file(dir_.path / "config.yml", cfg);
    pid_ = ::fork();
    if (pid_ == 0) {
      std::string log = (dir_.path / "registry.log").string();
      FILE* f = std::freopen(log.c_str(), "a", stdout);
      (void)f;
      ::dup2(1, 2);
      std::string c = (dir_.path / "config.yml").string();
      ::execlp("docker-registry", "docker-registry", "serve", c.c_str(),
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Give-up bound for a broken set-up, not a timing assertion.
    net::HttpClientOptions ho;
    ho.tls.insecure_skip_tls_verify = true;  // readiness probe only
    auto http = std::move(*net::HttpClient::create(ho));
    for (int i = 0; i < 200; ++i) {
      auto r = http.get(url() + "/v2/");
      if (r && (r->status == 200 || r->status == 401)) {
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~DockerRegistry() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int st = 0;
      for (int i = 0; i < 100; ++i) {
        if (::waitpid(pid_, &st, WNOHANG) == pid_) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
    }
  }
  bool ready() const { return ready_; }
  int port() const { return port_; }
  std::string domain() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string url() const { return (tls_ ? "https://" : "http://") + domain(); }
  std::string log() const { return read_file(dir_.path / "registry.log").value_or(""); }

 private:
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool ready_ = false;
  bool tls_ = false;
};

}  // namespace docket::client::test
