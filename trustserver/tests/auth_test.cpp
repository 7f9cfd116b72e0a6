// Token auth on the trust routes: Notary's scopes per route, the 401 challenge the notary
// client reads, insufficient scope, Basic + policy (403), anonymous pull. A real HttpServer
// on loopback with the real TrustService (SQLite, local signer) and real ES256 tokens.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <filesystem>

#include "common/file.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/token.h"
#include "net/token_service.h"
#include "trustserver/http.h"
#include "trustserver/multipart.h"
#include "trustserver/service.h"
#include "trustserver/tests/test_repo.h"

namespace docket::trustserver {
namespace {
namespace fs = std::filesystem;

const std::string kGun = "example.com/team/app";

std::string ec_key_pem() {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  std::string pem(p, static_cast<std::size_t>(n));
  BIO_free(b);
  EVP_PKEY_free(k);
  return pem;
}

TEST(TrustScopes, NotarysScopePerRoute) {
  auto s = [](const std::string& m, const std::string& path) {
    return net::scopes_to_string(required_scopes(access_for(m, path)));
  };
  const std::string g = "/v2/" + kGun + "/_trust/";
  EXPECT_EQ(s("GET", g + "tuf/root.json"), "repository:" + kGun + ":pull");
  EXPECT_EQ(s("GET", g + "tuf/targets/releases.json"), "repository:" + kGun + ":pull");
  EXPECT_EQ(s("GET", g + "tuf/3.snapshot.json"), "repository:" + kGun + ":pull");
  EXPECT_EQ(s("GET", g + "tuf/timestamp." + std::string(64, 'a') + ".json"),
            "repository:" + kGun + ":pull");
  EXPECT_EQ(s("POST", g + "tuf/"), "repository:" + kGun + ":pull,push");
  EXPECT_EQ(s("GET", g + "tuf/timestamp.key"), "repository:" + kGun + ":pull,push");
  EXPECT_EQ(s("POST", g + "tuf/snapshot.key"), "repository:" + kGun + ":*");
  EXPECT_EQ(s("DELETE", g + "tuf/"), "repository:" + kGun + ":*");
  EXPECT_EQ(s("GET", g + "changefeed"), "repository:" + kGun + ":pull");
  EXPECT_EQ(s("GET", "/v2/_trust/changefeed"), "registry:catalog:*");
  EXPECT_EQ(s("GET", "/v2/"), "registry:catalog:*");
  EXPECT_EQ(s("GET", "/_notary_server/health"), "");
  // Percent-encoded paths are decoded before the GUN is taken.
  EXPECT_EQ(s("GET", "/v2/example.com%2Fteam/app/_trust/tuf/root.json"),
            "repository:" + kGun + ":pull");
}

class TrustAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("docket-trustauth-" + random_hex_id());
    fs::create_directories(dir_);
    storage_ = value_or_raise(open_sqlite_storage((dir_ / "trust.db").string()));
    signer_ = testing::open_test_signer(dir_ / "keys");
    svc_ = std::make_unique<TrustService>(*storage_, *signer_);
    auto key = value_or_raise(net::JwsSigningKey::from_pem(ec_key_pem()));
    net::JwsTrust trust;
    ASSERT_TRUE(trust.add_public_key(key.public_key_pem()));
    net::TokenIssuerOptions io;
    io.issuer = "test-issuer";
    issuer_ = std::make_unique<net::TokenIssuer>(value_or_raise(net::TokenIssuer::create(key, io)));
    token_authz_ = std::make_shared<net::TokenAuthorizer>(
        net::TokenVerifier(trust, net::TokenVerifierOptions{"test-issuer", "test-service"}),
        "https://auth.example/token");
  }
  void start(MountOptions mo) {
    router_ = std::make_unique<net::Router>();
    install_trust_routes(*router_, *svc_, mo);
    net::ServerOptions opts;
    opts.port = 0;
    opts.threads = 1;
    server_ = std::make_unique<net::HttpServer>(opts, *router_);
    ASSERT_TRUE(server_->start());
  }
  void TearDown() override {
    if (server_) {
      server_->stop();
      server_->wait();
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string token(const std::vector<net::Scope>& access, std::chrono::seconds age = {}) {
    return "Bearer " + value_or_raise(issuer_->issue("alice", "test-service", access,
                                                     std::chrono::system_clock::now() - age))
                           .token;
  }
  net::HttpResponse call(const std::string& method, const std::string& path,
                         const std::string& authorization = "", std::string body = "",
                         std::string content_type = "") {
    net::HttpRequest r;
    r.method = method;
    r.url = "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    if (!authorization.empty()) r.headers.set("Authorization", authorization);
    if (!content_type.empty()) r.headers.set("Content-Type", content_type);
    r.body = std::move(body);
    return value_or_raise(client_.send(r));
  }
  std::string tuf(const std::string& file) { return "/v2/" + kGun + "/_trust/tuf/" + file; }
  static net::Scope repo(std::vector<std::string> actions, std::string gun = kGun) {
    return net::Scope{"repository", "", std::move(gun), std::move(actions)};
  }

  fs::path dir_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<signer::Signer> signer_;
  std::unique_ptr<TrustService> svc_;
  std::unique_ptr<net::TokenIssuer> issuer_;
  std::shared_ptr<net::TokenAuthorizer> token_authz_;
  std::unique_ptr<net::Router> router_;
  std::unique_ptr<net::HttpServer> server_;
  net::HttpClient client_;
};

TEST_F(TrustAuthTest, NoTokenGets401WithChallengeAndNotaryErrorBody) {
  start(MountOptions{token_authz_, false});
  auto r = call("GET", tuf("root.json"));
  ASSERT_EQ(r.status, 401);
  auto www = r.headers.get("WWW-Authenticate").value_or("");
  auto ch = value_or_raise(net::parse_www_authenticate(www));
  ASSERT_EQ(ch.size(), 1u);
  EXPECT_TRUE(ch[0].is("Bearer"));
  EXPECT_EQ(ch[0].param("realm"), "https://auth.example/token");
  EXPECT_EQ(ch[0].param("service"), "test-service");
  EXPECT_EQ(ch[0].param("scope"), "repository:" + kGun + ":pull");
  auto body = value_or_raise(parse_json(r.body, "body", Fault::bug));
  EXPECT_EQ(body["errors"][0]["code"], "UNAUTHORIZED");
  EXPECT_EQ(body["errors"][0]["detail"][0]["Name"], kGun);
  EXPECT_EQ(body["errors"][0]["detail"][0]["Action"], "pull");
  EXPECT_EQ(body["errors"][0]["detail"][0]["Type"], "repository");

  // The ping carries the challenge too (the notary client reads it there).
  r = call("GET", "/v2/");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.headers.get("WWW-Authenticate").value_or("").find("Bearer realm="),
            std::string::npos);
  // Health is never challenged.
  EXPECT_EQ(call("GET", "/_notary_server/health").status, 200);
}

TEST_F(TrustAuthTest, PullTokenReadsButCannotPublishDeleteOrRotate) {
  start(MountOptions{token_authz_, false});
  auto pull = token({repo({"pull"})});
  // Past auth: the GUN is unknown, so Notary's 404.
  auto r = call("GET", tuf("root.json"), pull);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(call("GET", "/v2/" + kGun + "/_trust/changefeed?records=10", pull).status, 200);

  r = call("POST", tuf(""), pull, "x", "multipart/form-data; boundary=b");
  EXPECT_EQ(r.status, 401);
  auto ch = value_or_raise(net::parse_www_authenticate(r.headers.get("WWW-Authenticate").value()));
  EXPECT_EQ(ch[0].param("error"), "insufficient_scope");
  EXPECT_EQ(ch[0].param("scope"), "repository:" + kGun + ":pull,push");
  EXPECT_EQ(call("GET", tuf("timestamp.key"), pull).status, 401);
  EXPECT_EQ(call("DELETE", tuf(""), pull).status, 401);
  EXPECT_EQ(call("POST", tuf("timestamp.key"), pull).status, 401);
  EXPECT_EQ(call("GET", "/v2/_trust/changefeed?records=10", pull).status, 401);
  // A token for another GUN grants nothing here.
  EXPECT_EQ(call("GET", tuf("root.json"), token({repo({"*"}, "example.com/other")})).status, 401);
  // Nothing was created by the refused requests.
  EXPECT_TRUE(value_or_raise(storage_->server_keys(kGun, "timestamp")).empty());
}

TEST_F(TrustAuthTest, PushPullTokenPublishesAndStarTokenDeletesAndRotates) {
  start(MountOptions{token_authz_, false});
  auto rw = token({repo({"push", "pull"})});
  auto r = call("GET", tuf("timestamp.key"), rw);
  EXPECT_EQ(r.status, 200) << r.body;
  // Past auth: a malformed upload gets the service's error, not 401.
  r = call("POST", tuf(""), rw, "not multipart", "text/plain");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("MALFORMED_UPLOAD"), std::string::npos) << r.body;
  EXPECT_EQ(call("POST", tuf("timestamp.key"), rw).status, 401);

