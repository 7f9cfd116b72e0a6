#include "net/http_server.h"

#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <array>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>

#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cassert>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <list>
#include <mutex>
#include <random>
#include <thread>

#include "common/file.h"
#include "common/log.h"

namespace docket::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

namespace {

constexpr std::size_t kStreamChunk = 1 << 20;  // body piece handed to a RequestBodySink
constexpr std::size_t kBufferedChunk = 64 << 10;
constexpr std::size_t kTlsFileChunk = 256 << 10;
// Largest in-memory body sent over TLS in the same write as the response head.
constexpr std::size_t kTlsCoalesceBytes = 8 << 10;
constexpr std::size_t kParserReadBuffer = 64 << 10;  // Beast reads at most this much per call
// The most of a body read and dropped for a request answered without reading it (401/403
// from a middleware, 404, 405, a streaming handler's refusal): see handle_one.
constexpr std::uint64_t kMaxRefusedBodyDrainBytes = 256 << 10;

const std::string& http_date() {
  thread_local std::time_t last = 0;
  thread_local std::string cached;
  std::time_t now = std::time(nullptr);
  if (now != last) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached.assign(buf, n);
    last = now;
  }
  return cached;
}

std::string new_request_id() {
  thread_local std::mt19937_64 rng([] {
    std::string seed = random_bytes(8);
    std::uint64_t v = 0;
    std::memcpy(&v, seed.data(), sizeof v);
    return v;
  }());
  static const char* hex = "0123456789abcdef";
  std::uint64_t v = rng();
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[i] = hex[v & 15];
  return out;
}

bool status_has_no_body(unsigned status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

std::string serialize_head(const Response& res, unsigned version, bool keep_alive,
                           std::uint64_t content_length, const std::string& server) {
  std::string out;
  out.reserve(512);  // the body is written from its own buffer, never appended here
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(res.status);
  out += ' ';
  auto reason = http::obsolete_reason(static_cast<http::status>(res.status));
  out.append(reason.data(), reason.size());
  out += "\r\n";
  for (const auto& f : res.headers) {
    if (f.name() == http::field::content_length || f.name() == http::field::connection ||
        f.name() == http::field::transfer_encoding)
      continue;
    out.append(f.name_string().data(), f.name_string().size());
    out += ": ";
    out.append(f.value().data(), f.value().size());
    out += "\r\n";
  }
  out += "Date: ";
  out += http_date();
  out += "\r\nServer: ";
  out += server;
  out += "\r\n";
  if (!status_has_no_body(res.status)) {
    out += "Content-Length: ";
    out += std::to_string(content_length);
    out += "\r\n";
  }
  if (!keep_alive)
    out += "Connection: close\r\n";
  else if (version == 10)
    out += "Connection: keep-alive\r\n";
  out += "\r\n";
  return out;
}

struct Conn {
  bool busy = false;
  std::function<void()> cancel;
  std::string client_subject;  // verified client certificate's subject (mutual TLS)
};

// RFC 2253 form of the peer certificate's subject, "" without one.
std::string peer_subject(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (!cert) return "";
  std::string out;
  if (BIO* b = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char* p = nullptr;
    long n = BIO_get_mem_data(b, &p);
    if (n > 0) out.assign(p, static_cast<std::size_t>(n));
    BIO_free(b);
  }
  X509_free(cert);
  return out;
}

}  // namespace

struct HttpServer::Impl {
  ServerOptions opts;
  const Router& router;
  struct Worker {
    asio::io_context ctx{1};
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
    std::list<Conn*> conns;  // touched only on ctx's thread
  };
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  // Declared after `workers`, so destroyed (stopped and joined) before them: work running
  // there resumes a coroutine of a worker's io_context.
  std::optional<asio::thread_pool> blocking;
  std::optional<tcp::acceptor> acceptor;
  std::optional<ssl::context> tls;
  std::atomic<bool> stopping{false};
  std::atomic<bool> stopped{false};
  std::atomic<std::uint64_t> open{0}, total{0}, requests{0};
  std::uint16_t bound_port = 0;
  std::size_t next_worker = 0;
  std::thread stopper;
  std::mutex mu;
  std::condition_variable cv;

  Impl(ServerOptions o, const Router& r) : opts(std::move(o)), router(r) {}

