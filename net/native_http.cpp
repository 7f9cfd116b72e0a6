#include "net/native_http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <vector>

#include "common/once.h"
#include "common/openssl_errors.h"
#include "net/tls_warmup.h"

namespace docket::net::detail {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

namespace {

// Bytes asked of the socket per read.
constexpr std::size_t kReadChunkBytes = 64 * 1024;

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool plain_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

std::string errno_text(int e) {
  return std::strerror(e);
}

// ---- a socket BIO that never raises SIGPIPE ----
// OpenSSL's socket BIO writes with write(2): a peer that has gone would kill the process with
// SIGPIPE. This one sends with MSG_NOSIGNAL, so no process-wide signal setting is needed.

int bio_fd(BIO* b) {
  return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b)));
}

int bio_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  for (;;) {
    ssize_t n = ::send(bio_fd(b), data, static_cast<std::size_t>(len), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(b);
    return -1;
  }
}

int bio_read(BIO* b, char* out, int len) {
  BIO_clear_retry_flags(b);
  for (;;) {
    ssize_t n = ::recv(bio_fd(b), out, static_cast<std::size_t>(len), 0);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(b);
    return -1;
  }
}

long bio_ctrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

const BIO_METHOD* nosigpipe_socket_method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "docket socket");
    if (!bm) return bm;
    BIO_meth_set_write(bm, bio_write);
    BIO_meth_set_read(bm, bio_read);
    BIO_meth_set_ctrl(bm, bio_ctrl);
    BIO_meth_set_create(bm, bio_create);
    return bm;
  }();
  return m;
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = name ? std::getenv(name) : nullptr;
  return v && *v ? v : (fallback ? fallback : "");
}

// Deadlines of one request: the phase (connect + TLS handshake), idle (no byte moved) and
// total ones; waits end at the earliest.
struct Timer {
  const HttpClientOptions* o = nullptr;
  Clock::time_point total = Clock::time_point::max();
  Clock::time_point phase = Clock::time_point::max();
  Clock::time_point last_progress = Clock::now();

  explicit Timer(const HttpClientOptions& opts) : o(&opts) {
    if (o->total_timeout.count() > 0) total = Clock::now() + o->total_timeout;
  }
  void progress() { last_progress = Clock::now(); }
  Clock::time_point idle_deadline() const {
    return o->idle_timeout.count() > 0 ? last_progress + o->idle_timeout : Clock::time_point::max();
  }
  Clock::time_point next() const { return std::min({total, phase, idle_deadline()}); }
  // Which deadline passed, as the error's reason.
  std::string expired_reason() const {
    auto now = Clock::now();
    if (now >= phase)
      return "connection not established within " + std::to_string(o->connect_timeout.count()) +
             " ms (connect timeout)";
    if (now >= total)
      return "not finished within " + std::to_string(o->total_timeout.count()) +
             " ms (total timeout)";
    return "no data received or sent for " + std::to_string(o->idle_timeout.count()) +
           " ms (idle timeout)";
  }
};

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  std::string key;
  // TLS: the peer closed without close_notify (a truncation cannot be told apart).
  bool unclean_eof = false;
  ~Conn() {
    if (ssl) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
  }
};

// Waits until `fd` is ready for `events` or the timer's next deadline passes.
Status wait_fd(int fd, short events, const Timer& t, const std::string& what) {
  for (;;) {
    auto deadline = t.next();
    int ms = -1;
    if (deadline != Clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0)
        return make_error(Fault::remote, "network", what + ": " + t.expired_reason());
      ms = static_cast<int>(std::min<long long>(left.count() + 1, INT_MAX));
    }
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, ms);
    if (r > 0) return {};
    if (r < 0 && errno != EINTR)
      return make_error(Fault::remote, "network", what + ": poll: " + errno_text(errno));
  }
}