  auto admin = token({repo({"*"})});
  EXPECT_EQ(call("POST", tuf("timestamp.key"), admin).status, 200);
  EXPECT_EQ(call("DELETE", tuf(""), admin).status, 200);
  auto cat = token({net::Scope{"registry", "", "catalog", {"*"}}});
  EXPECT_EQ(call("GET", "/v2/_trust/changefeed?records=10", cat).status, 200);
}

TEST_F(TrustAuthTest, ExpiredOrForgedTokenIsInvalid) {
  start(MountOptions{token_authz_, false});
  auto old = token({repo({"pull"})}, std::chrono::hours(2));
  auto r = call("GET", tuf("root.json"), old);
  EXPECT_EQ(r.status, 401);
  auto ch = value_or_raise(net::parse_www_authenticate(r.headers.get("WWW-Authenticate").value()));
  EXPECT_EQ(ch[0].param("error"), "invalid_token");
  // Signed by a key the server does not trust.
  auto other = value_or_raise(net::JwsSigningKey::from_pem(ec_key_pem()));
  net::TokenIssuerOptions io;
  io.issuer = "test-issuer";
  auto forger = value_or_raise(net::TokenIssuer::create(other, io));
  auto forged = value_or_raise(
      forger.issue("alice", "test-service", {repo({"*"})}, std::chrono::system_clock::now()));
  EXPECT_EQ(call("GET", tuf("root.json"), "Bearer " + forged.token).status, 401);
}

