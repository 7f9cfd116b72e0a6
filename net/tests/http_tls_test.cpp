// HttpClient against real TLS (OpenSSL server in LoopbackServer, throwaway PKI).
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "common/file.h"
#include "net/http_client.h"
#include "net/testing/loopback_server.h"
#include "net/testing/process.h"
#include "net/testing/tls_testing.h"

namespace docket::net {
namespace {

using testing::LoopbackServer;
using testing::ServerTls;
using testing::TempDir;
using testing::TestPki;

LoopbackServer::Handler hello() {
  return [](LoopbackServer::Connection& c) {
    while (auto r = c.read_request())
      c.respond(200, {}, "hello " + c.client_cert_subject().value_or("anonymous"));
  };
}

class HttpTls : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = testing::make_test_pki(dir_.path());
    ASSERT_TRUE(p) << p.error().describe();
    pki_ = *p;
  }
  Result<HttpResponse> get(const std::string& url, TlsOptions tls) {
    HttpClientOptions o;
    o.proxy = "";
    o.tls = std::move(tls);
    // Built twice, as net_http_tls_test (libcurl) and net_http_tls_native_test.
#ifdef DOCKET_TEST_NATIVE_TRANSPORT
    o.transport = HttpTransport::native;
#endif
    auto c = HttpClient::create(o);
    if (!c) return std::unexpected(c.error());
    return c->get(url);
  }
  TempDir dir_ = TempDir::create("docket-tls");
  TestPki pki_;
};

TEST_F(HttpTls, VerifiesServerAgainstCaFileOnEveryLoopbackName) {
  LoopbackServer v4(hello(), ServerTls{pki_.server_cert, pki_.server_key, std::nullopt});
  LoopbackServer v6(hello(), ServerTls{pki_.server_cert, pki_.server_key, std::nullopt}, true);
  TlsOptions tls;
  tls.ca_file = pki_.ca_cert;
  for (const auto& url :
       {v4.url("/"), "https://localhost:" + std::to_string(v4.port()) + "/", v6.url("/")}) {
    auto r = get(url, tls);
    ASSERT_TRUE(r) << url << ": " << r.error().describe();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello anonymous");
  }
}

TEST_F(HttpTls, RejectsUntrustedCertificate) {
  LoopbackServer srv(hello(), ServerTls{pki_.server_cert, pki_.server_key, std::nullopt});
  // System store only: our throwaway CA is unknown.
  auto r = get(srv.url("/"), {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "network");
  EXPECT_EQ(r.error().fault, Fault::remote);
  EXPECT_NE(r.error().message.find("certificate"), std::string::npos) << r.error().message;

  // Another CA is not ours either.
  TempDir other_dir = TempDir::create("docket-tls-other");
  auto other = testing::make_test_pki(other_dir.path());
  ASSERT_TRUE(other);
  TlsOptions tls;
  tls.ca_file = other->ca_cert;
  r = get(srv.url("/"), tls);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "network");
}

TEST_F(HttpTls, InsecureSkipVerifyAcceptsUntrusted) {
  LoopbackServer srv(hello(), ServerTls{pki_.server_cert, pki_.server_key, std::nullopt});
  TlsOptions tls;
  tls.insecure_skip_tls_verify = true;
  auto r = get(srv.url("/"), tls);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpTls, RejectsHostNameMismatch) {
  testing::CertSpec spec;
  spec.common_name = "other.example";
  spec.dns_names = {"other.example"};
  spec.server_auth = true;
  auto cert = testing::issue_certificate(pki_.ca, spec);
  ASSERT_TRUE(cert) << cert.error().describe();
  ASSERT_TRUE(atomic_write_file(dir_.path() / "other.crt", cert->cert_pem));
  ASSERT_TRUE(atomic_write_file(dir_.path() / "other.key", cert->key_pem, 0600));
  LoopbackServer srv(hello(),
                     ServerTls{dir_.path() / "other.crt", dir_.path() / "other.key", std::nullopt});
  TlsOptions tls;
  tls.ca_file = pki_.ca_cert;
  auto r = get(srv.url("/"), tls);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "network");
}

TEST_F(HttpTls, RejectsExpiredServerCertificate) {
  TempDir d = TempDir::create("docket-tls-expired");
  testing::TestPkiOptions po;
  po.server_not_before = -std::chrono::hours(48);
  po.server_not_after = -std::chrono::hours(24);
  auto expired = testing::make_test_pki(d.path(), po);
  ASSERT_TRUE(expired);
  LoopbackServer srv(hello(), ServerTls{expired->server_cert, expired->server_key, std::nullopt});
  TlsOptions tls;
  tls.ca_file = expired->ca_cert;
  auto r = get(srv.url("/"), tls);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "network");
  EXPECT_NE(r.error().message.find("expired"), std::string::npos) << r.error().message;
}

