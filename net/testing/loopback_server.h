// Test-only: a tiny scripted HTTP/1.x server on loopback, for tests that need a peer which
// misbehaves on purpose (stalls, endless bodies, HTTP/1.0, odd headers) or that must see
// the exact bytes a client sent. Link target: docket_net_testing.
//
// Each accepted connection runs the handler on its own thread. The handler reads requests
// with Connection::read_request() and writes raw bytes or respond(). Destroying the server
// (Constructing one sets SIGPIPE to SIG_IGN for the test process.) Destroying the server
// closes the listening socket, shuts down every open connection (unblocking handlers that
// read or wait_for_stop()), and joins all threads.
//
//   LoopbackServer srv([](LoopbackServer::Connection& c) {
//     while (auto req = c.read_request()) c.respond(200, {{"Content-Type", "text/plain"}}, "hi");
//   });
//   client.get(srv.url("/hello"));
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "net/http_client.h"

namespace docket::net::testing {

struct RawRequest {
  std::string method;
  std::string target;   // exactly as on the request line
  std::string version;  // "HTTP/1.1"
  HttpHeaders headers;
  std::string body;  // de-chunked
  bool chunked = false;
  std::string head;  // request line + headers, raw bytes
};

struct ServerTls {
  std::filesystem::path cert_file;  // PEM chain, leaf first
  std::filesystem::path key_file;
  // When set, clients must present a certificate issued by this CA (mutual TLS).
  std::optional<std::filesystem::path> client_ca_file;
};

class LoopbackServer {
 public:
  class Connection {
   public:
    // Next request, or nullopt at EOF / error / server stop.
    std::optional<RawRequest> read_request();
    bool write(std::string_view bytes);
    // Writes a complete HTTP/1.1 response with Content-Length (unless headers carry
    // Transfer-Encoding or `add_length` is false).
    bool respond(int status, const HttpHeaders& headers, std::string_view body,
                 bool add_length = true);
    // Blocks until the server is being destroyed (for stalling peers).
    void wait_for_stop();
    bool stopping() const;
    // Subject CN of the verified client certificate (mutual TLS), if any.
    std::optional<std::string> client_cert_subject() const;

    Connection(LoopbackServer* srv, int fd, void* ssl) : srv_(srv), fd_(fd), ssl_(ssl) {}
    ~Connection();

   private:
    friend class LoopbackServer;
    bool fill();
    long raw_read(char* buf, std::size_t n);
    LoopbackServer* srv_;
    int fd_;
    void* ssl_;  // SSL*
    std::string buf_;
  };
  using Handler = std::function<void(Connection&)>;

  // Binds 127.0.0.1 (or ::1 with ipv6) on a free port.
  explicit LoopbackServer(Handler handler, bool ipv6 = false);
  LoopbackServer(Handler handler, ServerTls tls, bool ipv6 = false);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:<port><path>" (https with TLS; [::1] with ipv6).
  std::string url(std::string_view path = "/") const;
  // Connections accepted so far (connection-reuse tests).
  int connections_accepted() const { return accepted_.load(); }
  // Every request read by any connection, in order.
  std::vector<RawRequest> requests() const;

 private:
  void listen_on_loopback();
  void accept_loop();
  void record(const RawRequest& r);

  Handler handler_;
  bool ipv6_;
  bool tls_ = false;
  void* ssl_ctx_ = nullptr;  // SSL_CTX*
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;
  std::vector<RawRequest> requests_;
};

}  // namespace docket::net::testing