TEST_F(TrustAuthTest, AnonymousPullOnlyReads) {
  start(MountOptions{token_authz_, true});
  EXPECT_EQ(call("GET", tuf("root.json")).status, 404);
  EXPECT_EQ(call("GET", tuf("timestamp.key")).status, 401);
  EXPECT_EQ(call("POST", tuf(""), "", "x", "multipart/form-data; boundary=b").status, 401);
  EXPECT_EQ(call("DELETE", tuf("")).status, 401);
}

TEST_F(TrustAuthTest, BasicUserRefusedByPolicyGets403Denied) {
  auto h = value_or_raise(net::Htpasswd::parse(""));
  ASSERT_TRUE(h.set_password("bob", "bob-pass", 4));
  auto creds = std::make_shared<net::HtpasswdCredentials>(std::move(h));
  net::AccessPolicy policy({net::AccessRule{"bob", "repository", "", "example.com/*", {"pull"}}});
  start(MountOptions{std::make_shared<net::HtpasswdAuthorizer>(creds, "docket", policy), false});
  auto bob = net::basic_authorization("bob", "bob-pass");
  EXPECT_EQ(call("GET", tuf("root.json"), bob).status, 404);
  auto r = call("POST", tuf(""), bob, "x", "multipart/form-data; boundary=b");
  EXPECT_EQ(r.status, 403);
  auto body = value_or_raise(parse_json(r.body, "body", Fault::bug));
  EXPECT_EQ(body["errors"][0]["code"], "DENIED");
  EXPECT_EQ(r.headers.get("WWW-Authenticate"), std::nullopt);
  r = call("GET", tuf("root.json"), net::basic_authorization("bob", "wrong"));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.headers.get("WWW-Authenticate").value_or("").find("Basic"), std::string::npos);
}

}  // namespace
}  // namespace docket::trustserver
