// docket's HTTP/1.1 server core: Boost.Beast on Asio, one io_context per thread
// (threads = cores by default, a connection stays on the thread that accepted it), C++20
// coroutines per connection, keep-alive, header/body/idle timeouts, body size limits,
// streamed request bodies (chunked or Content-Length) handed to a RequestBodySink in pieces,
// `Expect: 100-continue`, HEAD, large file responses with sendfile(2) (plain TCP) or 256 KiB
// writes (TLS), TLS from PEM cert/key files, graceful stop.
//
// Routing, middleware and the request/response model are in net/router.h.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/error.h"
#include "net/router.h"

namespace docket::net {

// Defaults are documented in docs/server-config.md; every field is a config-file field.
struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 5000;  // 0 = pick a free port (see HttpServer::port())
  unsigned threads = 0;       // 0 = std::thread::hardware_concurrency()
  // TLS: both set, or neither (plain HTTP).
  std::filesystem::path tls_cert_file;
  std::filesystem::path tls_key_file;
  // Mutual TLS: when set (needs TLS), every client must present a certificate that chains
  // to a CA in this PEM file; the handshake fails otherwise. The verified subject is in
  // Request::tls_client_subject.
  std::filesystem::path tls_client_ca_file;
  std::chrono::milliseconds header_timeout{30'000};     // whole request header
  std::chrono::milliseconds body_idle_timeout{60'000};  // no body byte for this long
  std::chrono::milliseconds idle_timeout{75'000};       // keep-alive wait for next request
  std::chrono::milliseconds write_timeout{120'000};     // no progress sending a response
  std::chrono::milliseconds shutdown_grace{10'000};     // in-flight requests on stop()
  std::uint32_t max_header_bytes = 64 * 1024;
  std::uint32_t max_connections = 10'000;  // beyond: accepted and closed at once
  // Threads running the handlers of routes marked RouteOptions::blocking (disk commits);
  // more requests than this wait for a free thread.
  unsigned blocking_threads = 16;
  std::string server_header = "docket";
};

class HttpServer {
 public:
  // The router must outlive the server and is not modified after start().
  HttpServer(ServerOptions opts, const Router& router);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the I/O threads. Errors: Fault::user ("config") for a bad
  // address or TLS files, Fault::local ("io") when the port cannot be bound.
  Status start();
  std::uint16_t port() const;  // the bound port, after start()
  // Graceful: stops accepting, closes idle keep-alive connections, lets in-flight
  // exchanges finish for up to shutdown_grace, then closes everything. Thread-safe,
  // callable from a signal watcher; returns at once.
  void stop();
  // Blocks until the server has fully stopped.
  void wait();

  struct Stats {
    std::uint64_t connections_open = 0;
    std::uint64_t connections_total = 0;
    std::uint64_t requests_total = 0;
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Blocks SIGTERM/SIGINT and runs `server` until one arrives (then stop() + wait()).
void run_until_signal(HttpServer& server);

}  // namespace docket::net