  awaitable<void> accept_loop();
  awaitable<void> connection(Worker& w, tcp::socket sock, std::string remote);
  template <class Stream>
  awaitable<void> session(Worker& w, Stream& stream, std::string remote, bool is_tls);
  template <class Stream>
  awaitable<bool> handle_one(Stream& stream, beast::flat_buffer& buf, Conn& conn,
                             const std::string& remote, bool is_tls, bool first);
  template <class Stream>
  awaitable<void> write_with_deadline(Stream& stream, std::string_view bytes,
                                      boost::system::error_code& ec);
  template <class Stream>
  awaitable<std::uint64_t> send_response(Stream& stream, Response& res, unsigned version,
                                         bool keep_alive, bool is_head, bool is_tls,
                                         boost::system::error_code& ec);
};

awaitable<void> HttpServer::Impl::accept_loop() {
  for (;;) {
    Worker& w = *workers[next_worker++ % workers.size()];
    boost::system::error_code ec;
    tcp::socket sock =
        co_await acceptor->async_accept(w.ctx, asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (stopping || ec == asio::error::operation_aborted) co_return;
      // EMFILE and friends: back off briefly rather than spin.
      log::warn("accept failed", {{"error", ec.message()}});
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    if (open.load() >= opts.max_connections) {
      sock.close(ec);
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);
    std::string remote;
    auto ep = sock.remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string();
    ++open;
    ++total;
    asio::co_spawn(w.ctx, connection(w, std::move(sock), std::move(remote)), asio::detached);
  }
}

// A member coroutine, its arguments by value: the frame owns all it uses. co_spawn runs it
// only after the accept loop has moved on (it posts first), and under a burst after the
// loop has accepted more connections; a capturing lambda coroutine read its captures from
// the dead lambda then, registering in another worker's connection list (a data race on
// that std::list, which corrupted the heap) and copying a freed peer address.
awaitable<void> HttpServer::Impl::connection(Worker& w, tcp::socket sock, std::string remote) {
  if (tls) {
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(sock)), *tls);
    co_await session(w, stream, std::move(remote), true);
  } else {
    beast::tcp_stream stream(std::move(sock));
    co_await session(w, stream, std::move(remote), false);
  }
}

template <class Stream>
awaitable<void> HttpServer::Impl::session(Worker& w, Stream& stream, std::string remote,
                                          bool is_tls) {
  // Worker::conns is touched only on its worker's thread.
  assert(w.ctx.get_executor().running_in_this_thread());
  Conn conn;
  auto& lowest = beast::get_lowest_layer(stream);
  conn.cancel = [&lowest] {
    boost::system::error_code ec;
    lowest.socket().shutdown(tcp::socket::shutdown_receive, ec);
    lowest.cancel();
  };
  w.conns.push_back(&conn);
  auto it = std::prev(w.conns.end());
  try {
    bool ok = true;
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      boost::system::error_code ec;
      lowest.expires_after(opts.header_timeout);
      co_await stream.async_handshake(ssl::stream_base::server,
                                      asio::redirect_error(use_awaitable, ec));
      if (ec)
        ok = false;
      else if (!opts.tls_client_ca_file.empty())
        conn.client_subject = peer_subject(stream.native_handle());
    }
    beast::flat_buffer buf;
    bool first = true;
    while (ok && !stopping) {
      ok = co_await handle_one(stream, buf, conn, remote, is_tls, first);
      first = false;
    }
    boost::system::error_code ec;
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      if (ok || stopping) {
        lowest.expires_after(std::chrono::seconds(2));
        co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
      }
    }
    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
    lowest.socket().close(ec);
  } catch (const std::exception& e) {
    log::error("connection failed", {{"error", e.what()}, {"remote", remote}});
  }
  w.conns.erase(it);
  if (--open == 0 && stopping) {
    std::lock_guard lk(mu);
    cv.notify_all();
  }
}

// Writes `bytes` whole, failing with timed_out when that takes longer than write_timeout
// (the caller has turned the stream's own per-operation timeout off). The timer's handler
// may run after the write finished (both completions queued at once): `armed` tells it the
// deadline no longer applies, so it never cancels a later exchange on the connection.
template <class Stream>
awaitable<void> HttpServer::Impl::write_with_deadline(Stream& stream, std::string_view bytes,
                                                      boost::system::error_code& ec) {
  auto& sock = beast::get_lowest_layer(stream).socket();
  auto armed = std::make_shared<bool>(true);
  auto fired = std::make_shared<bool>(false);
  asio::steady_timer timer(sock.get_executor(), opts.write_timeout);
  timer.async_wait([armed, fired, &sock](boost::system::error_code e) {
    if (e || !*armed) return;
    *fired = true;
    boost::system::error_code ig;
    sock.cancel(ig);
  });
  co_await asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()),
                             asio::redirect_error(use_awaitable, ec));
  *armed = false;
  timer.cancel();
  if (*fired && !ec) ec = asio::error::timed_out;
}

