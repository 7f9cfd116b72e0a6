// Basic (htpasswd/bcrypt) and Docker token auth on the registry routes, over real HTTP.
#include <gtest/gtest.h>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/json.h"
#include "net/auth.h"
#include "net/htpasswd.h"
#include "net/server_middleware.h"
#include "net/token.h"
#include "registry/auth.h"
#include "registry/tests/test_client.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

using namespace docket;
using namespace docket::registry;
using namespace docket::registry::testing;

namespace {

std::string basic(const std::string& u, const std::string& p) {
  return "Basic " + base64_encode(u + ":" + p);
}

struct AuthFixture {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("docket-auth-" + random_hex_id());
  Config cfg;
  AuthFixture(bool token, bool anonymous_pull) {
    std::filesystem::create_directories(dir);
    net::Htpasswd h;
    EXPECT_TRUE(h.set_password("alice", "wonderland", 4));
    EXPECT_TRUE(atomic_write_file(dir / "htpasswd", h.serialize()));
    cfg.auth_htpasswd_path = (dir / "htpasswd").string();
    cfg.auth_anonymous_pull = anonymous_pull;
    if (token) {
      std::string cmd = "openssl ecparam -name prime256v1 -genkey -noout -out " +
                        (dir / "key.pem").string() + " 2>/dev/null";
      EXPECT_EQ(std::system(cmd.c_str()), 0);
      cfg.auth_token_realm = "http://127.0.0.1/auth/token";
      cfg.auth_token_key = (dir / "key.pem").string();
      cfg.auth_token_service = "docket-test";
    }
  }
  ~AuthFixture() { std::filesystem::remove_all(dir); }
};

class AuthedServer {
 public:
  explicit AuthedServer(const Config& c) {
    auto setup = make_auth(c);
    if (!setup) throw Exception(setup.error());
    HttpOptions o;
    AuthSetup st = *setup;
    reg = std::make_unique<RegistryServer>(
        o, std::filesystem::path{}, [st](net::Router& r, HttpOptions& ho) {
          net::install_health_routes(r, nullptr);  // as docket-server does: must stay unchallenged
          install_auth(r, st, ho);
        });
  }
  std::unique_ptr<RegistryServer> reg;
};

TEST(RegistryAuth, BasicChallengeThenAccess) {
  AuthFixture f(false, false);
  AuthedServer s(f.cfg);
  auto& reg = *s.reg;
  auto r = reg.get("/v2/");
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(r.error_code(), "UNAUTHORIZED");
  EXPECT_NE(r.header("www-authenticate").find("Basic"), std::string::npos);
  EXPECT_EQ(reg.send({"GET", "/v2/", "", {{"Authorization", basic("alice", "wrong")}}}).status,
            401u);
  EXPECT_EQ(reg.send({"GET", "/v2/", "", {{"Authorization", basic("alice", "wonderland")}}}).status,
            200u);
  std::string blob = "x";
  auto push = reg.send({"POST",
                        "/v2/a/blobs/uploads/?digest=" + Digest::of(blob).str(),
                        blob,
                        {{"Authorization", basic("alice", "wonderland")}}});
  EXPECT_EQ(push.status, 201u);
  // Missing auth on pull: 401 with the needed scope in the detail.
  r = reg.get("/v2/a/blobs/" + Digest::of(blob).str());
  EXPECT_EQ(r.status, 401u);
  EXPECT_NE(r.body.find("\"Action\":\"pull\""), std::string::npos);
  // Health stays open.
  EXPECT_EQ(reg.get("/health").status, 200u);
}

TEST(RegistryAuth, AnonymousPullOnly) {
  AuthFixture f(false, true);
  AuthedServer s(f.cfg);
  auto& reg = *s.reg;
  std::string blob = "anon";
  ASSERT_EQ(reg.send({"POST",
                      "/v2/a/blobs/uploads/?digest=" + Digest::of(blob).str(),
                      blob,
                      {{"Authorization", basic("alice", "wonderland")}}})
                .status,
            201u);
  EXPECT_EQ(reg.get("/v2/a/blobs/" + Digest::of(blob).str()).status, 200u);
  EXPECT_EQ(reg.send({"POST", "/v2/a/blobs/uploads/"}).status, 401u);
  EXPECT_EQ(reg.send({"DELETE", "/v2/a/blobs/" + Digest::of(blob).str()}).status, 401u);
}

TEST(RegistryAuth, TokenFlowWithScopes) {
  AuthFixture f(true, false);
  AuthedServer s(f.cfg);
  auto& reg = *s.reg;
  auto r = reg.get("/v2/team/app/tags/list");
  ASSERT_EQ(r.status, 401u);
  std::string ch = r.header("www-authenticate");
  EXPECT_NE(ch.find("Bearer realm="), std::string::npos);
  EXPECT_NE(ch.find("repository:team/app:pull"), std::string::npos);
  auto tok = reg.send({"GET",
                       "/auth/token?service=docket-test&scope=repository:team/app:pull",
                       "",
                       {{"Authorization", basic("alice", "wonderland")}}});
  ASSERT_EQ(tok.status, 200u) << tok.body;
  std::string pull_token = Json::parse(tok.body)["token"].get<std::string>();
  EXPECT_EQ(
      reg.send({"GET", "/v2/team/app/tags/list", "", {{"Authorization", "Bearer " + pull_token}}})
          .error_code(),
      "NAME_UNKNOWN");
  // Wrong scope: a pull token cannot push.
  auto w = reg.send(
      {"POST", "/v2/team/app/blobs/uploads/", "", {{"Authorization", "Bearer " + pull_token}}});
  EXPECT_EQ(w.status, 401u);
  EXPECT_NE(w.header("www-authenticate").find("insufficient_scope"), std::string::npos);
  // Nor touch another repository.
  EXPECT_EQ(
      reg.send({"GET", "/v2/other/tags/list", "", {{"Authorization", "Bearer " + pull_token}}})
          .status,
      401u);
  // A forged token is refused.
  EXPECT_EQ(reg.send({"GET",
                      "/v2/team/app/tags/list",
                      "",
                      {{"Authorization", "Bearer " + pull_token + "x"}}})
                .status,
            401u);
  // Bad credentials get no token.
  EXPECT_EQ(reg.send({"GET",
                      "/auth/token?service=docket-test&scope=repository:team/app:pull",
                      "",
                      {{"Authorization", basic("alice", "nope")}}})
                .status,
            401u);
}

TEST(RegistryAuth, MountNeedsPullOnTheSourceRepository) {
  AuthFixture f(true, false);
  // bob may only touch bob/*; alice everything.
  net::Htpasswd h;
  ASSERT_TRUE(h.set_password("alice", "wonderland", 4));
  ASSERT_TRUE(h.set_password("bob", "builder", 4));
  ASSERT_TRUE(atomic_write_file(f.dir / "htpasswd", h.serialize()));
  ASSERT_TRUE(atomic_write_file(f.dir / "policy.json", R"({"rules":[
    {"account":"alice","type":"repository","name":"*","actions":["*"]},
    {"account":"bob","type":"repository","name":"bob/*","actions":["*"]}]})"));
  f.cfg.auth_token_policy = (f.dir / "policy.json").string();
  AuthedServer s(f.cfg);
  auto& reg = *s.reg;
  auto token = [&](const std::string& user, const std::string& pass, const std::string& scopes) {
    auto t = reg.send({"GET",
                       "/auth/token?service=docket-test&" + scopes,
                       "",
                       {{"Authorization", basic(user, pass)}}});
    EXPECT_EQ(t.status, 200u) << t.body;
    return "Bearer " + Json::parse(t.body)["token"].get<std::string>();
  };
  std::string secret = "alice's private layer";
  std::string d = Digest::of(secret).str();
  auto a = token("alice", "wonderland", "scope=repository:private/app:pull,push");
  ASSERT_EQ(
      reg.send(
             {"POST", "/v2/private/app/blobs/uploads/?digest=" + d, secret, {{"Authorization", a}}})
          .status,
      201u);
  // bob asks for pull on private/app too; the policy grants nothing there, so the mount is
  // not honoured: 202 and a fresh upload, and bob still cannot read the blob.
  auto b = token("bob", "builder",
                 "scope=repository:bob/app:pull,push&scope=repository:private/app:pull");
  auto m = reg.send({"POST",
                     "/v2/bob/app/blobs/uploads/?mount=" + d + "&from=private/app",
                     "",
                     {{"Authorization", b}}});
  EXPECT_EQ(m.status, 202u);
  EXPECT_FALSE(m.header("location").empty());
  EXPECT_EQ(reg.send({"GET", "/v2/bob/app/blobs/" + d, "", {{"Authorization", b}}}).error_code(),
            "BLOB_UNKNOWN");
  // alice, who may pull the source, mounts it.
  auto a2 = token("alice", "wonderland",
                  "scope=repository:alice/app:pull,push&scope=repository:private/app:pull");
  m = reg.send({"POST",
                "/v2/alice/app/blobs/uploads/?mount=" + d + "&from=private/app",
                "",
                {{"Authorization", a2}}});
  EXPECT_EQ(m.status, 201u) << m.body;
  EXPECT_EQ(reg.send({"GET", "/v2/alice/app/blobs/" + d, "", {{"Authorization", a2}}}).body,
            secret);
  // A token without the source scope is not enough either, even for alice.
  auto a3 = token("alice", "wonderland", "scope=repository:alice/other:pull,push");
  EXPECT_EQ(reg.send({"POST",
                      "/v2/alice/other/blobs/uploads/?mount=" + d + "&from=private/app",
                      "",
                      {{"Authorization", a3}}})
                .status,
            202u);

