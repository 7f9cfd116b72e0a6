// TrustAuthSession against a scripted loopback trust server: challenge-driven Bearer and
// Basic auth, tokens cached per scope, clear refusals that never carry the secrets.
#include "client/trust_auth.h"

#include <gtest/gtest.h>

#include <mutex>

#include "common/encoding.h"
#include "net/testing/loopback_server.h"

using namespace docket;
using namespace docket::client;
using net::testing::LoopbackServer;

namespace {

// GETs need repository:gun:pull, POSTs repository:gun:push,pull (Notary's scopes). Tokens
// are "tok-<actions>" for alice:pw; a push token also allows pulls.
struct FakeTrustServer {
  bool basic = false;
  std::vector<std::string> token_requests;
  std::mutex mu;
  std::unique_ptr<LoopbackServer> srv;
  FakeTrustServer() {
    srv = std::make_unique<LoopbackServer>([this](LoopbackServer::Connection& c) { serve(c); });
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(srv->port()); }
  std::string url(const std::string& path) const { return "http://" + host() + path; }
  void serve(LoopbackServer::Connection& c) {
    while (auto req = c.read_request()) {
      std::lock_guard l(mu);
      const std::string& t = req->target;
      auto auth = req->headers.get("Authorization").value_or("");
      const std::string good_basic = "Basic " + base64_encode("alice:pw");
      if (t.starts_with("/token?")) {
        token_requests.push_back(t);
        if (auth != good_basic) {
          c.respond(401, {}, R"({"errors":[{"code":"UNAUTHORIZED","message":"bad creds"}]})");
          continue;
        }
        bool push = t.find("push") != std::string::npos;
        c.respond(200, {{"Content-Type", "application/json"}},
                  std::string(R"({"token":")") + (push ? "tok-push" : "tok-pull") + "\"}");
        continue;
      }
      bool write = req->method == "POST";
      bool ok = basic ? auth == good_basic
                      : (auth == "Bearer tok-push" || (!write && auth == "Bearer tok-pull"));
      if (!ok) {
        std::string challenge = basic ? "Basic realm=\"trust\""
                                      : "Bearer realm=\"" + url("/token") +
                                            "\",service=\"fake\",scope=\"repository:h/gun:" +
                                            (write ? "pull,push" : "pull") + "\"";
        c.respond(401, {{"WWW-Authenticate", challenge}},
                  R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})");
        continue;
      }
      c.respond(200, {}, "ok " + req->method);
    }
  }
  std::size_t tokens() {
    std::lock_guard l(mu);
    return token_requests.size();
  }
};

CredentialProvider creds(std::string user, std::string pass, int* calls = nullptr) {
  return [=]() -> Result<std::optional<Credentials>> {
    if (calls) ++*calls;
    return std::optional<Credentials>(Credentials{user, pass, ""});
  };
}

Result<net::HttpResponse> req(TrustAuthSession& s, const std::string& method,
                              const std::string& url) {
  net::HttpRequest r;
  r.method = method;
  r.url = url;
  return s.send(r);
}

