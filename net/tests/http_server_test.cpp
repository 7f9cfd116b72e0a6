// Starts the real server on a free loopback port and talks HTTP/1.1 to it over sockets.
#include "net/http_server.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <algorithm>
#include <cstring>
#include <span>
#include <sstream>

#include <fcntl.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <filesystem>
#include <fstream>

#include "common/digest.h"
#include "common/file.h"
#include "net/http_client.h"

using namespace docket;
using namespace docket::net;
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

class Sink : public RequestBodySink {
 public:
  bool write(std::string_view p) override {
    h.update(p);
    n += p.size();
    pieces++;
    return n <= 8 * 1024 * 1024;
  }
  void finish(End end, Request&, Response& res) override {
    if (end == End::complete)
      res.set(201, "text/plain",
              std::to_string(n) + " " +
                  docket::Digest::from_raw(HashAlgorithm::sha256, h.finish()).str());
    else
      res.set(400, "text/plain", "stopped");
  }
  Hasher h{HashAlgorithm::sha256};
  std::uint64_t n = 0;
  int pieces = 0;
};

// Offers its own buffer to receive into (RequestBodySink::read_buffer), in slices of at
// most 3,000 bytes, but not for the last 1,000 bytes (the server's own buffers then);
// checks that each piece it was offered a region for starts there and fits in it.
class InPlaceSink : public RequestBodySink {
 public:
  explicit InPlaceSink(std::size_t size) : store(size, '\0') {}
  std::span<char> read_buffer(std::size_t max) override {
    offered = {};
    if (n + 1000 >= store.size()) return {};
    offered =
        std::span<char>(store).subspan(n, std::min({max, std::size_t{3000}, store.size() - n}));
    return offered;
  }
  bool write(std::string_view p) override {
    if (!offered.empty()) {
      if (p.data() != offered.data() || p.size() > offered.size()) ++misplaced;
      ++in_place;
    } else if (n + p.size() <= store.size()) {
      std::memcpy(store.data() + n, p.data(), p.size());
    }
    n += p.size();
    return n <= store.size();
  }
  void finish(End end, Request&, Response& res) override {
    if (end != End::complete) return res.set(400, "text/plain", "incomplete");
    res.set(201, "text/plain",
            std::to_string(n) + " " + Digest::of(store.substr(0, n)).str() + " " +
                std::to_string(in_place) + " " + std::to_string(misplaced));
  }
  std::string store;
  std::span<char> offered;
  std::size_t n = 0;
  int in_place = 0, misplaced = 0;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() / ("docket-http-" + random_hex_id());
    std::filesystem::create_directories(dir);
    file_content.resize(3 * 1024 * 1024 + 17);
    for (std::size_t i = 0; i < file_content.size(); ++i) file_content[i] = char(i * 7 + (i >> 12));
    ASSERT_TRUE(atomic_write_file(dir / "big", file_content));
    router.add(http::verb::get, "/hello", "hello", [](Request& q, Response& r) {
      r.set(200, "text/plain", "hi " + q.query_param("who").value_or("?"));
    });
    router.add(
        http::verb::put, "/echo", "echo",
        [](Request& q, Response& r) { r.set(200, "text/plain", q.body); },
        RouteOptions{.max_body = 16});
    router.add_stream(
        http::verb::put, "/stream", "stream",
        [](Request&, Response&) { return std::make_unique<Sink>(); }, RouteOptions{.max_body = 0});
    router.add_stream(
        http::verb::put, "/inplace", "inplace",
        [](Request& q, Response&) {
          return std::make_unique<InPlaceSink>(std::stoul(q.header("Content-Length")));
        },
        RouteOptions{.max_body = 0});
    // A streaming handler that answers without taking the body (a registry 416, say).
    router.add_stream(
        http::verb::patch, "/decline", "decline",
        [](Request&, Response& r) -> std::unique_ptr<RequestBodySink> {
          r.set(416, "text/plain", "declined");
          return nullptr;
        },
        RouteOptions{.max_body = 0});
    router.add(http::verb::get, "/file", "file", [this](Request&, Response& r) {
      int fd = ::open((dir / "big").c_str(), O_RDONLY | O_CLOEXEC);
      r.file = FileBody{std::make_shared<FileHandle>(fd), 5, file_content.size() - 5};
    });
    // An in-memory body larger than a TLS record and than beast's 16 KiB write coalescing.
    router.add(http::verb::get, "/bigmem", "bigmem", [this](Request&, Response& r) {
      r.set(200, "application/octet-stream", file_content.substr(0, 200 * 1024 + 3));
    });
    router.add(http::verb::get, "/boom", "boom",
               [](Request&, Response&) { throw std::runtime_error("x"); });
    router.use(Middleware{"deny",
                          [](Request& q, Response& r) {
                            if (q.header("X-Deny").empty()) return true;
                            r.set(401, "text/plain", "denied");
                            return false;
                          },
                          nullptr});
    router.use(Middleware{
        "count", nullptr,
        [this](const Request&, const Response&, std::uint64_t, auto) { ++after_calls; }});
  }
  void start(ServerOptions o = {}) {
    o.port = 0;
    o.threads = 2;
    server = std::make_unique<HttpServer>(o, router);
    auto st = server->start();
    ASSERT_TRUE(st) << st.error().describe();
  }
  void TearDown() override {
    if (server) {
      server->stop();
      server->wait();
    }
    std::filesystem::remove_all(dir);
  }
  tcp::socket connect() {
    tcp::socket s(ioc);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server->port()));
    return s;
  }
  std::string raw(const std::string& req) {
    auto s = connect();
    asio::write(s, asio::buffer(req));
    std::string out;
    boost::system::error_code ec;
    char b[65536];
    for (;;) {
      std::size_t n = s.read_some(asio::buffer(b), ec);
      if (ec) break;
      out.append(b, n);
    }
    return out;
  }
  http::response<http::string_body> send(tcp::socket& s, http::request<http::string_body> req,
                                         bool head = false) {
    req.version(11);
    req.set(http::field::host, "127.0.0.1");
    if (req.body().size() || req.method() == http::verb::put) req.prepare_payload();
    http::write(s, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> p;
    p.body_limit(1 << 30);
    p.skip(head);
    http::read(s, buf, p);
    return p.release();
  }

  std::filesystem::path dir;
  std::string file_content;
  Router router;
  std::unique_ptr<HttpServer> server;
  asio::io_context ioc;
  std::atomic<int> after_calls{0};
};

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  auto s = connect();
  for (int i = 0; i < 3; ++i) {
    auto res = send(s, {http::verb::get, "/hello?who=a%20b", 11});
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_EQ(res.body(), "hi a b");
    EXPECT_FALSE(res[http::field::date].empty());
    EXPECT_EQ(res["X-Request-Id"].size(), 16u);
  }
  EXPECT_EQ(server->stats().connections_total, 1u);
  // after() hooks run once the response is written: wait (bounded) for the last one.
  for (int i = 0; i < 500 && after_calls.load() < 3; ++i) usleep(2000);
  EXPECT_EQ(after_calls.load(), 3);
}