// Why the TLS call failed, for the message.
std::string tls_failure(SSL* ssl, int rc, int saved_errno) {
  long v = SSL_get_verify_result(ssl);
  if (v != X509_V_OK)
    return std::string("TLS certificate verification failed: ") + X509_verify_cert_error_string(v);
  std::string reasons = take_openssl_errors();
  int err = SSL_get_error(ssl, rc);
  if (err == SSL_ERROR_SYSCALL && reasons.empty())
    return saved_errno ? "TLS: " + errno_text(saved_errno) : "TLS: connection closed by the peer";
  return "TLS: " + (reasons.empty() ? std::string("error ") + std::to_string(err) : reasons);
}

// Reads up to `n` bytes: 0 is the end of the stream.
Result<std::size_t> read_some(Conn& c, char* buf, std::size_t n, Timer& t,
                              const std::string& what) {
  int want = static_cast<int>(std::min<std::size_t>(n, INT_MAX));
  for (;;) {
    if (c.ssl) {
      ERR_clear_error();
      errno = 0;
      int r = SSL_read(c.ssl, buf, want);
      if (r > 0) {
        t.progress();
        return static_cast<std::size_t>(r);
      }
      int saved = errno;
      int err = SSL_get_error(c.ssl, r);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        if (auto s = wait_fd(c.fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, t, what); !s)
          return std::unexpected(s.error());
        continue;
      }
      if (err == SSL_ERROR_ZERO_RETURN) return 0;
      unsigned long e = ERR_peek_error();
      if ((err == SSL_ERROR_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) ||
          (err == SSL_ERROR_SYSCALL && e == 0 && saved == 0)) {
        ERR_clear_error();
        c.unclean_eof = true;
        return 0;
      }
      return make_error(Fault::remote, "network", what + ": " + tls_failure(c.ssl, r, saved));
    }
    ssize_t r = ::recv(c.fd, buf, static_cast<std::size_t>(want), 0);
    if (r > 0) {
      t.progress();
      return static_cast<std::size_t>(r);
    }
    if (r == 0) return 0;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (auto s = wait_fd(c.fd, POLLIN, t, what); !s) return std::unexpected(s.error());
      continue;
    }
    return make_error(Fault::remote, "network", what + ": receive failed: " + errno_text(errno));
  }
}

Status write_all(Conn& c, std::string_view data, Timer& t, const std::string& what) {
  while (!data.empty()) {
    int chunk = static_cast<int>(std::min<std::size_t>(data.size(), 1 << 20));
    if (c.ssl) {
      ERR_clear_error();
      errno = 0;
      int r = SSL_write(c.ssl, data.data(), chunk);
      if (r > 0) {
        t.progress();
        data.remove_prefix(static_cast<std::size_t>(r));
        continue;
      }
      int saved = errno;
      int err = SSL_get_error(c.ssl, r);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        if (auto s = wait_fd(c.fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, t, what); !s)
          return s;
        continue;
      }
      return make_error(Fault::remote, "network", what + ": " + tls_failure(c.ssl, r, saved));
    }
    ssize_t r = ::send(c.fd, data.data(), static_cast<std::size_t>(chunk), MSG_NOSIGNAL);
    if (r >= 0) {
      t.progress();
      data.remove_prefix(static_cast<std::size_t>(r));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (auto s = wait_fd(c.fd, POLLOUT, t, what); !s) return s;
      continue;
    }
    return make_error(Fault::remote, "network", what + ": send failed: " + errno_text(errno));
  }
  return {};
}

// What the parser collects: the response, and the body into it or the caller's sink.
struct Collect {
  const HttpRequest* req = nullptr;
  const HttpClientOptions* opts = nullptr;
  HttpResponse resp;
  bool body_started = false;
  bool streaming = false;
  std::size_t cap = 0;
  bool cap_exceeded = false;
  std::optional<Error> sink_error;

  void start_body() {
    if (body_started) return;
    body_started = true;
    bool ok_status = resp.status >= 200 && resp.status < 300;
    streaming = req->sink && ok_status;
    cap = req->sink && !ok_status ? opts->max_error_body_bytes
                                  : req->max_body_bytes.value_or(opts->max_body_bytes);
  }
  // Body bytes, to the sink or collected under the cap; false stops the parse.
  bool body(std::string_view s) {
    start_body();
    if (s.empty()) return true;
    if (streaming) {
      auto st = req->sink(s);
      if (!st) {
        sink_error = std::move(st.error());
        return false;
      }
      return true;
    }
    if (resp.body.size() + s.size() > cap) {
      cap_exceeded = true;
      return false;
    }
    resp.body.append(s);
    return true;
  }
};