TEST_F(HttpTls, MutualTls) {
  LoopbackServer srv(hello(), ServerTls{pki_.server_cert, pki_.server_key, pki_.ca_cert});
  TlsOptions tls;
  tls.ca_file = pki_.ca_cert;
  auto r = get(srv.url("/"), tls);
  EXPECT_FALSE(r) << "server demands a client certificate";
  if (!r) {
    EXPECT_EQ(r.error().code, "network");
  }
  tls.client_cert_file = pki_.client_cert;
  tls.client_key_file = pki_.client_key;
  r = get(srv.url("/"), tls);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->body, "hello docket-test-client");
}

TEST_F(HttpTls, CertsDDirectoryLayout) {
  LoopbackServer srv(hello(), ServerTls{pki_.server_cert, pki_.server_key, pki_.ca_cert});
  auto tls = tls_options_from_certs_d(pki_.certs_d);
  ASSERT_TRUE(tls) << tls.error().describe();
  EXPECT_TRUE(tls->client_cert_file.has_value());
  auto r = get(srv.url("/"), *tls);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->body, "hello docket-test-client");

  auto none = tls_options_from_certs_d(dir_.path() / "does-not-exist");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->ca_dir.has_value());
}

TEST_F(HttpTls, CertsDWithoutCaFilesTrustsOnlyTheSystemStore) {
  // A certs.d directory holding only a client pair adds no CA: the throwaway CA stays
  // untrusted (a certificate error, not a CA-loading one), and one more *.crt fixes that.
  LoopbackServer srv(hello(), ServerTls{pki_.server_cert, pki_.server_key, pki_.ca_cert});
  auto d = dir_.path() / "certs.d-client-only";
  std::filesystem::create_directories(d);
  std::filesystem::copy_file(pki_.client_cert, d / "client.cert");
  std::filesystem::copy_file(pki_.client_key, d / "client.key");
  auto tls = tls_options_from_certs_d(d);
  ASSERT_TRUE(tls) << tls.error().describe();
  auto r = get(srv.url("/"), *tls);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "network");
  EXPECT_NE(r.error().message.find("certificate"), std::string::npos) << r.error().message;

  std::filesystem::copy_file(pki_.ca_cert, d / "extra.crt");
  r = get(srv.url("/"), *tls);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->body, "hello docket-test-client");
}

#ifdef DOCKET_TEST_NATIVE_TRANSPORT
// The built-in transport adds the configured CAs to its store during the first handshake
// (once the ClientHello is out), or in the chain check, whichever comes first.
TEST_F(HttpTls, ConfiguredCaWithoutCertificatesIsTheUsersErrorNamingTheFile) {
  LoopbackServer srv(hello(), ServerTls{pki_.server_cert, pki_.server_key, std::nullopt});
  auto bad = dir_.path() / "not-a-ca.pem";
  ASSERT_TRUE(atomic_write_file(bad,
                                "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
                                "-----END CERTIFICATE-----\n"));
  TlsOptions tls;
  tls.ca_file = bad;
  auto r = get(srv.url("/"), tls);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().fault, Fault::user);
  EXPECT_EQ(r.error().code, "config");
  EXPECT_NE(r.error().message.find("no CA certificate could be read from " + bad.string()),
            std::string::npos)
      << r.error().message;
}

TEST_F(HttpTls, ConcurrentFirstHandshakesOfOneClientAllTrustTheConfiguredCa) {
  LoopbackServer srv(hello(), ServerTls{pki_.server_cert, pki_.server_key, std::nullopt});
  HttpClientOptions o;
  o.proxy = "";
  o.transport = HttpTransport::native;
  o.tls.ca_file = pki_.ca_cert;
  auto c = HttpClient::create(o);
  ASSERT_TRUE(c) << c.error().describe();
  constexpr int kThreads = 8;
  std::vector<std::string> outcome(kThreads);
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < kThreads; ++i)
      threads.emplace_back([&, i] {
        auto r = c->get(srv.url("/"));
        outcome[i] = r ? r->body : r.error().describe();
      });
  }
  for (const auto& o : outcome) EXPECT_EQ(o, "hello anonymous");
  // A second round reuses or opens connections against the same, complete store.
  auto again = c->get(srv.url("/"));
  ASSERT_TRUE(again) << again.error().describe();
}
#endif

TEST_F(HttpTls, RsaPkiWorksToo) {
  TempDir d = TempDir::create("docket-tls-rsa");
  testing::TestPkiOptions po;
  po.key_kind = testing::KeyKind::rsa_2048;
  auto rsa = testing::make_test_pki(d.path(), po);
  ASSERT_TRUE(rsa) << rsa.error().describe();
  LoopbackServer srv(hello(), ServerTls{rsa->server_cert, rsa->server_key, std::nullopt});
  TlsOptions tls;
  tls.ca_file = rsa->ca_cert;
  auto r = get(srv.url("/"), tls);
  ASSERT_TRUE(r) << r.error().describe();
}

}  // namespace
}  // namespace docket::net
