// Our tokens and htpasswd hashes against the real peers that consume them: Debian's
// docker-registry (distribution 2.8) and notary-server (0.7), both with token auth trusting
// our certificate bundle, and docker-registry with an htpasswd file written by docket.
#include <gtest/gtest.h>

#include "common/file.h"
#include "net/auth.h"
#include "net/htpasswd.h"
#include "net/http_client.h"
#include "net/jwt.h"
#include "net/testing/process.h"
#include "net/testing/tls_testing.h"
#include "net/token.h"

namespace docket::net {
namespace {

using namespace std::chrono_literals;
using testing::Process;
using testing::TempDir;

Scope S(std::string_view s) {
  return parse_scope(s).value();
}

HttpClient plain_client() {
  HttpClientOptions o;
  o.proxy = "";
  return HttpClient::create(o).value();
}

struct TokenSetup {
  testing::PemKeyCert ca, signer;
  std::filesystem::path bundle;
  static TokenSetup make(const std::filesystem::path& dir) {
    TokenSetup t;
    t.ca = testing::make_self_signed_ca({.common_name = "docket token CA"}).value();
    t.signer = testing::issue_certificate(t.ca, {.common_name = "docket token signer"}).value();
    t.bundle = dir / "token-bundle.pem";
    EXPECT_TRUE(atomic_write_file(t.bundle, t.ca.cert_pem + t.signer.cert_pem));
    return t;
  }
  // With the chain in x5c (chained to the CA) or bare with kid (the signer cert is in the
  // bundle too, so distribution trusts its libtrust kid).
  TokenIssuer issuer(bool x5c) const {
    auto key = x5c ? JwsSigningKey::from_pem(signer.key_pem, signer.cert_pem + ca.cert_pem)
                   : JwsSigningKey::from_pem(signer.key_pem);
    return TokenIssuer::create(key.value(), {.issuer = "docket-issuer"}).value();
  }
};

class DockerRegistryAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::find_executable("docker-registry"))
      GTEST_SKIP() << "docker-registry is not installed";
  }
  Process start(const std::string& auth_yaml) {
    port_ = testing::free_loopback_port();
    std::string cfg =
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: " +
        (dir_.path() / "data").string() + "\nhttp:\n  addr: 127.0.0.1:" + std::to_string(port_) +
        "\nauth:\n" + auth_yaml;
    EXPECT_TRUE(atomic_write_file(dir_.path() / "config.yml", cfg));
    testing::ProcessOptions po;
    po.argv = {"docker-registry", "serve", (dir_.path() / "config.yml").string()};
    po.log_file = dir_.path() / "registry.log";
    po.unset_env = {"REGISTRY_HTTP_ADDR"};
    auto p = Process::start(po);
    EXPECT_TRUE(p) << p.error().describe();
    auto up = p->wait_for_port(port_, 30s);
    EXPECT_TRUE(up) << up.error().describe();
    return std::move(*p);
  }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  TempDir dir_ = TempDir::create("docket-reg-auth");
  int port_ = 0;
};