template <class Stream>
awaitable<std::uint64_t> HttpServer::Impl::send_response(Stream& stream, Response& res,
                                                         unsigned version, bool keep_alive,
                                                         bool is_head, bool is_tls,
                                                         boost::system::error_code& ec) {
  auto& lowest = beast::get_lowest_layer(stream);
  std::uint64_t length = res.body_length();
  if (is_head && res.head_content_length) length = *res.head_content_length;
  std::string head = serialize_head(res, version, keep_alive, length, opts.server_header);
  lowest.expires_after(opts.write_timeout);
  bool send_body = !is_head && !status_has_no_body(res.status);
  if (!send_body || !res.file) {
    std::string_view body = send_body ? res.body_view() : std::string_view{};
    if (is_tls && body.size() > kTlsCoalesceBytes) {
      // Over TLS, a two-buffer write whose second buffer is large stalled after the head
      // (beast's ssl_stream never sent the body): large bodies go as their own write.
      co_await asio::async_write(stream, asio::buffer(head),
                                 asio::redirect_error(use_awaitable, ec));
      if (ec) co_return 0;
      // One deadline per piece of kTlsFileChunk bytes instead of the stream's per-operation
      // timeout, which re-armed a timer (a timerfd_settime) for every TLS record.
      std::uint64_t sent = head.size();
      lowest.expires_never();
      while (!body.empty()) {
        auto piece = body.substr(0, kTlsFileChunk);
        co_await write_with_deadline(stream, piece, ec);
        if (ec) co_return sent;
        sent += piece.size();
        body.remove_prefix(piece.size());
      }
      co_return sent;
    }
    std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
    co_await asio::async_write(stream, bufs, asio::redirect_error(use_awaitable, ec));
    co_return ec ? 0 : head.size() + body.size();
  }
  co_await asio::async_write(stream, asio::buffer(head), asio::redirect_error(use_awaitable, ec));
  if (ec) co_return 0;
  std::uint64_t sent = head.size();
  const FileBody& fb = *res.file;
  off_t off = static_cast<off_t>(fb.offset);
  std::uint64_t remaining = fb.length;
  if (!is_tls) {
    auto& sock = lowest.socket();
    sock.native_non_blocking(true, ec);
    if (ec) co_return sent;
    while (remaining > 0) {
      ssize_t n = ::sendfile(sock.native_handle(), fb.file->fd(), &off,
                             std::min<std::uint64_t>(remaining, 1ull << 30));
      if (n > 0) {
        remaining -= n;
        sent += n;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        // Bound the wait: a client that stops reading loses the connection. As in
        // write_with_deadline, `armed` keeps a timer handler that was already queued when
        // the wait ended from cancelling a later operation (or touching a closed socket).
        asio::steady_timer timer(sock.get_executor(), opts.write_timeout);
        auto timed_out = std::make_shared<bool>(false);
        auto armed = std::make_shared<bool>(true);
        timer.async_wait([timed_out, armed, &sock](boost::system::error_code e) {
          if (!e && *armed) {
            *timed_out = true;
            boost::system::error_code ig;
            sock.cancel(ig);
          }
        });
        co_await sock.async_wait(tcp::socket::wait_write, asio::redirect_error(use_awaitable, ec));
        *armed = false;
        bool expired = *timed_out;
        timer.cancel();
        if (ec || expired) {
          if (!ec) ec = asio::error::timed_out;
          co_return sent;
        }
        continue;
      }
      // n == 0: the file shrank under us; errors: give up on this connection.
      ec = n == 0 ? asio::error::eof
                  : boost::system::error_code(errno, boost::system::system_category());
      co_return sent;
    }
    co_return sent;
  }
  std::vector<char> chunk(std::min<std::uint64_t>(kTlsFileChunk, remaining));
  while (remaining > 0) {
    ssize_t n =
        ::pread(fb.file->fd(), chunk.data(), std::min<std::uint64_t>(chunk.size(), remaining), off);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      ec = asio::error::eof;
      co_return sent;
    }
    lowest.expires_after(opts.write_timeout);
    co_await asio::async_write(stream, asio::buffer(chunk.data(), n),
                               asio::redirect_error(use_awaitable, ec));
    if (ec) co_return sent;
    off += n;
    remaining -= n;
    sent += n;
  }
  co_return sent;
}

