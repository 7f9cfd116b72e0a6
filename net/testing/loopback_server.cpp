#include "net/testing/loopback_server.h"
#include "net/testing/process.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace docket::net::testing {

namespace {

constexpr std::size_t kMaxHead = 64 * 1024;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string reason_for(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    default:
      return "Status";
  }
}

}  // namespace

LoopbackServer::Connection::~Connection() {
  if (ssl_) SSL_free(static_cast<SSL*>(ssl_));
}

long LoopbackServer::Connection::raw_read(char* buf, std::size_t n) {
  if (ssl_) {
    int r = SSL_read(static_cast<SSL*>(ssl_), buf, static_cast<int>(n));
    return r > 0 ? r : -1;
  }
  while (true) {
    auto r = ::recv(fd_, buf, n, 0);
    if (r < 0 && errno == EINTR) continue;
    return r > 0 ? r : -1;
  }
}

bool LoopbackServer::Connection::fill() {
  char tmp[16384];
  long r = raw_read(tmp, sizeof tmp);
  if (r <= 0) return false;
  buf_.append(tmp, static_cast<std::size_t>(r));
  return true;
}

bool LoopbackServer::Connection::write(std::string_view bytes) {
  while (!bytes.empty()) {
    long w;
    if (ssl_) {
      w = SSL_write(static_cast<SSL*>(ssl_), bytes.data(), static_cast<int>(bytes.size()));
    } else {
      w = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
    }
    if (w <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(w));
  }
  return true;
}

std::optional<RawRequest> LoopbackServer::Connection::read_request() {
  std::size_t end;
  while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
    if (buf_.size() > kMaxHead || srv_->stop_) return std::nullopt;
    if (!fill()) return std::nullopt;
  }
  RawRequest req;
  req.head = buf_.substr(0, end + 4);
  buf_.erase(0, end + 4);
  std::string_view head = req.head;
  auto line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  auto sp1 = line.find(' ');
  auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return std::nullopt;
  req.method = std::string(line.substr(0, sp1));
  req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  req.version = std::string(line.substr(sp2 + 1));
  std::string_view rest = head.substr(line_end + 2);
  while (!rest.empty()) {
    auto e = rest.find("\r\n");
    auto h = rest.substr(0, e);
    rest.remove_prefix(e == std::string_view::npos ? rest.size() : e + 2);
    if (h.empty()) break;
    auto c = h.find(':');
    if (c == std::string_view::npos) continue;
    req.headers.add(std::string(h.substr(0, c)), std::string(trim(h.substr(c + 1))));
  }
  if (auto ex = req.headers.get("Expect"); ex && header_name_equals(*ex, "100-continue"))
    write("HTTP/1.1 100 Continue\r\n\r\n");
  auto te = req.headers.get("Transfer-Encoding");
  if (te && te->find("chunked") != std::string::npos) {
    req.chunked = true;
    while (true) {
      std::size_t le;
      while ((le = buf_.find("\r\n")) == std::string::npos)
        if (!fill()) return std::nullopt;
      std::size_t size = std::stoul(buf_.substr(0, le), nullptr, 16);
      buf_.erase(0, le + 2);
      if (size == 0) {
        // trailers until an empty line
        while (true) {
          while ((le = buf_.find("\r\n")) == std::string::npos)
            if (!fill()) return std::nullopt;
          bool empty = le == 0;
          buf_.erase(0, le + 2);
          if (empty) break;
        }
        break;
      }
      while (buf_.size() < size + 2)
        if (!fill()) return std::nullopt;
      req.body.append(buf_, 0, size);
      buf_.erase(0, size + 2);
    }
  } else if (auto cl = req.headers.get("Content-Length")) {
    std::size_t n = std::stoull(*cl);
    while (buf_.size() < n)
      if (!fill()) return std::nullopt;
    req.body = buf_.substr(0, n);
    buf_.erase(0, n);
  }
  srv_->record(req);
  return req;
}

bool LoopbackServer::Connection::respond(int status, const HttpHeaders& headers,
                                         std::string_view body, bool add_length) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason_for(status) + "\r\n";
  for (const auto& [k, v] : headers.entries()) out += k + ": " + v + "\r\n";
  if (add_length && !headers.contains("Content-Length") && !headers.contains("Transfer-Encoding"))
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "\r\n";
  out.append(body);
  return write(out);
}