class Parser : public bhttp::basic_parser<false> {
 public:
  explicit Parser(Collect& c) : c_(c) {}

 private:
  Collect& c_;

  void on_request_impl(bhttp::verb, beast::string_view, beast::string_view, int,
                       beast::error_code& ec) override {
    ec = bhttp::error::bad_method;  // never called for a response parser
  }
  void on_response_impl(int code, beast::string_view reason, int version,
                        beast::error_code&) override {
    c_.resp.status = code;
    c_.resp.reason = std::string(reason);
    c_.resp.http_version = std::to_string(version / 10) + "." + std::to_string(version % 10);
    c_.resp.headers = HttpHeaders{};
  }
  void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value,
                     beast::error_code&) override {
    c_.resp.headers.add(std::string(name), std::string(value));
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         beast::error_code& ec) override {
    c_.start_body();
    // A collected body announced beyond the cap is refused before a byte of it is read.
    if (!c_.streaming && length && *length > c_.cap) {
      c_.cap_exceeded = true;
      ec = bhttp::error::body_limit;
      return;
    }
    // One allocation of the announced size (within the cap) instead of the string doubling
    // its way up, a copy and a fresh run of pages per step (a 90 KB targets.json went
    // through five).
    if (!c_.streaming && length) c_.resp.body.reserve(static_cast<std::size_t>(*length));
  }
  std::size_t on_body_impl(beast::string_view body, beast::error_code& ec) override {
    if (!c_.body(std::string_view(body.data(), body.size()))) ec = bhttp::error::body_limit;
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                 beast::error_code& ec) override {
    return on_body_impl(body, ec);
  }
  void on_finish_impl(beast::error_code&) override {}
};

// The outcome of one request on one connection.
struct Exchange {
  Result<HttpResponse> result = make_error(Fault::bug, "bug", "no exchange");
  bool keep_alive = false;  // the connection can carry another request
  bool stale = false;       // failed before any byte of an answer arrived
};

}  // namespace

bool is_hashed_ca_dir(const std::string& dir) {
  std::error_code ec;
  for (const auto& ent : std::filesystem::directory_iterator(dir, ec)) {
    std::string n = ent.path().filename().string();
    auto dot = n.find('.');
    if (dot == 8 && dot + 1 < n.size() &&
        std::all_of(n.begin(), n.begin() + 8,
                    [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }) &&
        std::all_of(n.begin() + 9, n.end(),
                    [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      return true;
  }
  return false;
}

// ---- URLs ----

std::optional<NativeUrl> parse_native_url(std::string_view url) {
  NativeUrl u;
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  std::string scheme = to_lower(url.substr(0, sep));
  if (scheme == "https")
    u.tls = true;
  else if (scheme != "http")
    return std::nullopt;
  std::string_view rest = url.substr(sep + 3);
  auto end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view host, port;
  bool has_port = false;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
      has_port = true;
    }
    in6_addr a6{};
    std::string h(host);
    if (h.empty() || ::inet_pton(AF_INET6, h.c_str(), &a6) != 1) return std::nullopt;
    u.ip_literal = true;
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      has_port = true;
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), plain_host_char))
      return std::nullopt;
    in_addr a4{};
    std::string h(host);
    if (::inet_pton(AF_INET, h.c_str(), &a4) == 1) {
      u.ip_literal = true;
    } else if (std::all_of(host.begin(), host.end(), [](char c) {
                 return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
               })) {
      return std::nullopt;  // "127.1" and the like: libcurl's reading of them stands
    }
  }
  int default_port = u.tls ? 443 : 80;
  u.port = default_port;
  if (has_port && !port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        }))
      return std::nullopt;
    u.port = std::atoi(std::string(port).c_str());
    if (u.port < 1 || u.port > 65535) return std::nullopt;
  }
  u.host = to_lower(host);
  bool v6 = u.ip_literal && u.host.find(':') != std::string::npos;
  u.host_header = v6 ? "[" + u.host + "]" : u.host;
  if (u.port != default_port) u.host_header += ":" + std::to_string(u.port);
  if (auto hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
  u.target = tail.empty() || tail.front() != '/' ? "/" + std::string(tail) : std::string(tail);
  return u;
}

