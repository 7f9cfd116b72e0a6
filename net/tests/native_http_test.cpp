// What is particular to HttpClient's built-in transport (HttpTransport::native): it never
// loads libcurl, which requests it hands to libcurl, its URL reading, kept-alive connections.
// The shared HTTP and TLS contract is checked by net_http_client_native_test and
// net_http_tls_native_test (the libcurl suites built against this transport).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "common/file.h"
#include "net/curl_dl.h"
#include "net/http_client.h"
#include "net/native_http.h"
#include "net/testing/loopback_server.h"
#include "net/testing/process.h"
#include "net/testing/tls_testing.h"

namespace docket::net {
namespace {

using detail::parse_native_url;
using testing::LoopbackServer;
using testing::RawRequest;
using testing::ServerTls;
using testing::TempDir;

HttpClient native_client(HttpClientOptions o = {}) {
  o.proxy = "";
  o.transport = HttpTransport::native;
  auto c = HttpClient::create(std::move(o));
  if (!c) throw Exception(c.error());
  return std::move(*c);
}

LoopbackServer::Handler echo_target() {
  return [](LoopbackServer::Connection& c) {
    while (auto r = c.read_request()) c.respond(200, {}, "target=" + r->target);
  };
}

// Declared first, so it runs before any test below uses libcurl in this process.
TEST(NativeTransport, NeverLoadsLibcurl) {
  ASSERT_FALSE(detail::curl_library_loaded_in_process())
      << "docket_net must not link libcurl (it is loaded on first use)";
  TempDir dir = TempDir::create("docket-native");
  auto pki = testing::make_test_pki(dir.path());
  ASSERT_TRUE(pki) << pki.error().describe();
  LoopbackServer plain(echo_target());
  LoopbackServer tls(echo_target(), ServerTls{pki->server_cert, pki->server_key, std::nullopt});
  HttpClientOptions o;
  o.tls.ca_file = pki->ca_cert;
  auto client = native_client(o);
  auto a = client.get(plain.url("/a"));
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(a->body, "target=/a");
  auto b = client.get(tls.url("/b?x=1"));
  ASSERT_TRUE(b) << b.error().describe();
  EXPECT_EQ(b->body, "target=/b?x=1");
  HttpRequest post;
  post.method = "POST";
  post.url = tls.url("/c");
  post.body = "form=1";
  auto c = client.send(post);
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_FALSE(detail::curl_library_loaded_in_process());
  auto reqs = tls.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].headers.get("Host"), "127.0.0.1:" + std::to_string(tls.port()));
  EXPECT_EQ(reqs[0].headers.get("User-Agent"), "docket/0.1");
  EXPECT_EQ(reqs[0].headers.get("Accept"), "*/*");
  EXPECT_EQ(reqs[1].method, "POST");
  EXPECT_EQ(reqs[1].headers.get("Content-Length"), "6");
  EXPECT_EQ(reqs[1].body, "form=1");
  // One connection each: the TLS one carried both of its requests.
  EXPECT_EQ(tls.connections_accepted(), 1);
}

TEST(NativeTransport, HandsUserinfoAndStreamedUploadsToLibcurl) {
  LoopbackServer srv([](LoopbackServer::Connection& c) {
    while (auto r = c.read_request())
      c.respond(
          200, {},
          r->headers.get("Authorization").value_or("none") + " " + std::to_string(r->body.size()));
  });
  auto client = native_client();
  // userinfo: libcurl turns it into Basic credentials.
  auto url = "http://alice:pw@127.0.0.1:" + std::to_string(srv.port()) + "/x";
  auto r = client.get(url);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->body, "Basic YWxpY2U6cHc= 0");
  std::string data(100000, 'd');
  std::size_t pos = 0;
  HttpRequest put;
  put.method = "PUT";
  put.url = srv.url("/upload");
  put.reader = [&](std::span<char> buf) -> Result<std::size_t> {
    std::size_t n = std::min(buf.size(), data.size() - pos);
    std::memcpy(buf.data(), data.data() + pos, n);
    pos += n;
    return n;
  };
  put.body_length = data.size();
  r = client.send(put);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->body, "none 100000");
  EXPECT_TRUE(detail::curl_library_loaded_in_process());
}