// Returns whether the connection may serve another request.
template <class Stream>
awaitable<bool> HttpServer::Impl::handle_one(Stream& stream, beast::flat_buffer& buf, Conn& conn,
                                             const std::string& remote, bool is_tls, bool first) {
  auto& lowest = beast::get_lowest_layer(stream);
  http::request_parser<http::buffer_body> parser;
  parser.header_limit(opts.max_header_bytes);
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());  // limits are per route
  boost::system::error_code ec;
  conn.busy = false;
  lowest.expires_after(first ? opts.header_timeout : opts.idle_timeout);
  co_await http::async_read_header(stream, buf, parser, asio::redirect_error(use_awaitable, ec));
  conn.busy = true;
  if (ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec.category() == asio::error::get_ssl_category() ||
        stopping)
      co_return false;
    // Malformed request: answer and close (never a 500 for bad input).
    Response res;
    unsigned status = ec == http::error::header_limit ? 431 : 400;
    res.set(status, "text/plain",
            status == 431 ? "request header too large\n"
                          : "malformed HTTP request: " + ec.message() + "\n");
    boost::system::error_code wec;
    co_await send_response(stream, res, 11, false, false, is_tls, wec);
    co_return false;
  }
  ++requests;
  auto started = std::chrono::steady_clock::now();
  auto& hdr = parser.get();
  Request req;
  req.received_at = started;
  req.method = hdr.method();
  req.method_string = std::string(hdr.method_string());
  req.target = std::string(hdr.target());
  auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) {
    req.raw_query = req.target.substr(q + 1);
    req.query = parse_query(req.raw_query);
  }
  req.version = hdr.version();
  req.headers = hdr.base();
  req.remote_address = remote;
  req.tls = is_tls;
  req.tls_client_subject = conn.client_subject;
  req.request_id = new_request_id();
  bool keep_alive = hdr.keep_alive();
  bool is_head = req.method == http::verb::head;

  Response res;
  res.headers.set("X-Request-Id", req.request_id);
  auto m = router.match(req.method, req.path);
  const Route* route = m.route;
  bool proceed = false;
  if (!route) {
    if (!m.allowed.empty()) {
      std::string allow;
      for (auto v : m.allowed) {
        if (!allow.empty()) allow += ", ";
        allow += std::string(http::to_string(v));
      }
      router.method_not_allowed()(req, res);
      res.headers.set(http::field::allow, allow);
    } else {
      router.not_found()(req, res);
    }
  } else {
    req.route = route->name;
    req.params = std::move(m.params);
    req.route_tags = &route->options.tags;
    proceed = true;
    for (const auto& mw : router.middleware()) {
      if (!mw.before) continue;
      try {
        if (!mw.before(req, res)) {
          proceed = false;
          break;
        }
      } catch (const std::exception& e) {
        log::error("middleware failed",
                   {{"middleware", mw.name}, {"error", e.what()}, {"request_id", req.request_id}});
        res = Response{};
        res.set(500, "text/plain", "internal server error\n");
        proceed = false;
        break;
      }
    }
  }

  auto send_continue = [&]() -> awaitable<bool> {
    auto expect = hdr[http::field::expect];
    if (hdr.version() >= 11 && beast::iequals(expect, "100-continue") && !parser.is_done()) {
      static const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
      boost::system::error_code e;
      lowest.expires_after(opts.write_timeout);
      co_await asio::async_write(stream, asio::buffer(cont),
                                 asio::redirect_error(use_awaitable, e));
      co_return !e;
    }
    co_return true;
  };

  // Reads the body in pieces; on_piece returns false to stop. Returns the End reason.
  // Content-Length bodies are read straight from the socket into a piece buffer (large
  // reads, no parser copy); chunked bodies go through Beast's parser. Pieces alternate
  // between two buffers, so a piece stays intact until the next on_piece() returns (the
  // RequestBodySink contract: a sink may finish with a piece in the background while the
  // next one is read).
  std::array<std::vector<char>, 2> chunks;
  std::size_t turn = 0;
  bool body_complete = parser.is_done();
  bool body_taken = false;  // read_body() was called: the body was wanted (or drained)
  auto read_body = [&](std::uint64_t limit, std::size_t chunk_size,
                       const std::function<bool(std::string_view)>& on_piece,
                       RequestBodySink* into = nullptr) -> awaitable<RequestBodySink::End> {
    body_taken = true;
    if (parser.content_length() && limit && *parser.content_length() > limit)
      co_return RequestBodySink::End::too_large;
    if (!co_await send_continue()) co_return RequestBodySink::End::client_error;
    if (parser.is_done()) {
      body_complete = true;
      co_return RequestBodySink::End::complete;
    }
    // No bigger than the body: a 4 KiB PATCH needs no 1 MiB buffer.
    if (!parser.chunked() && parser.content_length())
      chunk_size = static_cast<std::size_t>(std::max<std::uint64_t>(
          1, std::min<std::uint64_t>(chunk_size, *parser.content_length())));
    auto next_chunk = [&]() -> std::vector<char>& {
      auto& c = chunks[turn++ % 2];
      if (c.size() != chunk_size) c.resize(chunk_size);
      return c;
    };
    std::uint64_t total_read = 0;
    if (!parser.chunked() && parser.content_length()) {
      std::uint64_t remaining = *parser.content_length();
      while (remaining > 0) {
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, chunk_size));
        std::span<char> dst = into ? into->read_buffer(want) : std::span<char>{};
        if (dst.empty()) {
          auto& chunk = next_chunk();
          dst = {chunk.data(), std::min(want, chunk.size())};
        } else if (dst.size() > want) {
          dst = dst.first(want);
        }
        std::size_t n = 0;
        if (buf.size() > 0) {
          n = std::min(buf.size(), dst.size());
          asio::buffer_copy(asio::buffer(dst.data(), n), buf.data());
          buf.consume(n);
        } else {
          lowest.expires_after(opts.body_idle_timeout);
          boost::system::error_code rec;
          n = co_await stream.async_read_some(asio::buffer(dst.data(), dst.size()),
                                              asio::redirect_error(use_awaitable, rec));
          if (rec && n == 0) co_return RequestBodySink::End::client_error;
        }
        remaining -= n;
        total_read += n;
        if (limit && total_read > limit) co_return RequestBodySink::End::too_large;
        if (!on_piece({dst.data(), n})) co_return RequestBodySink::End::stopped_by_sink;
      }
      body_complete = true;
      co_return RequestBodySink::End::complete;
    }
    if (buf.capacity() < kParserReadBuffer)
      buf.reserve(kParserReadBuffer);  // else Beast reads 512 B at a time
    while (!parser.is_done()) {
      auto& chunk = next_chunk();
      auto& b = parser.get().body();
      b.data = chunk.data();
      b.size = chunk.size();
      lowest.expires_after(opts.body_idle_timeout);
      boost::system::error_code rec;
      co_await http::async_read(stream, buf, parser, asio::redirect_error(use_awaitable, rec));
      if (rec == http::error::need_buffer) rec = {};
      std::size_t n = chunk.size() - parser.get().body().size;
      if (n > 0) {
        total_read += n;
        if (limit && total_read > limit) co_return RequestBodySink::End::too_large;
        if (!on_piece({chunk.data(), n})) co_return RequestBodySink::End::stopped_by_sink;
      } else {
        --turn;  // nothing landed in it: use the same buffer again
      }
      if (rec) co_return RequestBodySink::End::client_error;
    }
    body_complete = true;
    co_return RequestBodySink::End::complete;
  };

  // Runs fn here, or on the blocking pool for routes marked blocking (the coroutine
  // resumes on this connection's thread afterwards; exceptions propagate).
  auto run_handler = [&](const std::function<void()>& fn) -> awaitable<void> {
    if (!route->options.blocking || !blocking) {
      fn();
      co_return;
    }
    co_await asio::co_spawn(
        blocking->get_executor(),
        [&fn]() -> awaitable<void> {
          fn();
          co_return;
        },
        use_awaitable);
  };

  bool client_gone = false;
  if (proceed) {
    try {
      if (route->stream_handler) {
        std::unique_ptr<RequestBodySink> sink;
        co_await run_handler([&] { sink = route->stream_handler(req, res); });
        if (sink) {
          auto end = co_await read_body(
              route->options.max_body, kStreamChunk,
              [&](std::string_view p) { return sink->write(p); }, sink.get());
          if (end == RequestBodySink::End::client_error) client_gone = true;
          if (end == RequestBodySink::End::too_large) {
            res.close = true;
          }
          co_await run_handler([&] { sink->finish(end, req, res); });
        }
      } else {
        std::uint64_t limit = route->options.max_body;
        auto end = co_await read_body(limit, kBufferedChunk, [&](std::string_view p) {
          req.body.append(p);
          return true;
        });
        if (end == RequestBodySink::End::complete) {
          co_await run_handler([&] { route->handler(req, res); });
        } else if (end == RequestBodySink::End::too_large) {
          res.set(413, "text/plain",
                  "request body larger than " + std::to_string(limit) + " bytes\n");
          res.close = true;
        } else {
          client_gone = true;
        }
      }
    } catch (const Exception& e) {
      log::error("handler failed",
                 {{"route", req.route}, {"error", e.what()}, {"request_id", req.request_id}});
      res = Response{};
      res.set(500, "text/plain", "internal server error (request " + req.request_id + ")\n");
    } catch (const std::exception& e) {
      log::error("handler failed",
                 {{"route", req.route}, {"error", e.what()}, {"request_id", req.request_id}});
      res = Response{};
      res.set(500, "text/plain", "internal server error (request " + req.request_id + ")\n");
    }
  }
  // A request answered without its body being read (refused before any handler:
  // authentication, no such route, wrong method; or a streaming handler that answered
  // without taking the body: a registry 416, a mount) has that body still unread. A small
  // one is read and dropped: closing a connection with unread data makes the kernel reset
  // it, and the reset can overtake the answer the client has not read yet (it sees
  // "connection reset" instead of the 401 that would have sent it for a token, say); the
  // connection also stays usable. A larger body, one that fails or outgrows the limit while
  // being read, or one the client holds back until it hears 100 Continue (it must not be
  // invited), still means closing.
  if (!body_taken && !body_complete && !stopping &&
      !(hdr.version() >= 11 && beast::iequals(hdr[http::field::expect], "100-continue"))) {
    auto end = co_await read_body(kMaxRefusedBodyDrainBytes, kBufferedChunk,
                                  [](std::string_view) { return true; });
    if (end == RequestBodySink::End::client_error) client_gone = true;
  }
  if (!res.headers.count("X-Request-Id")) res.headers.set("X-Request-Id", req.request_id);
  // Unread body bytes would be parsed as the next request: close instead.
  if (!body_complete || res.close || stopping || client_gone) keep_alive = false;
  std::uint64_t sent = 0;
  if (!client_gone) {
    boost::system::error_code wec;
    sent = co_await send_response(stream, res, req.version, keep_alive, is_head, is_tls, wec);
    if (wec) keep_alive = false;
  }
  auto elapsed = std::chrono::steady_clock::now() - started;
  for (const auto& mw : router.middleware()) {
    if (!mw.after) continue;
    try {
      mw.after(req, res, sent, elapsed);
    } catch (...) {
    }
  }
  co_return keep_alive;
}