// ---- the transport ----

struct NativeTransport::Impl {
  HttpClientOptions o;
  std::string ca_pem;

  // The TLS context, made on the first https request.
  OnceStatus ctx_once;
  SSL_CTX* ctx = nullptr;
  // The configured CAs (ca_pem), added to the context's store once, before any certificate
  // is verified: parsing them is OpenSSL's first use of its decoders (~0.3 ms in a fresh
  // process), so the first handshake does it while the server works on its ClientHello.
  OnceStatus ca_once;

  std::mutex pool_mu;
  std::vector<std::unique_ptr<Conn>> idle;

  ~Impl() {
    idle.clear();
    if (ctx) SSL_CTX_free(ctx);
  }

  Status make_ctx();
  Status add_configured_cas();
  Status ensure_configured_cas() {
    return ca_once.run([this] { return add_configured_cas(); });
  }
  // Whether the handshake needs the configured CAs (verification on, some configured).
  bool uses_configured_cas() const { return !o.tls.insecure_skip_tls_verify && !ca_pem.empty(); }
  Result<SSL_CTX*> tls_context() {
    if (auto s = ctx_once.run([this] { return make_ctx(); }); !s) return std::unexpected(s.error());
    return ctx;
  }
  Result<std::unique_ptr<Conn>> connect(const NativeUrl& u, const std::string& key, Timer& t,
                                        const std::string& what);
  Status handshake(Conn& c, const NativeUrl& u, Timer& t, const std::string& what);
  std::unique_ptr<Conn> take_idle(const std::string& key);
  void put_idle(std::unique_ptr<Conn> c);
  Exchange exchange(Conn& c, const HttpRequest& req, const std::string& wire, Timer& t,
                    const std::string& what);
  // Reads the next answer on `c`; `buf` holds bytes already received beyond the previous
  // answer (pipelining) and keeps those beyond this one.
  Exchange read_response(Conn& c, const HttpRequest& req, Timer& t, const std::string& what,
                         std::string& buf);
};

Status NativeTransport::Impl::make_ctx() {
  const auto& tls = o.tls;
  // Where the system CAs come from (SSL_CERT_DIR / SSL_CERT_FILE override): the hashed
  // directory, searched by subject when a chain needs an issuer, rather than the bundle,
  // which would be parsed whole (~150 certificates, tens of ms) per process. Deciding it
  // lists the directory, so that is done while OpenSSL's first-use set-up may still be
  // running on another thread (below), not after: the environment names are constants.
  std::string system_ca_dir, system_ca_file;
  if (!tls.insecure_skip_tls_verify && !tls.ca_file) {
    std::string dir = env_or(X509_get_default_cert_dir_env(), X509_get_default_cert_dir());
    if (!dir.empty() && is_hashed_ca_dir(dir))
      system_ca_dir = std::move(dir);
    else
      system_ca_file = env_or(X509_get_default_cert_file_env(), X509_get_default_cert_file());
  }
  // OpenSSL's first-use set-up may be under way on another thread: let it finish rather
  // than contend with it for OpenSSL's locks, and take the context it made if still there.
  ERR_clear_error();
  SSL_CTX* c = take_tls_warm_up_client_context();
  if (!c) c = SSL_CTX_new(TLS_client_method());
  if (!c) return make_error(Fault::bug, "openssl", "SSL_CTX_new failed: " + take_openssl_errors());
  ctx = c;
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  static const unsigned char kAlpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(c, kAlpn, sizeof kAlpn - 1);
  if (tls.insecure_skip_tls_verify) {
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    X509_STORE* store = SSL_CTX_get_cert_store(c);
    if (!tls.ca_file) {
      if (!system_ca_dir.empty())
        X509_STORE_load_path(store, system_ca_dir.c_str());
      else
        // A missing bundle leaves the store without system CAs: verification then fails
        // with "unable to get local issuer certificate", naming the problem.
        X509_STORE_load_file(store, system_ca_file.c_str());
      ERR_clear_error();
    }
    if (!ca_pem.empty()) {
      // Every chain check first makes sure the configured CAs are in the store, whenever
      // the handshake got to the server's certificate (see handshake()).
      SSL_CTX_set_cert_verify_callback(
          c,
          [](X509_STORE_CTX* sctx, void* arg) -> int {
            if (!static_cast<Impl*>(arg)->ensure_configured_cas()) {
              X509_STORE_CTX_set_error(sctx, X509_V_ERR_UNSPECIFIED);
              return 0;
            }
            return X509_verify_cert(sctx);
          },
          this);
    }
  }
  if (tls.client_cert_file && tls.client_key_file) {
    if (SSL_CTX_use_certificate_chain_file(c, tls.client_cert_file->c_str()) != 1)
      return make_error(Fault::user, "config",
                        "TLS client certificate " + tls.client_cert_file->string() +
                            " cannot be used: " + take_openssl_errors());
    if (SSL_CTX_use_PrivateKey_file(c, tls.client_key_file->c_str(), SSL_FILETYPE_PEM) != 1)
      return make_error(Fault::user, "config",
                        "TLS client key " + tls.client_key_file->string() +
                            " cannot be used: " + take_openssl_errors());
    if (SSL_CTX_check_private_key(c) != 1)
      return make_error(Fault::user, "config",
                        "TLS client key " + tls.client_key_file->string() +
                            " does not match the certificate " + tls.client_cert_file->string());
  }
  return {};
}