TEST(TrustAuthSession, BearerTokensAreFetchedPerScopeAndReused) {
  FakeTrustServer f;
  int provider_calls = 0;
  TrustAuthSession s(std::make_shared<net::HttpClient>(), f.host(),
                     creds("alice", "pw", &provider_calls));
  for (int i = 0; i < 3; ++i) {
    auto r = req(s, "GET", f.url("/v2/h/gun/_trust/tuf/root.json"));
    ASSERT_TRUE(r) << r.error().describe();
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(f.tokens(), 1u);
  // Publishing needs more: one more token, for the challenged push scope.
  auto p = req(s, "POST", f.url("/v2/h/gun/_trust/tuf/"));
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_EQ(p->status, 200);
  EXPECT_EQ(f.tokens(), 2u);
  {
    std::lock_guard l(f.mu);
    EXPECT_NE(f.token_requests[1].find("scope=repository%3Ah%2Fgun%3Apull%2Cpush"),
              std::string::npos)
        << f.token_requests[1];
    EXPECT_NE(f.token_requests[0].find("service=fake"), std::string::npos);
  }
  // Reads go on with the stronger token, without asking again.
  ASSERT_TRUE(req(s, "GET", f.url("/v2/h/gun/_trust/tuf/targets.json")));
  EXPECT_EQ(f.tokens(), 2u);
  EXPECT_EQ(s.tokens_fetched(), 2);
  EXPECT_EQ(provider_calls, 1);  // credentials read once, on the first challenge
}

TEST(TrustAuthSession, NoCredentialsIsAClearUnauthorizedError) {
  FakeTrustServer f;
  TrustAuthSession s(std::make_shared<net::HttpClient>(), f.host(),
                     [] { return Result<std::optional<Credentials>>(std::nullopt); });
  auto r = req(s, "GET", f.url("/v2/h/gun/_trust/tuf/root.json"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "unauthorized");
  EXPECT_EQ(r.error().fault, Fault::user);
  EXPECT_NE(r.error().message.find("docket login " + f.host()), std::string::npos)
      << r.error().message;
  EXPECT_EQ(f.tokens(), 0u);
}

TEST(TrustAuthSession, RefusedCredentialsNeverAppearInTheError) {
  FakeTrustServer f;
  TrustAuthSession s(std::make_shared<net::HttpClient>(), f.host(), creds("alice", "wrong-pw"));
  auto r = req(s, "GET", f.url("/v2/h/gun/_trust/tuf/root.json"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "unauthorized");
  EXPECT_NE(r.error().message.find("refused the credentials"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.error().message.find("wrong-pw"), std::string::npos);
  EXPECT_EQ(r.error().message.find(base64_encode("alice:wrong-pw")), std::string::npos);
}

TEST(TrustAuthSession, BasicChallengeSendsStoredCredentialsOnce) {
  FakeTrustServer f;
  f.basic = true;
  TrustAuthSession good(std::make_shared<net::HttpClient>(), f.host(), creds("alice", "pw"));
  auto r = req(good, "POST", f.url("/v2/h/gun/_trust/tuf/"));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->status, 200);
  TrustAuthSession bad(std::make_shared<net::HttpClient>(), f.host(), creds("alice", "nope"));
  auto b = req(bad, "GET", f.url("/v2/h/gun/_trust/tuf/root.json"));
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, "unauthorized");
  EXPECT_NE(b.error().message.find("refused"), std::string::npos) << b.error().message;
  EXPECT_EQ(b.error().message.find("nope"), std::string::npos);
  EXPECT_EQ(f.tokens(), 0u);
}

std::shared_ptr<net::HttpClient> native_http() {
  net::HttpClientOptions o;
  o.proxy = "";
  o.transport = net::HttpTransport::native;
  return std::make_shared<net::HttpClient>(value_or_raise(net::HttpClient::create(o)));
}

std::vector<net::HttpRequest> trust_gets(const FakeTrustServer& f) {
  std::vector<net::HttpRequest> out;
  for (const char* file : {"root.json", "timestamp.json", "snapshot.json"}) {
    net::HttpRequest r;
    r.url = f.url(std::string("/v2/h/gun/_trust/tuf/") + file);
    out.push_back(std::move(r));
  }
  return out;
}

// Pipelined GETs meet the challenge as send() does: one token, then the refused requests
// once more, pipelined, with it; later pipelines carry it from the start.
TEST(TrustAuthSession, PipelinedGetsAuthenticateOnceAndGoOutAgain) {
  FakeTrustServer f;
  TrustAuthSession s(native_http(), f.host(), creds("alice", "pw"));
  auto answers = s.send_pipelined(trust_gets(f));
  ASSERT_EQ(answers.size(), 3u);
  for (const auto& a : answers) {
    ASSERT_TRUE(a) << a.error().describe();
    EXPECT_EQ(a->status, 200);
    EXPECT_EQ(a->body, "ok GET");
  }
  EXPECT_EQ(f.tokens(), 1u);
  auto reqs = f.srv->requests();
  ASSERT_EQ(reqs.size(), 7u);  // 3 refused, the token, 3 with the token
  EXPECT_FALSE(reqs[2].headers.contains("Authorization"));
  EXPECT_EQ(reqs[6].headers.get("Authorization"), "Bearer tok-pull");
  EXPECT_EQ(reqs[6].target, "/v2/h/gun/_trust/tuf/snapshot.json");
  answers = s.send_pipelined(trust_gets(f));
  for (const auto& a : answers) ASSERT_TRUE(a && a->status == 200);
  EXPECT_EQ(f.srv->requests().size(), 10u);
  EXPECT_EQ(f.tokens(), 1u);
}

// Without credentials the 401s are left as answers (the caller drops them); send() then
// gives the usual error.
TEST(TrustAuthSession, PipelinedGetsWithoutCredentialsLeaveThe401s) {
  FakeTrustServer f;
  TrustAuthSession s(native_http(), f.host(),
                     [] { return Result<std::optional<Credentials>>(std::nullopt); });
  auto answers = s.send_pipelined(trust_gets(f));
  ASSERT_EQ(answers.size(), 3u);
  for (const auto& a : answers) {
    ASSERT_TRUE(a) << a.error().describe();
    EXPECT_EQ(a->status, 401);
  }
  auto r = req(s, "GET", f.url("/v2/h/gun/_trust/tuf/root.json"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "unauthorized");
  EXPECT_EQ(f.tokens(), 0u);
}

}  // namespace
