// Mutual TLS in docket's HTTP server core (ServerOptions::tls_client_ca_file): real
// handshakes on loopback with a throwaway PKI made by net/testing/tls_testing.h.
#include <gtest/gtest.h>

#include "common/file.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/testing/process.h"
#include "net/testing/tls_testing.h"

namespace docket::net {
namespace {

using testing::TempDir;

class HttpMtls : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = value_or_raise(testing::make_test_pki(dir_.path()));
    router_.add(http::verb::get, "/who", "who", [](Request& req, Response& res) {
      res.set(200, "text/plain", "subject=" + req.tls_client_subject);
    });
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
      server_->wait();
    }
  }
  Status start(ServerOptions o) {
    o.port = 0;
    o.threads = 1;
    server_ = std::make_unique<HttpServer>(o, router_);
    return server_->start();
  }
  ServerOptions mtls() const {
    ServerOptions o;
    o.tls_cert_file = pki_.server_cert;
    o.tls_key_file = pki_.server_key;
    o.tls_client_ca_file = pki_.ca_cert;
    return o;
  }
  Result<HttpResponse> get(TlsOptions tls) {
    HttpClientOptions o;
    o.proxy = "";
    tls.ca_file = pki_.ca_cert;
    o.tls = std::move(tls);
    auto c = HttpClient::create(o);
    if (!c) return std::unexpected(c.error());
    return c->get("https://127.0.0.1:" + std::to_string(server_->port()) + "/who");
  }
  TempDir dir_ = TempDir::create("docket-mtls");
  testing::TestPki pki_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpMtls, AcceptsClientCertificateFromTheCaAndExposesItsSubject) {
  ASSERT_TRUE(start(mtls()));
  TlsOptions t;
  t.client_cert_file = pki_.client_cert;
  t.client_key_file = pki_.client_key;
  auto r = get(t);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body.starts_with("subject=CN=docket-test-client,")) << r->body;
}

TEST_F(HttpMtls, RejectsClientWithoutCertificate) {
  ASSERT_TRUE(start(mtls()));
  auto r = get({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "network");
}

TEST_F(HttpMtls, RejectsClientCertificateFromAnotherCa) {
  ASSERT_TRUE(start(mtls()));
  TempDir other_dir = TempDir::create("docket-mtls-other");
  auto other = value_or_raise(testing::make_test_pki(other_dir.path()));
  TlsOptions t;
  t.client_cert_file = other.client_cert;
  t.client_key_file = other.client_key;
  auto r = get(t);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "network");
}

TEST_F(HttpMtls, WithoutClientCaAnyClientIsServedAndSubjectIsEmpty) {
  auto o = mtls();
  o.tls_client_ca_file.clear();
  ASSERT_TRUE(start(o));
  auto r = get({});
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->body, "subject=");
}

TEST_F(HttpMtls, ClientCaWithoutServerCertificateIsAConfigError) {
  ServerOptions o;
  o.tls_client_ca_file = pki_.ca_cert;
  auto st = start(o);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "config");
  server_.reset();
}

TEST_F(HttpMtls, UnreadableClientCaIsAConfigError) {
  auto o = mtls();
  o.tls_client_ca_file = dir_.path() / "missing.crt";
  auto st = start(o);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "config");
  server_.reset();
}

}  // namespace
}  // namespace docket::net