  // The mount's challenge offers the source's pull scope beside the target's, so a client
  // that asks for exactly the challenge's scope string (the OCI conformance suite's does,
  // as one `scope` parameter) can mount; the scope is offered, not required (bob above).
  const std::string target = "/v2/alice/third/blobs/uploads/?mount=" + d + "&from=private/app";
  auto challenged = reg.send({"POST", target});
  ASSERT_EQ(challenged.status, 401u);
  auto ch = net::parse_www_authenticate(challenged.header("www-authenticate"));
  ASSERT_TRUE(ch && ch->size() == 1u) << challenged.header("www-authenticate");
  const std::string scope = ch->front().param("scope").value_or("");
  EXPECT_EQ(scope, "repository:alice/third:pull,push repository:private/app:pull");
  auto a4 = token("alice", "wonderland", "scope=" + percent_encode(scope));
  m = reg.send({"POST", target, "", {{"Authorization", a4}}});
  EXPECT_EQ(m.status, 201u) << m.body;
  // Without `from`, or from the target itself, the challenge names only the target.
  auto plain = reg.send({"POST", "/v2/alice/third/blobs/uploads/?mount=" + d});
  EXPECT_EQ(net::parse_www_authenticate(plain.header("www-authenticate"))->front().param("scope"),
            "repository:alice/third:pull,push");
  auto self = reg.send({"POST", "/v2/alice/third/blobs/uploads/?mount=" + d + "&from=alice/third"});
  EXPECT_EQ(net::parse_www_authenticate(self.header("www-authenticate"))->front().param("scope"),
            "repository:alice/third:pull,push");
}

}  // namespace