Status NativeTransport::Impl::add_configured_cas() {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  BIO* b = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
  STACK_OF(X509_INFO)* infos = b ? PEM_X509_INFO_read_bio(b, nullptr, nullptr, nullptr) : nullptr;
  int added = 0;
  if (infos) {
    for (int i = 0; i < sk_X509_INFO_num(infos); ++i) {
      X509_INFO* inf = sk_X509_INFO_value(infos, i);
      if (inf->x509 && X509_STORE_add_cert(store, inf->x509) == 1) ++added;
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
  }
  BIO_free(b);
  ERR_clear_error();
  const auto& tls = o.tls;
  if (added == 0)
    return make_error(Fault::user, "config",
                      "no CA certificate could be read from " +
                          (tls.ca_file ? tls.ca_file->string() : tls.ca_dir->string()));
  return {};
}

Status NativeTransport::Impl::handshake(Conn& c, const NativeUrl& u, Timer& t,
                                        const std::string& what) {
  auto ctxr = tls_context();
  if (!ctxr) return std::unexpected(ctxr.error());
  c.ssl = SSL_new(*ctxr);
  BIO* bio = c.ssl ? BIO_new(nosigpipe_socket_method()) : nullptr;
  if (!bio)
    return make_error(Fault::bug, "openssl",
                      what + ": cannot set up TLS: " + take_openssl_errors());
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(c.fd)));
  SSL_set_bio(c.ssl, bio, bio);
  if (!u.ip_literal) SSL_set_tlsext_host_name(c.ssl, u.host.c_str());
  if (!o.tls.insecure_skip_tls_verify) {
    X509_VERIFY_PARAM* vp = SSL_get0_param(c.ssl);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = u.ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(vp, u.host.c_str())
                          : X509_VERIFY_PARAM_set1_host(vp, u.host.c_str(), u.host.size());
    if (ok != 1) return make_error(Fault::bug, "openssl", what + ": cannot set the host to verify");
  }
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int r = SSL_connect(c.ssl);
    if (r == 1) return {};
    int saved = errno;
    int err = SSL_get_error(c.ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      // The ClientHello is out: add the configured CAs while the server answers. (Should
      // its certificate already have been processed, the verify callback added them.)
      if (uses_configured_cas())
        if (auto s = ensure_configured_cas(); !s) return s;
      if (auto s = wait_fd(c.fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, t, what); !s)
        return s;
      continue;
    }
    // A CA file that held no certificate is the user's problem, not a TLS failure (asked
    // through the once-step: another connection may be adding the CAs right now).
    if (uses_configured_cas())
      if (auto s = ensure_configured_cas(); !s) return s;
    return make_error(Fault::remote, "network", what + ": " + tls_failure(c.ssl, r, saved));
  }
}