TEST(NativeTransport, EnvironmentProxyHandsTheRequestToLibcurl) {
  // A "proxy" that answers with the request target it was sent: the absolute form means
  // the request went through the proxy, as libcurl sends it.
  LoopbackServer proxy(echo_target());
  LoopbackServer origin(echo_target());
  const char* old = std::getenv("http_proxy");
  std::string saved = old ? old : "";
  ::setenv("http_proxy", proxy.url("").c_str(), 1);
  HttpClientOptions o;
  o.transport = HttpTransport::native;  // proxy left nullopt: the environment decides
  auto client = HttpClient::create(o);
  ASSERT_TRUE(client);
  auto r = client->get(origin.url("/via"));
  if (old)
    ::setenv("http_proxy", saved.c_str(), 1);
  else
    ::unsetenv("http_proxy");
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->body, "target=" + origin.url("/via"));
  EXPECT_EQ(origin.connections_accepted(), 0);
}

TEST(NativeTransport, ParsesOnlyTheUrlsItServes) {
  auto a = parse_native_url("HTTPS://Trust.Example.COM/v2/x/_trust/tuf/root.json?a=b#frag");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->tls);
  EXPECT_EQ(a->host, "trust.example.com");
  EXPECT_FALSE(a->ip_literal);
  EXPECT_EQ(a->port, 443);
  EXPECT_EQ(a->host_header, "trust.example.com");
  EXPECT_EQ(a->target, "/v2/x/_trust/tuf/root.json?a=b");
  auto b = parse_native_url("http://127.0.0.1:5000");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->ip_literal);
  EXPECT_EQ(b->port, 5000);
  EXPECT_EQ(b->host_header, "127.0.0.1:5000");
  EXPECT_EQ(b->target, "/");
  auto c = parse_native_url("https://[::1]:4443/a%2Fb/../c");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_TRUE(c->ip_literal);
  EXPECT_EQ(c->host_header, "[::1]:4443");
  EXPECT_EQ(c->target, "/a%2Fb/../c");  // verbatim
  auto d = parse_native_url("http://h:80?q");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host_header, "h");
  EXPECT_EQ(d->target, "/?q");
  for (const char* other :
       {"ftp://h/x", "https://user:pw@h/x", "https://[fe80::1%25eth0]/", "https://h:0/",
        "https://h:99999/", "https://h:8x/", "https://bücher.example/", "https://127.1/",
        "https:///x", "relative/path", "https://[::1/"})
    EXPECT_FALSE(parse_native_url(other)) << other;
}

TEST(NativeTransport, ConnectionClosedByServerIsReplacedOnce) {
  // One answer per connection, then the server closes it although the answer said nothing
  // of closing: the next request finds the kept-alive connection dead and is sent again on a
  // new one.
  LoopbackServer srv([](LoopbackServer::Connection& c) {
    if (auto r = c.read_request()) c.respond(200, {}, "target=" + r->target);
  });
  auto client = native_client();
  for (int i = 0; i < 3; ++i) {
    auto r = client.get(srv.url("/" + std::to_string(i)));
    ASSERT_TRUE(r) << i << ": " << r.error().describe();
    EXPECT_EQ(r->body, "target=/" + std::to_string(i));
  }
  EXPECT_EQ(srv.connections_accepted(), 3);
}