// docket's own client pipelining to docket's server (what a first-use trust lookup does
// against docket-server): the answers come back in order on one connection, large ones
// (a file, a multi-record in-memory body) between small ones.
TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrderOnOneConnection) {
  start();
  HttpClientOptions o;
  o.proxy = "";
  o.transport = HttpTransport::native;
  auto client = HttpClient::create(o);
  ASSERT_TRUE(client) << client.error().describe();
  std::string base = "http://127.0.0.1:" + std::to_string(server->port());
  std::vector<HttpRequest> reqs;
  for (const char* path : {"/hello?who=1", "/file", "/nope", "/bigmem", "/hello?who=2"}) {
    HttpRequest r;
    r.url = base + path;
    reqs.push_back(std::move(r));
  }
  auto answers = client->send_pipelined(reqs);
  ASSERT_EQ(answers.size(), 5u);
  for (const auto& a : answers) ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(answers[0]->body, "hi 1");
  EXPECT_EQ(answers[1]->body, file_content.substr(5));
  EXPECT_EQ(answers[2]->status, 404);
  EXPECT_EQ(answers[3]->body, file_content.substr(0, 200 * 1024 + 3));
  EXPECT_EQ(answers[4]->body, "hi 2");
  EXPECT_EQ(server->stats().connections_total, 1u);
}