namespace {
TEST(RegistryRateLimit, ManifestPullsBeyondTheLimitGet429) {
  auto limiter = net::RateLimiter::create(net::RateLimitOptions{2, std::chrono::seconds(3600)});
  ASSERT_TRUE(limiter);
  std::shared_ptr<net::RateLimiter> rl(std::move(*limiter));
  RegistryServer reg({}, {}, [&](net::Router& r, HttpOptions&) { install_rate_limit(r, rl); });
  reg.push_image("rl", "v1", {"l"});
  auto a = reg.get("/v2/rl/manifests/v1");
  EXPECT_EQ(a.status, 200u);
  EXPECT_EQ(a.header("ratelimit-limit"), "2;w=3600");
  EXPECT_EQ(a.header("ratelimit-remaining"), "1;w=3600");
  EXPECT_EQ(reg.send({"HEAD", "/v2/rl/manifests/v1"}).status, 200u);  // HEAD is free
  EXPECT_EQ(reg.get("/v2/rl/manifests/v1").status, 200u);
  auto c = reg.get("/v2/rl/manifests/v1");
  EXPECT_EQ(c.status, 429u);
  EXPECT_EQ(c.error_code(), "TOOMANYREQUESTS");
  EXPECT_FALSE(c.header("retry-after").empty());
  EXPECT_EQ(reg.get("/v2/rl/tags/list").status, 200u);  // only manifest pulls count
}
}  // namespace