Result<std::unique_ptr<Conn>> NativeTransport::Impl::connect(const NativeUrl& u,
                                                             const std::string& key, Timer& t,
                                                             const std::string& what) {
  t.phase = Clock::now() + o.connect_timeout;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  hints.ai_flags = u.ip_literal ? AI_NUMERICHOST : 0;
  addrinfo* res = nullptr;
  std::string port = std::to_string(u.port);
  if (int rc = ::getaddrinfo(u.host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return make_error(Fault::remote, "network",
                      what + ": could not resolve host " + u.host + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, &::freeaddrinfo);
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    auto c = std::make_unique<Conn>();
    c->key = key;
    c->fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
      last_error = errno_text(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    int r = ::connect(c->fd, ai->ai_addr, ai->ai_addrlen);
    if (r != 0 && errno != EINPROGRESS) {
      last_error = errno_text(errno);
      continue;
    }
    if (r != 0) {
      if (auto s = wait_fd(c->fd, POLLOUT, t, what); !s) return std::unexpected(s.error());
      int soerr = 0;
      socklen_t len = sizeof soerr;
      ::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      if (soerr != 0) {
        last_error = errno_text(soerr);
        continue;
      }
    }
    if (u.tls)
      if (auto s = handshake(*c, u, t, what); !s) return std::unexpected(s.error());
    t.phase = Clock::time_point::max();
    return c;
  }
  return make_error(Fault::remote, "network",
                    what + ": cannot connect to " + u.host_header + ": " + last_error);
}

std::unique_ptr<Conn> NativeTransport::Impl::take_idle(const std::string& key) {
  std::unique_ptr<Conn> c;
  {
    std::lock_guard lk(pool_mu);
    for (auto it = idle.rbegin(); it != idle.rend(); ++it)
      if ((*it)->key == key) {
        c = std::move(*it);
        idle.erase(std::next(it).base());
        break;
      }
  }
  if (!c) return c;
  // An idle connection with something to read has been closed by the server (or it sent
  // bytes nobody asked for): not reusable.
  pollfd p{c->fd, POLLIN, 0};
  if (::poll(&p, 1, 0) != 0) return nullptr;
  return c;
}

void NativeTransport::Impl::put_idle(std::unique_ptr<Conn> c) {
  std::lock_guard lk(pool_mu);
  if (idle.size() >= kMaxPooledHandles) idle.erase(idle.begin());
  idle.push_back(std::move(c));
}

Exchange NativeTransport::Impl::exchange(Conn& c, const HttpRequest& req, const std::string& wire,
                                         Timer& t, const std::string& what) {
  if (auto s = write_all(c, wire, t, what); !s) {
    Exchange ex;
    ex.result = std::unexpected(s.error());
    ex.stale = Clock::now() < t.next();
    return ex;
  }
  std::string buf;
  Exchange ex = read_response(c, req, t, what, buf);
  // Bytes beyond the answer were never asked for: the connection is not reused.
  ex.keep_alive = ex.keep_alive && buf.empty();
  return ex;
}

Exchange NativeTransport::Impl::read_response(Conn& c, const HttpRequest& req, Timer& t,
                                              const std::string& what, std::string& buf) {
  Exchange ex;
  Collect col;
  col.req = &req;
  col.opts = &o;
  std::optional<Parser> p;
  auto fresh_parser = [&] {
    p.emplace(col);
    p->header_limit(static_cast<std::uint32_t>(kMaxResponseHeaderBytes));
    // The cap is Collect's. (Not boost::none: Boost 1.74's parser compares a Content-Length
    // with the optional limit, and any number is greater than none.)
    p->body_limit(std::numeric_limits<std::uint64_t>::max());
    p->eager(true);
    if (req.method == "HEAD") p->skip(true);
  };
  fresh_parser();
  // Not zero-filled: only what a read writes is touched (a TLS read fills one record at most).
  auto chunk = std::make_unique_for_overwrite<char[]>(kReadChunkBytes);
  // Bytes of this answer seen: carried-over ones from a pipelined predecessor count.
  bool got_any = !buf.empty();
  auto fail = [&](Error e) {
    ex.result = std::unexpected(std::move(e));
    return ex;
  };
  auto parse_error = [&](const beast::error_code& ec) -> Error {
    if (col.sink_error) return *col.sink_error;
    if (col.cap_exceeded)
      return Error{
          Fault::remote, "too_large",
          what + ": response body exceeds the limit of " + std::to_string(col.cap) + " bytes"};
    if (ec == bhttp::error::header_limit)
      return Error{Fault::remote, "too_large",
                   what + ": response headers exceed the limit of " +
                       std::to_string(kMaxResponseHeaderBytes) + " bytes"};
    return Error{Fault::remote, "network", what + ": malformed HTTP response: " + ec.message()};
  };
  for (;;) {
    while (!buf.empty() && !p->is_done()) {
      beast::error_code ec;
      std::size_t n = p->put(boost::asio::const_buffer(buf.data(), buf.size()), ec);
      buf.erase(0, n);
      if (ec == bhttp::error::need_more) break;
      if (ec) return fail(parse_error(ec));
    }
    if (p->is_done()) {
      // An interim answer (100 Continue, 103 Early Hints): the real one follows.
      if (col.resp.status >= 100 && col.resp.status < 200 && col.resp.status != 101) {
        fresh_parser();
        continue;
      }
      break;
    }
    auto n = read_some(c, chunk.get(), kReadChunkBytes, t, what);
    if (!n) {
      // A reset before any answer (not a deadline passing) is what a closed idle connection
      // looks like.
      ex.stale = !got_any && Clock::now() < t.next();
      return fail(n.error());
    }
    if (*n == 0) {
      if (!got_any) {
        ex.stale = true;
        return fail(Error{Fault::remote, "network",
                          what + ": the server closed the connection without answering"});
      }
      beast::error_code ec;
      p->put_eof(ec);
      if (ec)
        return fail(Error{Fault::remote, "network",
                          what + ": connection closed before the response was complete"});
      if (c.unclean_eof)
        return fail(Error{Fault::remote, "network",
                          what + ": TLS connection closed without close_notify before the end "
                                 "of a body delimited by the connection's end (may be "
                                 "truncated)"});
      break;
    }
    got_any = true;
    buf.append(chunk.get(), *n);
  }
  col.start_body();
  ex.keep_alive = p->keep_alive() && !c.unclean_eof;
  ex.result = std::move(col.resp);
  return ex;
}

NativeTransport::NativeTransport(const HttpClientOptions& options, std::string ca_pem)
    : impl_(std::make_unique<Impl>()) {
  impl_->o = options;
  impl_->ca_pem = std::move(ca_pem);
}

NativeTransport::~NativeTransport() = default;

namespace {

// The request head (and body). Host, User-Agent and Accept unless the caller set them, as
// libcurl adds them; a body-bearing method always says its length.
std::string request_wire(const HttpRequest& req, const NativeUrl& u, const HttpClientOptions& o) {
  std::string wire = req.method + " " + u.target + " HTTP/1.1\r\n";
  if (!req.headers.contains("Host")) wire += "Host: " + u.host_header + "\r\n";
  if (!req.headers.contains("User-Agent") && !o.user_agent.empty())
    wire += "User-Agent: " + o.user_agent + "\r\n";
  if (!req.headers.contains("Accept")) wire += "Accept: */*\r\n";
  for (const auto& [name, value] : req.headers.entries()) {
    wire += name;
    wire += value.empty() ? ":\r\n" : ": " + value + "\r\n";
  }
  bool send_body =
      req.method == "POST" || req.method == "PUT" || req.method == "PATCH" || !req.body.empty();
  if (send_body && !req.headers.contains("Content-Length") &&
      !req.headers.contains("Transfer-Encoding"))
    wire += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  wire += "\r\n";
  if (send_body) wire += req.body;
  return wire;
}

std::string connection_key(const NativeUrl& u) {
  return (u.tls ? "https://" : "http://") + u.host_header;
}

}  // namespace

Result<HttpResponse> NativeTransport::perform(const HttpRequest& req, const NativeUrl& u,
                                              const std::string& url) const {
  auto& im = *impl_;
  std::string what = req.method + " " + redact_url(url);
  std::string wire = request_wire(req, u, im.o);
  std::string key = connection_key(u);
  Timer t(im.o);
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Conn> c = im.take_idle(key);
    bool reused = c != nullptr;
    if (!c) {
      auto nc = im.connect(u, key, t, what);
      if (!nc) return std::unexpected(nc.error());
      c = std::move(*nc);
    }
    Exchange ex = im.exchange(*c, req, wire, t, what);
    // A kept-alive connection the server closed meanwhile: once more on a new one.
    if (!ex.result && ex.stale && reused && attempt == 0) continue;
    if (!ex.result) return ex.result;
    if (ex.keep_alive) im.put_idle(std::move(c));
    ex.result->url = url;
    return ex.result;
  }
}

std::vector<Result<HttpResponse>> NativeTransport::perform_pipelined(
    const std::vector<PipelinedRequest>& reqs) const {
  auto& im = *impl_;
  std::vector<Result<HttpResponse>> out;
  if (reqs.empty()) return out;
  const NativeUrl& first = *reqs.front().u;
  std::string key = connection_key(first);
  std::string wire;
  for (const auto& r : reqs) wire += request_wire(*r.req, *r.u, im.o);
  std::string what0 = reqs.front().req->method + " " + redact_url(*reqs.front().url);
  auto not_answered = [](const PipelinedRequest& r, const std::string& why) -> Error {
    return Error{Fault::remote, "not_answered",
                 r.req->method + " " + redact_url(*r.url) +
                     ": not answered on the pipelined connection (" + why + ")"};
  };
  for (int attempt = 0;; ++attempt) {
    out.clear();
    Timer t(im.o);
    std::unique_ptr<Conn> c = im.take_idle(key);
    bool reused = c != nullptr;
    if (!c) {
      auto nc = im.connect(first, key, t, what0);
      if (!nc) {
        out.assign(reqs.size(), std::unexpected(nc.error()));
        return out;
      }
      c = std::move(*nc);
    }
    // Every request head at once (a few hundred bytes each, so the write cannot block on
    // a server that answers before reading on), then the answers in the order asked.
    if (auto s = write_all(*c, wire, t, what0); !s) {
      if (reused && attempt == 0 && Clock::now() < t.next()) continue;
      out.assign(reqs.size(), std::unexpected(s.error()));
      return out;
    }
    std::string buf;
    bool open = true;
    std::string why;
    for (std::size_t i = 0; i < reqs.size(); ++i) {
      const auto& r = reqs[i];
      if (!open) {
        out.push_back(std::unexpected(not_answered(r, why)));
        continue;
      }
      Timer rt(im.o);  // each answer gets a normal request's deadlines
      std::string what = r.req->method + " " + redact_url(*r.url);
      Exchange ex = im.read_response(*c, *r.req, rt, what, buf);
      if (!ex.result) {
        // The kept-alive connection was closed before the first answer began: the whole
        // pipeline once more on a new connection, as perform() resends one request.
        if (i == 0 && ex.stale && reused && attempt == 0) break;
        open = false;
        why = i == 0
                  ? ex.result.error().message
                  : "reading the answer to an earlier request failed: " + ex.result.error().message;
        // A failure before any byte of this answer is reported as not answered (the caller
        // may ask again); one during it is this request's own error.
        out.push_back(ex.stale && i > 0 ? Result<HttpResponse>(std::unexpected(not_answered(
                                              r, "the connection ended before its answer")))
                                        : std::move(ex.result));
        continue;
      }
      ex.result->url = *r.url;
      out.push_back(std::move(ex.result));
      if (!ex.keep_alive) {
        open = false;
        why = "the server closed the connection after an earlier answer";
      }
    }
    if (out.size() < reqs.size()) continue;  // the stale-connection resend above
    // Reused only when every answer arrived and nothing unasked-for follows.
    if (open && buf.empty()) im.put_idle(std::move(c));
    return out;
  }
}

}  // namespace docket::net::detail