HttpServer::HttpServer(ServerOptions opts, const Router& router)
    : impl_(std::make_unique<Impl>(std::move(opts), router)) {}

HttpServer::~HttpServer() {
  if (!impl_->threads.empty()) {
    stop();
    wait();
  }
}

Status HttpServer::start() {
  auto& s = *impl_;
  // sendfile(2) to a peer that has gone raises SIGPIPE (no MSG_NOSIGNAL for it): a client
  // closing mid-download must cost an EPIPE, not the process.
  ::signal(SIGPIPE, SIG_IGN);
  unsigned n = s.opts.threads ? s.opts.threads : std::max(1u, std::thread::hardware_concurrency());
  s.blocking.emplace(std::max(1u, s.opts.blocking_threads));
  for (unsigned i = 0; i < n; ++i) {
    auto w = std::make_unique<Impl::Worker>();
    w->guard.emplace(w->ctx.get_executor());
    s.workers.push_back(std::move(w));
  }
  if (!s.opts.tls_client_ca_file.empty() && s.opts.tls_cert_file.empty())
    return make_error(Fault::user, "config",
                      "a client CA file (mutual TLS) needs a server certificate and key");
  if (!s.opts.tls_cert_file.empty() || !s.opts.tls_key_file.empty()) {
    if (s.opts.tls_cert_file.empty() || s.opts.tls_key_file.empty())
      return make_error(Fault::user, "config", "TLS needs both a certificate file and a key file");
    try {
      s.tls.emplace(ssl::context::tls_server);
      s.tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
      s.tls->use_certificate_chain_file(s.opts.tls_cert_file.string());
      s.tls->use_private_key_file(s.opts.tls_key_file.string(), ssl::context::pem);
      if (!s.opts.tls_client_ca_file.empty()) {
        // Mutual TLS: the handshake fails without a client certificate chaining to the CA.
        s.tls->load_verify_file(s.opts.tls_client_ca_file.string());
        s.tls->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
        SSL_CTX_set_verify_depth(s.tls->native_handle(), 8);
      }
    } catch (const boost::system::system_error& e) {
      return make_error(Fault::user, "config",
                        "loading TLS certificate " + s.opts.tls_cert_file.string() + " / key " +
                            s.opts.tls_key_file.string() +
                            (s.opts.tls_client_ca_file.empty()
                                 ? ""
                                 : " / client CA " + s.opts.tls_client_ca_file.string()) +
                            ": " + e.what());
    }
  }
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(s.opts.host, ec);
  if (ec)
    return make_error(Fault::user, "config",
                      "listen address '" + s.opts.host + "' is not an IP address");
  tcp::endpoint ep(addr, s.opts.port);
  s.acceptor.emplace(s.workers[0]->ctx);
  s.acceptor->open(ep.protocol(), ec);
  if (!ec) s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(ep, ec);
  if (!ec) s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return make_error(Fault::local, "io",
                      "cannot listen on " + s.opts.host + ":" + std::to_string(s.opts.port) + ": " +
                          ec.message());
  s.bound_port = s.acceptor->local_endpoint().port();
  asio::co_spawn(s.workers[0]->ctx, s.accept_loop(), asio::detached);
  for (auto& w : s.workers) {
    s.threads.emplace_back([ctx = &w->ctx] {
      for (;;) {
        try {
          ctx->run();
          return;
        } catch (const std::exception& e) {
          log::error("I/O thread exception", {{"error", e.what()}});
        }
      }
    });
  }
  return {};
}