TEST_F(DockerRegistryAuth, AcceptsOurTokensAndEnforcesTheirScopes) {
  auto t = TokenSetup::make(dir_.path());
  auto peer = start(
      "  token:\n    realm: https://auth.docket.test/token\n    service: reg.docket.test\n"
      "    issuer: docket-issuer\n    rootcertbundle: " +
      t.bundle.string() + "\n");
  auto client = plain_client();
  auto now_t = now();

  // No token: a Bearer challenge our parser understands.
  auto r = client.get(url("/v2/team/app/tags/list"));
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_EQ(r->status, 401) << r->body;
  auto ch = parse_www_authenticate(r->headers.get("WWW-Authenticate").value_or(""));
  ASSERT_TRUE(ch) << ch.error().describe();
  EXPECT_TRUE((*ch)[0].is("Bearer"));
  EXPECT_EQ((*ch)[0].param("realm"), "https://auth.docket.test/token");
  EXPECT_EQ((*ch)[0].param("service"), "reg.docket.test");
  EXPECT_EQ((*ch)[0].param("scope"), "repository:team/app:pull");

  for (bool x5c : {true, false}) {
    SCOPED_TRACE(x5c ? "x5c chain" : "libtrust kid");
    auto issuer = t.issuer(x5c);
    auto good = issuer.issue("alice", "reg.docket.test", {S("repository:team/app:pull")}, now_t);
    ASSERT_TRUE(good);
    r = client.get(url("/v2/team/app/tags/list"), {{"Authorization", "Bearer " + good->token}});
    ASSERT_TRUE(r) << r.error().describe();
    // Authorised: the repository simply does not exist.
    EXPECT_EQ(r->status, 404) << r->body << "\n" << peer.log_tail();

    // Same token, another repository: insufficient scope.
    r = client.get(url("/v2/team/other/tags/list"), {{"Authorization", "Bearer " + good->token}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    auto ch2 = parse_www_authenticate(r->headers.get("WWW-Authenticate").value_or(""));
    ASSERT_TRUE(ch2);
    EXPECT_EQ((*ch2)[0].param("error"), "insufficient_scope");

    // Wrong audience and expired tokens are refused by the peer as by us.
    auto wrong_aud = issuer.issue("alice", "other-service", {S("repository:team/app:pull")}, now_t);
    r = client.get(url("/v2/team/app/tags/list"),
                   {{"Authorization", "Bearer " + wrong_aud->token}});
    EXPECT_EQ(r->status, 401);
    auto old = issuer.issue("alice", "reg.docket.test", {S("repository:team/app:pull")},
                            now_t - std::chrono::hours(2));
    r = client.get(url("/v2/team/app/tags/list"), {{"Authorization", "Bearer " + old->token}});
    EXPECT_EQ(r->status, 401);
  }

  // A token from a key the peer does not trust.
  auto rogue_ca = testing::make_self_signed_ca({.common_name = "rogue"}).value();
  auto rogue = testing::issue_certificate(rogue_ca, {.common_name = "rogue signer"}).value();
  auto rogue_issuer =
      TokenIssuer::create(
          JwsSigningKey::from_pem(rogue.key_pem, rogue.cert_pem + rogue_ca.cert_pem).value(),
          {.issuer = "docket-issuer"})
          .value();
  auto bad = rogue_issuer.issue("alice", "reg.docket.test", {S("repository:team/app:pull")}, now_t);
  r = client.get(url("/v2/team/app/tags/list"), {{"Authorization", "Bearer " + bad->token}});
  EXPECT_EQ(r->status, 401);

  // registry:catalog:* as the catalog needs it.
  auto cat = t.issuer(true).issue("admin", "reg.docket.test", {S("registry:catalog:*")}, now_t);
  r = client.get(url("/v2/_catalog"), {{"Authorization", "Bearer " + cat->token}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(DockerRegistryAuth, AcceptsOurBcryptHtpasswd) {
  Htpasswd h;
  ASSERT_TRUE(h.set_password("alice", "s3cret", kDefaultBcryptCost));
  auto file = dir_.path() / "htpasswd";
  ASSERT_TRUE(atomic_write_file(file, h.serialize()));
  auto peer = start("  htpasswd:\n    realm: docket-realm\n    path: " + file.string() + "\n");
  auto client = plain_client();
  auto r = client.get(url("/v2/"));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->status, 401);
  auto ch = parse_www_authenticate(r->headers.get("WWW-Authenticate").value_or(""));
  ASSERT_TRUE(ch);
  EXPECT_TRUE((*ch)[0].is("Basic"));
  EXPECT_EQ((*ch)[0].param("realm"), "docket-realm");
  r = client.get(url("/v2/"), {{"Authorization", basic_authorization("alice", "s3cret")}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << peer.log_tail();
  r = client.get(url("/v2/"), {{"Authorization", basic_authorization("alice", "s3cret!")}});
  EXPECT_EQ(r->status, 401);
}

TEST(NotaryServerAuth, AcceptsOurTokensWithNotaryScopes) {
  if (!testing::find_executable("notary-server")) GTEST_SKIP() << "notary-server is not installed";
  auto dir = TempDir::create("docket-notary-auth");
  auto t = TokenSetup::make(dir.path());
  int port = testing::free_loopback_port();
  Json cfg = {{"server", {{"http_addr", "127.0.0.1:" + std::to_string(port)}}},
              {"trust_service", {{"type", "local"}, {"key_algorithm", "ecdsa"}}},
              {"storage", {{"backend", "memory"}}},
              {"logging", {{"level", "error"}}},
              {"auth",
               {{"type", "token"},
                {"options",
                 {{"realm", "https://auth.docket.test/token"},
                  {"service", "notary.docket.test"},
                  {"issuer", "docket-issuer"},
                  {"rootcertbundle", t.bundle.string()}}}}}};
  ASSERT_TRUE(atomic_write_file(dir.path() / "server.json", cfg.dump()));
  testing::ProcessOptions po;
  po.argv = {"notary-server", "-config", (dir.path() / "server.json").string()};
  po.log_file = dir.path() / "notary-server.log";
  auto peer = Process::start(po);
  ASSERT_TRUE(peer) << peer.error().describe();
  auto up = peer->wait_for_port(port, 30s);
  ASSERT_TRUE(up) << up.error().describe();

  auto client = plain_client();
  auto base = "http://127.0.0.1:" + std::to_string(port);
  std::string gun = "docket.test/team/app";
  auto r = client.get(base + "/v2/" + gun + "/_trust/tuf/root.json");
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_EQ(r->status, 401) << r->body;
  auto ch = parse_www_authenticate(r->headers.get("WWW-Authenticate").value_or(""));
  ASSERT_TRUE(ch) << ch.error().describe();
  EXPECT_EQ((*ch)[0].param("scope"), "repository:" + gun + ":pull");
  EXPECT_EQ((*ch)[0].param("service"), "notary.docket.test");

  auto issuer = t.issuer(true);
  auto pull =
      issuer.issue("alice", "notary.docket.test", {S("repository:" + gun + ":pull")}, now());
  r = client.get(base + "/v2/" + gun + "/_trust/tuf/root.json",
                 {{"Authorization", "Bearer " + pull->token}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body << "\n" << peer->log_tail();

  // Deleting trust data needs "*": a push,pull token is not enough, a "*" token is.
  HttpRequest del;
  del.method = "DELETE";
  del.url = base + "/v2/" + gun + "/_trust/tuf/";
  auto pp =
      issuer.issue("alice", "notary.docket.test", {S("repository:" + gun + ":push,pull")}, now());
  del.headers.set("Authorization", "Bearer " + pp->token);
  r = client.send(del);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  auto star = issuer.issue("alice", "notary.docket.test", {S("repository:" + gun + ":*")}, now());
  del.headers.set("Authorization", "Bearer " + star->token);
  r = client.send(del);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body << "\n" << peer->log_tail();
}

}  // namespace
}  // namespace docket::net