void LoopbackServer::Connection::wait_for_stop() {
  std::unique_lock lk(srv_->mu_);
  srv_->stop_cv_.wait(lk, [&] { return srv_->stop_.load(); });
}

bool LoopbackServer::Connection::stopping() const {
  return srv_->stop_;
}

std::optional<std::string> LoopbackServer::Connection::client_cert_subject() const {
  if (!ssl_) return std::nullopt;
  X509* cert = SSL_get1_peer_certificate(static_cast<SSL*>(ssl_));
  if (!cert) return std::nullopt;
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  X509_free(cert);
  return std::string(cn);
}

LoopbackServer::LoopbackServer(Handler handler, bool ipv6)
    : handler_(std::move(handler)), ipv6_(ipv6) {
  listen_on_loopback();
}

LoopbackServer::LoopbackServer(Handler handler, ServerTls tls, bool ipv6)
    : handler_(std::move(handler)), ipv6_(ipv6) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) throw std::runtime_error("SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    SSL_CTX_free(ctx);
    throw std::runtime_error("cannot load server certificate " + tls.cert_file.string());
  }
  if (tls.client_ca_file) {
    if (SSL_CTX_load_verify_locations(ctx, tls.client_ca_file->c_str(), nullptr) != 1) {
      SSL_CTX_free(ctx);
      throw std::runtime_error("cannot load client CA " + tls.client_ca_file->string());
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  ssl_ctx_ = ctx;
  tls_ = true;
  listen_on_loopback();
}

void LoopbackServer::listen_on_loopback() {
  // OpenSSL's socket BIO writes with write(2): a client that hangs up would otherwise kill
  // the whole test binary with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  int fd = ::socket(ipv6_ ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int port = bind_loopback_ephemeral(fd, ipv6_);
  if (port < 0 || ::listen(fd, 64) != 0) {
    int e = errno;
    ::close(fd);
    if (ssl_ctx_) SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
    throw std::runtime_error("bind/listen on loopback: " + std::string(std::strerror(e)));
  }
  port_ = port;
  listen_fd_ = fd;
  acceptor_ = std::thread([this] { accept_loop(); });
}

LoopbackServer::~LoopbackServer() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  stop_cv_.notify_all();
  if (acceptor_.joinable()) acceptor_.join();
  // No new workers can start now; shut down any connection accepted meanwhile.
  {
    std::lock_guard lk(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (auto& w : workers_) w.join();
  ::close(listen_fd_);
  if (ssl_ctx_) SSL_CTX_free(static_cast<SSL_CTX*>(ssl_ctx_));
}

std::string LoopbackServer::url(std::string_view path) const {
  std::string u = tls_ ? "https://" : "http://";
  u += ipv6_ ? "[::1]" : "127.0.0.1";
  u += ":" + std::to_string(port_);
  u += path;
  return u;
}

std::vector<RawRequest> LoopbackServer::requests() const {
  std::lock_guard lk(mu_);
  return requests_;
}

void LoopbackServer::record(const RawRequest& r) {
  std::lock_guard lk(mu_);
  requests_.push_back(r);
}

void LoopbackServer::accept_loop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    int n = ::poll(&p, 1, 50);
    if (n <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lk(mu_);
    if (stop_) {
      ::close(fd);
      break;
    }
    ++accepted_;
    open_fds_.push_back(fd);
    workers_.emplace_back([this, fd] {
      SSL* ssl = nullptr;
      bool ok = true;
      if (tls_) {
        ssl = SSL_new(static_cast<SSL_CTX*>(ssl_ctx_));
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) != 1) {
          ERR_clear_error();
          ok = false;
        }
      }
      {
        Connection c(this, fd, ssl);
        if (ok) {
          try {
            handler_(c);
          } catch (...) {
            // A handler that fails just drops its connection; the client sees that.
          }
        }
        if (ssl && ok) SSL_shutdown(ssl);
      }
      ERR_clear_error();
      {
        std::lock_guard lk2(mu_);
        std::erase(open_fds_, fd);
      }
      ::close(fd);
    });
  }
}

}  // namespace docket::net::testing