TEST(NativeTransport, InterimAnswersChunkedBodiesAndConnectionClose) {
  LoopbackServer srv([](LoopbackServer::Connection& c) {
    while (auto r = c.read_request()) {
      if (r->target == "/interim") {
        c.write(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal");
      } else if (r->target == "/chunked") {
        c.write(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n");
      } else {
        c.respond(200, {{"Connection", "close"}}, "bye");
        return;
      }
    }
  });
  auto client = native_client();
  auto a = client.get(srv.url("/interim"));
  ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->body, "final");
  EXPECT_FALSE(a->headers.contains("Link"));
  auto b = client.get(srv.url("/chunked"));
  ASSERT_TRUE(b) << b.error().describe();
  EXPECT_EQ(b->body, "abcdefg");
  auto c = client.get(srv.url("/close"));
  ASSERT_TRUE(c) << c.error().describe();
  EXPECT_EQ(c->body, "bye");
  auto d = client.get(srv.url("/interim"));  // a new connection: the last one was closed
  ASSERT_TRUE(d) << d.error().describe();
  EXPECT_EQ(srv.connections_accepted(), 2);
}

TEST(NativeTransport, TruncatedBodyIsAnError) {
  LoopbackServer srv([](LoopbackServer::Connection& c) {
    if (c.read_request()) c.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
  });
  auto r = native_client().get(srv.url("/t"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "network");
  EXPECT_NE(r.error().message.find("before the response was complete"), std::string::npos)
      << r.error().message;
}

TEST(NativeTransport, UnreadableCaFileContentIsAConfigError) {
  TempDir dir = TempDir::create("docket-native-ca");
  auto junk = dir.path() / "junk.crt";
  ASSERT_TRUE(atomic_write_file(junk, "not a certificate\n"));
  TempDir pdir = TempDir::create("docket-native-pki");
  auto pki = testing::make_test_pki(pdir.path());
  ASSERT_TRUE(pki);
  LoopbackServer srv(echo_target(), ServerTls{pki->server_cert, pki->server_key, std::nullopt});
  HttpClientOptions o;
  o.tls.ca_file = junk;
  auto r = native_client(o).get(srv.url("/"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "config");
  EXPECT_EQ(r.error().fault, Fault::user);
  EXPECT_NE(r.error().message.find("junk.crt"), std::string::npos) << r.error().message;
}

// ---- pipelining (HttpClient::send_pipelined) ----

std::vector<HttpRequest> gets(const LoopbackServer& srv, std::vector<std::string> paths) {
  std::vector<HttpRequest> out;
  for (auto& p : paths) {
    HttpRequest r;
    r.url = srv.url(p);
    out.push_back(std::move(r));
  }
  return out;
}

// Reads `n` requests before answering any: a client that waited for each answer before
// sending the next request would never get one (its idle timeout ends the test).
LoopbackServer::Handler answer_after_reading(std::size_t n) {
  return [n](LoopbackServer::Connection& c) {
    std::vector<RawRequest> reqs;
    while (reqs.size() < n)
      if (auto r = c.read_request())
        reqs.push_back(std::move(*r));
      else
        return;
    for (const auto& r : reqs) {
      if (r.target == "/chunked")
        c.write(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
            "chunked\r\n\r\n4\r\nchun\r\n3\r\nked\r\n0\r\n\r\n");
      else if (r.target == "/missing")
        c.respond(404, {}, "no such thing");
      else
        c.respond(200, {}, "target=" + r.target + std::string(r.target.size() * 1000, 'x'));
    }
    while (auto r = c.read_request()) c.respond(200, {}, "later " + r->target);
  };
}

class Pipelining : public ::testing::TestWithParam<bool> {};

TEST_P(Pipelining, AnswersArriveInOrderOnOneConnection) {
  const bool tls = GetParam();
  TempDir dir = TempDir::create("docket-pipeline");
  auto pki = testing::make_test_pki(dir.path());
  ASSERT_TRUE(pki) << pki.error().describe();
  auto handler = answer_after_reading(5);
  auto srv = tls ? std::make_unique<LoopbackServer>(
                       handler, ServerTls{pki->server_cert, pki->server_key, std::nullopt})
                 : std::make_unique<LoopbackServer>(handler);
  HttpClientOptions o;
  o.tls.ca_file = pki->ca_cert;
  o.idle_timeout = std::chrono::milliseconds(5'000);
  auto client = native_client(o);
  auto answers = client.send_pipelined(gets(*srv, {"/a", "/missing", "/chunked", "/bbbb", "/cc"}));
  ASSERT_EQ(answers.size(), 5u);
  for (const auto& a : answers) ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(answers[0]->status, 200);
  EXPECT_EQ(answers[0]->body, "target=/a" + std::string(2000, 'x'));
  EXPECT_EQ(answers[0]->url, srv->url("/a"));
  EXPECT_EQ(answers[1]->status, 404);
  EXPECT_EQ(answers[1]->body, "no such thing");
  EXPECT_EQ(answers[2]->body, "chunked");
  EXPECT_EQ(answers[3]->body, "target=/bbbb" + std::string(5000, 'x'));
  EXPECT_EQ(answers[4]->body, "target=/cc" + std::string(3000, 'x'));
  auto reqs = srv->requests();
  ASSERT_EQ(reqs.size(), 5u);
  EXPECT_EQ(reqs[3].target, "/bbbb");
  EXPECT_EQ(reqs[3].headers.get("Host"), "127.0.0.1:" + std::to_string(srv->port()));
  // The connection is kept and carries the next ordinary request.
  auto later = client.get(srv->url("/next"));
  ASSERT_TRUE(later) << later.error().describe();
  EXPECT_EQ(later->body, "later /next");
  EXPECT_EQ(srv->connections_accepted(), 1);
}

INSTANTIATE_TEST_SUITE_P(PlainAndTls, Pipelining, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "tls" : "plain"; });

TEST(NativePipelining, ConnectionCloseAfterTheFirstAnswerLeavesTheRestNotAnswered) {
  for (bool announce : {true, false}) {
    SCOPED_TRACE(announce ? "Connection: close" : "closed without notice");
    // The first connection answers one request and ends (saying so or not); later ones
    // serve normally.
    std::atomic<int> conns{0};
    LoopbackServer srv([&](LoopbackServer::Connection& c) {
      if (conns++ == 0) {
        std::vector<RawRequest> reqs;
        while (reqs.size() < 3)
          if (auto r = c.read_request())
            reqs.push_back(std::move(*r));
          else
            return;
        if (announce)
          c.respond(200, {{"Connection", "close"}}, "first " + reqs[0].target);
        else
          c.respond(200, {}, "first " + reqs[0].target);
        return;
      }
      while (auto r = c.read_request()) c.respond(200, {}, "again " + r->target);
    });
    auto client = native_client();
    auto reqs = gets(srv, {"/1", "/2", "/3"});
    auto answers = client.send_pipelined(reqs);
    ASSERT_EQ(answers.size(), 3u);
    ASSERT_TRUE(answers[0]) << answers[0].error().describe();
    EXPECT_EQ(answers[0]->body, "first /1");
    for (int i : {1, 2}) {
      ASSERT_FALSE(answers[i]) << answers[i]->body;
      EXPECT_EQ(answers[i].error().code, "not_answered") << answers[i].error().describe();
      EXPECT_NE(answers[i].error().message.find("/" + std::to_string(i + 1)), std::string::npos)
          << answers[i].error().message;
      // The caller's fallback: the ordinary request.
      auto again = client.send(reqs[i]);
      ASSERT_TRUE(again) << again.error().describe();
      EXPECT_EQ(again->body, "again /" + std::to_string(i + 1));
    }
    EXPECT_EQ(srv.connections_accepted(), 2);
  }
}

TEST(NativePipelining, BodyCapIsPerAnswer) {
  LoopbackServer srv(answer_after_reading(3));
  auto client = native_client();
  auto reqs = gets(srv, {"/aa", "/bb", "/cc"});
  reqs[0].max_body_bytes = 3009;  // "target=/aa" and 3000 x: one byte too many
  reqs[1].max_body_bytes = 100'000;
  auto answers = client.send_pipelined(reqs);
  ASSERT_EQ(answers.size(), 3u);
  ASSERT_FALSE(answers[0]);
  EXPECT_EQ(answers[0].error().code, "too_large") << answers[0].error().describe();
  EXPECT_NE(answers[0].error().message.find("3009 bytes"), std::string::npos);
  // The connection is given up after a refused answer: the others were not read.
  for (int i : {1, 2}) {
    ASSERT_FALSE(answers[i]);
    EXPECT_EQ(answers[i].error().code, "not_answered") << answers[i].error().describe();
  }
  reqs[0].max_body_bytes = 3010;
  answers = client.send_pipelined(reqs);
  ASSERT_EQ(answers.size(), 3u);
  for (const auto& a : answers) ASSERT_TRUE(a) << a.error().describe();
  EXPECT_EQ(answers[0]->body.size(), 3010u);
  EXPECT_EQ(answers[2]->body, "target=/cc" + std::string(3000, 'x'));
}

TEST(NativePipelining, WhatCannotBePipelinedIsNotSent) {
  LoopbackServer a(echo_target()), b(echo_target());
  auto client = native_client();
  // Two origins.
  auto mixed = gets(a, {"/1"});
  mixed.push_back(gets(b, {"/2"}).front());
  auto r = client.send_pipelined(mixed);
  ASSERT_EQ(r.size(), 2u);
  for (const auto& x : r) {
    ASSERT_FALSE(x);
    EXPECT_EQ(x.error().code, "not_pipelined");
  }
  // A body, or an invalid header.
  auto post = gets(a, {"/1", "/2"});
  post[1].body = "x";
  EXPECT_EQ(client.send_pipelined(post)[0].error().code, "not_pipelined");
  auto bad = gets(a, {"/1", "/2"});
  bad[1].headers.add("X-Bad", "a\r\nInjected: 1");
  auto rb = client.send_pipelined(bad);
  EXPECT_EQ(rb[0].error().code, "not_pipelined");
  EXPECT_EQ(rb[1].error().code, "bad_header");
  // The libcurl transport does not pipeline.
  HttpClientOptions o;
  o.proxy = "";
  auto curl = HttpClient::create(o);
  ASSERT_TRUE(curl);
  auto rc = curl->send_pipelined(gets(a, {"/1", "/2"}));
  EXPECT_EQ(rc[0].error().code, "not_pipelined");
  EXPECT_TRUE(a.requests().empty());
  EXPECT_TRUE(b.requests().empty());
}

TEST(NativePipelining, KeptConnectionClosedByTheServerIsReplaced) {
  // The first connection answers one request, then closes without notice: the pipeline
  // finds the kept-alive connection dead (at once, or before any answer) and goes out on a
  // new one.
  LoopbackServer srv([](LoopbackServer::Connection& c) {
    std::vector<RawRequest> reqs;
    auto first = c.read_request();
    if (!first) return;
    if (first->target != "/warm") {
      reqs.push_back(*first);
      while (reqs.size() < 2)
        if (auto r = c.read_request())
          reqs.push_back(std::move(*r));
        else
          return;
      for (const auto& r : reqs) c.respond(200, {}, "p " + r.target);
      return;
    }
    c.respond(200, {}, "warm");
  });
  auto client = native_client();
  ASSERT_TRUE(client.get(srv.url("/warm")));
  auto answers = client.send_pipelined(gets(srv, {"/x", "/y"}));
  ASSERT_EQ(answers.size(), 2u);
  ASSERT_TRUE(answers[0]) << answers[0].error().describe();
  ASSERT_TRUE(answers[1]) << answers[1].error().describe();
  EXPECT_EQ(answers[1]->body, "p /y");
  EXPECT_EQ(srv.connections_accepted(), 2);
}

}  // namespace
}  // namespace docket::net