TEST_F(ServerTest, NotFoundMethodNotAllowedAndHandlerException) {
  start();
  auto s = connect();
  EXPECT_EQ(send(s, {http::verb::get, "/nope", 11}).result_int(), 404);
  auto r = send(s, {http::verb::delete_, "/hello", 11});
  EXPECT_EQ(r.result_int(), 405);
  EXPECT_EQ(r[http::field::allow], "GET");
  auto b = send(s, {http::verb::get, "/boom", 11});
  EXPECT_EQ(b.result_int(), 500);
  EXPECT_NE(b.body().find(std::string(b["X-Request-Id"])), std::string::npos);
}

TEST_F(ServerTest, BufferedBodyLimitGives413) {
  start();
  auto s = connect();
  http::request<http::string_body> ok{http::verb::put, "/echo", 11};
  ok.body() = "0123456789abcdef";
  auto r = send(s, ok);
  EXPECT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body(), "0123456789abcdef");
  http::request<http::string_body> big{http::verb::put, "/echo", 11};
  big.body() = std::string(17, 'x');
  r = send(s, big);
  EXPECT_EQ(r.result_int(), 413);
  EXPECT_FALSE(r.keep_alive());
}

TEST_F(ServerTest, ChunkedBodyIsStreamedInPieces) {
  start();
  std::string body;
  for (int i = 0; i < 300000; ++i) body += char('a' + i % 26);
  std::string req =
      "PUT /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  for (std::size_t off = 0; off < body.size(); off += 70000) {
    std::string part = body.substr(off, 70000);
    char hex[32];
    snprintf(hex, sizeof hex, "%zx\r\n", part.size());
    req += hex + part + "\r\n";
  }
  req += "0\r\n\r\n";
  auto out = raw(req);
  EXPECT_NE(out.find("HTTP/1.1 201"), std::string::npos) << out.substr(0, 200);
  EXPECT_NE(out.find("300000 " + Digest::of(body).str()), std::string::npos);
}

