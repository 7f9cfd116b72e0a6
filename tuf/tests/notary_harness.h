// Test harness for interop with Debian's Notary: starts a real `notary-server` on loopback
// (memory storage, built-in "local" signer, TLS from a throw-away CA made with openssl) and
// runs the real `notary` CLI against it. Header-only so any test target can include it
// (link docket_net and docket_common).
//
//   auto server = docket::testing::NotaryServer::start();   // nullptr + reason if absent
//   if (!server) GTEST_SKIP() << docket::testing::NotaryServer::skip_reason();
//   auto r = server->cli(trust_dir, {"list", gun});          // r.exit_code, r.output
//   auto http = server->http();                              // HttpClient trusting the CA
//
// Everything lives in one temp directory removed on destruction; the server is stopped
// (SIGTERM, then SIGKILL after 5 s) by the destructor. Nothing listens beyond 127.0.0.1.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/file.h"
#include "net/http_client.h"

extern char** environ;

namespace docket::testing {

struct ProcessResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr interleaved
};

// Runs argv[0] (an absolute path) with extra environment entries, optional stdin text,
// and a deadline; output is captured through a file. The child is killed at the deadline.
inline ProcessResult run_process(const std::vector<std::string>& argv,
                                 const std::map<std::string, std::string>& env = {},
                                 const std::string& stdin_text = "",
                                 std::chrono::seconds deadline = std::chrono::seconds(60)) {
  namespace fs = std::filesystem;
  ProcessResult res;
  fs::path tmp = fs::temp_directory_path() / ("docket-proc-" + random_hex_id());
  fs::create_directories(tmp);
  fs::path out = tmp / "out", in = tmp / "in";
  { std::ofstream(in) << stdin_text; }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<std::string> envs;
  for (char** e = environ; *e; ++e) {
    std::string s(*e);
    auto eq = s.find('=');
    if (eq != std::string::npos && env.contains(s.substr(0, eq))) continue;
    envs.push_back(s);
  }
  for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envs) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    res.output = "spawn failed: " + argv[0];
    fs::remove_all(tmp);
    return res;
  }
  auto until = std::chrono::steady_clock::now() + deadline;
  int status = 0;
  while (true) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > until) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      res.output = "timed out: ";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::ifstream f(out);
  std::stringstream ss;
  ss << f.rdbuf();
  res.output += ss.str();
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  fs::remove_all(tmp);
  return res;
}

// A free TCP port on 127.0.0.1 (bound and released; the server retries on a clash).
inline int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

class NotaryServer {
 public:
  static constexpr const char* kServerBinary = "/usr/bin/notary-server";
  static constexpr const char* kCliBinary = "/usr/bin/notary";
  static constexpr const char* kOpenssl = "/usr/bin/openssl";

  static std::string skip_reason() {
    for (const char* b : {kServerBinary, kCliBinary, kOpenssl})
      if (::access(b, X_OK) != 0)
        return std::string(b) + " is not installed (scripts/install-deps.sh --peers)";
    return "";
  }

  // Starts a server; nullptr only when a binary is absent (see skip_reason()). Any other
  // failure throws std::runtime_error with the server log.
  static std::unique_ptr<NotaryServer> start(const std::string& key_algorithm = "ecdsa") {
    if (!skip_reason().empty()) return nullptr;
    std::unique_ptr<NotaryServer> s(new NotaryServer());
    s->make_tls();
    std::string last_log;
    for (int attempt = 0; attempt < 3; ++attempt) {
      s->port_ = free_loopback_port();
      s->write_config(key_algorithm);
      if (s->launch()) return s;
      last_log = s->log();
      s->stop();
    }
    throw std::runtime_error("notary-server did not become healthy:\n" + last_log);
  }

  ~NotaryServer() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path ca_file() const { return dir_ / "ca.pem"; }
  std::string log() const {
    std::ifstream f(dir_ / "server.log");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  net::HttpClient http() const {
    net::HttpClientOptions o;
    o.tls.ca_file = ca_file();
    o.proxy = "";
    auto c = net::HttpClient::create(o);
    if (!c) throw std::runtime_error(c.error().describe());
    return std::move(*c);
  }

  // Passphrases the CLI reads from the environment (fixed test values).
  static std::map<std::string, std::string> passphrase_env() {
    return {{"NOTARY_ROOT_PASSPHRASE", "docket-root-pass"},
            {"NOTARY_TARGETS_PASSPHRASE", "docket-targets-pass"},
            {"NOTARY_SNAPSHOT_PASSPHRASE", "docket-snapshot-pass"},
            {"NOTARY_DELEGATION_PASSPHRASE", "docket-delegation-pass"}};
  }

  // notary -s <url> -d <trust_dir> --tlscacert <ca> <args...>
  ProcessResult cli(const std::filesystem::path& trust_dir, const std::vector<std::string>& args,
                    const std::string& stdin_text = "") const {
    std::vector<std::string> argv{
        kCliBinary, "-s", url(), "-d", trust_dir.string(), "--tlscacert", ca_file().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto env = passphrase_env();
    env["HOME"] = trust_dir.string();  // keep ~/.notary and ~/.docker out of the user's home
    return run_process(argv, env, stdin_text);
  }

  // openssl with arguments; throws on failure.
  static void openssl(const std::vector<std::string>& args) {
    std::vector<std::string> argv{kOpenssl};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_process(argv);
    if (r.exit_code != 0) throw std::runtime_error("openssl failed:\n" + r.output);
  }

 private:
  NotaryServer() {
    dir_ = std::filesystem::temp_directory_path() / ("docket-notary-" + random_hex_id());
    std::filesystem::create_directories(dir_);
  }

  void make_tls() {
    auto p = [&](const char* n) { return (dir_ / n).string(); };
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2", "-subj",
             "/CN=docket interop test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
    openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             p("server.key"), "-out", p("server.csr"), "-subj", "/CN=localhost"});
    {
      std::ofstream(dir_ / "ext.cnf") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                         "extendedKeyUsage=serverAuth\n";
    }
    openssl({"x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
             "-CAcreateserial", "-out", p("server.pem"), "-days", "2", "-extfile", p("ext.cnf")});
  }

  void write_config(const std::string& key_algorithm) {
    std::ofstream(dir_ / "server.json")
        << "{\"server\":{\"http_addr\":\"127.0.0.1:" << port_ << "\",\"tls_cert_file\":\""
        << (dir_ / "server.pem").string() << "\",\"tls_key_file\":\""
        << (dir_ / "server.key").string() << "\"},"
        << "\"trust_service\":{\"type\":\"local\",\"hostname\":\"\",\"port\":\"\","
        << "\"key_algorithm\":\"" << key_algorithm << "\"},"
        << "\"logging\":{\"level\":\"info\"},\"storage\":{\"backend\":\"memory\"}}";
  }

  bool launch() {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, (dir_ / "server.log").c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::string cfg = (dir_ / "server.json").string();
    std::vector<char*> argv{const_cast<char*>(kServerBinary), const_cast<char*>("-config"),
                            cfg.data(), nullptr};
    int rc = posix_spawn(&pid_, kServerBinary, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      return false;
    }
    auto client = http();
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;  // exited (port clash, bad config)
      }
      auto r = client.get(url() + "/_notary_server/health");
      if (r && r->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace docket::testing