std::uint16_t HttpServer::port() const {
  return impl_->bound_port;
}

void HttpServer::stop() {
  auto& s = *impl_;
  if (s.threads.empty() || s.stopping.exchange(true)) return;
  asio::post(s.workers[0]->ctx, [&s] {
    boost::system::error_code ec;
    if (s.acceptor) s.acceptor->close(ec);
  });
  for (auto& w : s.workers) {
    asio::post(w->ctx, [w = w.get()] {
      for (Conn* c : w->conns)
        if (!c->busy) c->cancel();
    });
  }
  s.stopper = std::thread([&s] {
    {
      std::unique_lock lk(s.mu);
      s.cv.wait_for(lk, s.opts.shutdown_grace, [&] { return s.open.load() == 0; });
    }
    for (auto& w : s.workers) {
      asio::post(w->ctx, [w = w.get()] {
        for (Conn* c : w->conns) c->cancel();
      });
    }
    {
      std::unique_lock lk(s.mu);
      s.cv.wait_for(lk, std::chrono::seconds(2), [&] { return s.open.load() == 0; });
    }
    for (auto& w : s.workers) {
      w->guard.reset();
      w->ctx.stop();
    }
  });
}

void HttpServer::wait() {
  auto& s = *impl_;
  for (auto& t : s.threads)
    if (t.joinable()) t.join();
  if (s.stopper.joinable()) s.stopper.join();
  // Handlers still running there finish (their completions stay queued on the stopped
  // contexts and are destroyed with them).
  if (s.blocking) s.blocking->join();
}

HttpServer::Stats HttpServer::stats() const {
  return {impl_->open.load(), impl_->total.load(), impl_->requests.load()};
}

void run_until_signal(HttpServer& server) {
  asio::io_context ctx(1);
  asio::signal_set sigs(ctx, SIGINT, SIGTERM);
  sigs.async_wait([&](boost::system::error_code ec, int sig) {
    if (!ec) log::info("signal received, shutting down", {{"signal", sig}});
    server.stop();
  });
  ctx.run();
  server.wait();
}

}  // namespace docket::net