// A Content-Length body received straight into the sink's own buffer where it offers one:
// the bytes that came with the header included, the pieces start where offered, and the
// body is whole.
TEST_F(ServerTest, ContentLengthBodyIsReceivedIntoTheSinksBufferWhereOffered) {
  start();
  std::string body;
  for (int i = 0; i < 200'003; ++i) body += char(i * 31 + (i >> 9));
  auto s = connect();
  for (int round = 0; round < 2; ++round) {
    std::string req =
        "PUT /inplace HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
        "\r\n\r\n";
    asio::write(s, asio::buffer(req + body.substr(0, 5000)));
    asio::write(s, asio::buffer(body.substr(5000)));
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    ASSERT_EQ(res.result_int(), 201) << res.body();
    std::istringstream in(res.body());
    std::size_t n = 0;
    std::string digest;
    int in_place = -1, misplaced = -1;
    in >> n >> digest >> in_place >> misplaced;
    EXPECT_EQ(n, body.size());
    EXPECT_EQ(digest, Digest::of(body).str());
    EXPECT_GT(in_place, 10);
    EXPECT_EQ(misplaced, 0);
  }
}

TEST_F(ServerTest, ExpectContinueGets100BeforeBody) {
  start();
  auto s = connect();
  std::string head =
      "PUT /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
  asio::write(s, asio::buffer(head));
  char b[64];
  std::size_t n = s.read_some(asio::buffer(b));
  EXPECT_EQ(std::string(b, n), "HTTP/1.1 100 Continue\r\n\r\n");
  asio::write(s, asio::buffer(std::string("hello")));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  EXPECT_EQ(res.result_int(), 201);
  EXPECT_EQ(res.body(), "5 " + Digest::of("hello").str());
}

TEST_F(ServerTest, MiddlewareRefusesBeforeBodyIsRead) {
  start();
  auto s = connect();
  std::string head =
      "PUT /stream HTTP/1.1\r\nHost: x\r\nX-Deny: 1\r\nContent-Length: 100000000\r\nExpect: "
      "100-continue\r\n\r\n";
  asio::write(s, asio::buffer(head));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  EXPECT_EQ(res.result_int(), 401);
  EXPECT_FALSE(res.keep_alive());  // unread body: the server must close
}

// A refusal with a small body already sent (what Go's HTTP client does: headers and body
// in one write, no 100-continue): the body is read and dropped, so the refusal arrives
// intact and the connection serves the next request. Both for a Content-Length body and a
// chunked one; for 404, 405, a middleware's 401 and a streaming handler that answered
// without taking the body.
TEST_F(ServerTest, RefusedRequestsSmallBodyIsDrainedAndTheConnectionKept) {
  start();
  auto s = connect();
  std::string body(100 * 1024, 'b');
  std::string req = "PUT /stream HTTP/1.1\r\nHost: x\r\nX-Deny: 1\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  req +=
      "POST /nope HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
  req += "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
  req += "PATCH /decline HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nbytes";
  req += "GET /hello?who=after HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(s, asio::buffer(req));
  beast::flat_buffer buf;
  for (int want : {401, 404, 405, 416, 200}) {
    http::response<http::string_body> res;
    http::read(s, buf, res);
    EXPECT_EQ(res.result_int(), want);
    EXPECT_TRUE(res.keep_alive()) << want;
    if (want == 200) EXPECT_EQ(res.body(), "hi after");
  }
  EXPECT_EQ(server->stats().connections_total, 1u);
}

// Beyond the drain limit the refusal still closes the connection (the body is not read
// whole), as it does for a client waiting for 100 Continue (MiddlewareRefusesBeforeBodyIsRead).
TEST_F(ServerTest, RefusedRequestsLargeBodyStillCloses) {
  start();
  auto s = connect();
  std::string head = "PUT /stream HTTP/1.1\r\nHost: x\r\nX-Deny: 1\r\nContent-Length: " +
                     std::to_string(512 * 1024) + "\r\n\r\n";
  asio::write(s, asio::buffer(head));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(s, buf, res);
  EXPECT_EQ(res.result_int(), 401);
  EXPECT_FALSE(res.keep_alive());
}

TEST_F(ServerTest, FileResponseAndHead) {
  start();
  auto s = connect();
  auto r = send(s, {http::verb::get, "/file", 11});
  ASSERT_EQ(r.result_int(), 200);
  EXPECT_EQ(r.body().size(), file_content.size() - 5);
  EXPECT_TRUE(r.body() == file_content.substr(5));
  auto h = send(s, {http::verb::head, "/file", 11}, true);
  EXPECT_EQ(h.result_int(), 200);
  EXPECT_EQ(h[http::field::content_length], std::to_string(file_content.size() - 5));
  // The connection is still in sync after HEAD (no body was sent).
  EXPECT_EQ(send(s, {http::verb::get, "/hello", 11}).body(), "hi ?");
}

TEST_F(ServerTest, ClientVanishingMidFileResponseDoesNotKillTheServer) {
  start();
  for (int i = 0; i < 5; ++i) {
    auto s = connect();
    asio::write(s, asio::buffer(std::string("GET /file HTTP/1.1\r\nHost: x\r\n\r\n")));
    char b[100];
    s.read_some(asio::buffer(b));
    s.set_option(asio::socket_base::linger(true, 0));  // RST: the server's sendfile hits EPIPE
    s.close();
  }
  auto s = connect();
  EXPECT_EQ(send(s, {http::verb::get, "/hello", 11}).result_int(), 200);
}

TEST_F(ServerTest, MalformedRequestGets400AndOversizedHeader431) {
  start();
  auto out = raw("GARBAGE\r\n\r\n");
  EXPECT_NE(out.find(" 400 "), std::string::npos) << out;
  ServerOptions o;
  out = raw("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70000, 'a') + "\r\n\r\n");
  EXPECT_NE(out.find(" 431 "), std::string::npos) << out.substr(0, 100);
}

TEST_F(ServerTest, HeaderTimeoutClosesSlowClient) {
  ServerOptions o;
  o.header_timeout = std::chrono::milliseconds(300);
  start(o);
  auto s = connect();
  asio::write(s, asio::buffer(std::string("GET /hello HTTP/1.1\r\n")));
  char b[16];
  boost::system::error_code ec;
  s.read_some(asio::buffer(b), ec);  // returns once the server gives up
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
}

TEST_F(ServerTest, StopClosesIdleConnectionsAndReturns) {
  start();
  auto s = connect();
  EXPECT_EQ(send(s, {http::verb::get, "/hello", 11}).result_int(), 200);
  server->stop();
  server->wait();
  char b[16];
  boost::system::error_code ec;
  s.read_some(asio::buffer(b), ec);
  EXPECT_TRUE(ec);
  server.reset();
}

TEST_F(ServerTest, TlsFromCertAndKeyFiles) {
  std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "
      "/CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      (dir / "key.pem").string() + " -out " + (dir / "cert.pem").string() + " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ServerOptions o;
  o.tls_cert_file = dir / "cert.pem";
  o.tls_key_file = dir / "key.pem";
  start(o);
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file((dir / "cert.pem").string());
  ctx.set_verify_mode(asio::ssl::verify_peer);
  beast::ssl_stream<tcp::socket> st(ioc, ctx);
  st.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server->port()));
  st.handshake(asio::ssl::stream_base::client);
  for (const char* target : {"/hello", "/file", "/bigmem", "/hello"}) {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(st, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> p;
    p.body_limit(1 << 30);
    http::read(st, buf, p);
    EXPECT_EQ(p.get().result_int(), 200);
    if (std::string(target) == "/file") EXPECT_TRUE(p.get().body() == file_content.substr(5));
    if (std::string(target) == "/bigmem")
      EXPECT_TRUE(p.get().body() == file_content.substr(0, 200 * 1024 + 3));
  }
  // A plain-HTTP client gets nothing useful and the server survives.
  auto out = raw("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(out.find("hi"), std::string::npos);
}

// Each connection's coroutine must own what it uses (its worker, the peer's address): it
// first runs after the accept loop has moved on to the next connection. A session that read
// them from the accept loop's per-iteration state (a capturing lambda coroutine, whose
// captures die with the lambda) registered in another worker's connection list, a data race
// that corrupted the heap under connection bursts (a SIGABRT seen in bench/trust.sh), and
// copied a peer address the accept loop had already freed. An IPv4-mapped IPv6 loopback
// address is too long for std::string's inline buffer, so a freed copy is never mistaken
// for a live one (ASan reports the read; without ASan the bytes are the allocator's).
TEST_F(ServerTest, EachConnectionKeepsItsOwnPeerAddressAndWorker) {
  router.add(http::verb::get, "/remote", "remote",
             [](Request& q, Response& r) { r.set(200, "text/plain", q.remote_address); });
  ServerOptions o;
  o.host = "::ffff:127.0.0.1";
  start(o);
  // Sequential connections, then a burst of concurrent ones (the accept loop runs ahead of
  // the sessions it starts on the other worker).
  for (int i = 0; i < 8; ++i) {
    auto s = connect();
    auto res = send(s, {http::verb::get, "/remote", 11});
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_EQ(res.body(), "::ffff:127.0.0.1");
  }
  std::vector<tcp::socket> burst;
  for (int i = 0; i < 64; ++i) burst.push_back(connect());
  for (auto& s : burst) {
    auto res = send(s, {http::verb::get, "/remote", 11});
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_EQ(res.body(), "::ffff:127.0.0.1");
  }
  EXPECT_EQ(server->stats().connections_total, 72u);
}

TEST_F(ServerTest, StartFailsCleanlyOnBadTlsFilesAndBadAddress) {
  ServerOptions o;
  o.port = 0;
  o.tls_cert_file = dir / "missing.pem";
  o.tls_key_file = dir / "missing.key";
  HttpServer s1(o, router);
  auto st = s1.start();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "config");
  ServerOptions o2;
  o2.host = "not-an-ip";
  HttpServer s2(o2, router);
  st = s2.start();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "config");
}

}  // namespace
