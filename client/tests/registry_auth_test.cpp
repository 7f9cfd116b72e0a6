// Token auth and refusal of tampered content, against scripted loopback registries.
#include <gtest/gtest.h>

#include "client/tests/image_builder.h"
#include "client/tests/test_util.h"
#include "client/transfer.h"
#include "common/encoding.h"
#include "net/testing/loopback_server.h"

using namespace docket;
using namespace docket::client;
namespace fs = std::filesystem;
using net::testing::LoopbackServer;

namespace {
Reference R(const std::string& s) {
  return value_or_raise(Reference::parse(s));
}
std::shared_ptr<RegistryClient> client_for(const std::string& domain,
                                           std::optional<Credentials> c = std::nullopt) {
  RegistryOptions o;
  o.insecure_http = true;
  return value_or_raise(RegistryClient::create(domain, std::move(c), o));
}

// A read-only registry serving blobs/manifests from a map, optionally behind token auth.
struct FakeRegistry {
  std::map<std::string, std::pair<std::string, std::string>> manifests;  // ref → (type, bytes)
  std::map<std::string, std::string> blobs;                              // digest → bytes
  bool token_auth = false;
  std::vector<std::string> token_requests;
  std::mutex mu;
  std::unique_ptr<LoopbackServer> srv;
  FakeRegistry() {
    srv = std::make_unique<LoopbackServer>([this](LoopbackServer::Connection& c) { serve(c); });
  }
  std::string domain() const { return "127.0.0.1:" + std::to_string(srv->port()); }
  void serve(LoopbackServer::Connection& c) {
    while (auto req = c.read_request()) {
      std::lock_guard l(mu);
      const std::string& t = req->target;
      if (t == "/token" && req->method == "POST") {
        // OAuth2 refresh-token grant: only the identity token "rt-9" is good.
        token_requests.push_back("POST " + req->body +
                                 " ct=" + req->headers.get("Content-Type").value_or("") +
                                 " auth=" + req->headers.get("Authorization").value_or(""));
        if (req->body.find("grant_type=refresh_token&refresh_token=rt-9&") == std::string::npos) {
          c.respond(401, {}, R"({"error":"invalid_grant","error_description":"bad token"})");
          continue;
        }
        c.respond(200, {{"Content-Type", "application/json"}},
                  R"({"access_token":"tok-123","token_type":"Bearer"})");
        continue;
      }
      if (t.starts_with("/token?")) {
        token_requests.push_back(t + " auth=" + req->headers.get("Authorization").value_or(""));
        if (req->headers.get("Authorization") != "Basic " + base64_encode("bob:pw")) {
          c.respond(401, {}, R"({"errors":[{"code":"UNAUTHORIZED","message":"bad creds"}]})");
          continue;
        }
        c.respond(200, {{"Content-Type", "application/json"}}, R"({"token":"tok-123"})");
        continue;
      }
      if (token_auth && req->headers.get("Authorization") != "Bearer tok-123") {
        c.respond(
            401,
            {{"WWW-Authenticate", "Bearer realm=\"http://" + domain() +
                                      "/token\",service=\"fake\",scope=\"repository:app:pull\""}},
            R"({"errors":[{"code":"UNAUTHORIZED","message":"auth required"}]})");
        continue;
      }
      if (t == "/v2/") {
        c.respond(200, {}, "{}");
        continue;
      }
      const std::string mp = "/v2/app/manifests/", bp = "/v2/app/blobs/";
      if (t.starts_with(mp) && manifests.count(t.substr(mp.size()))) {
        auto& [type, bytes] = manifests[t.substr(mp.size())];
        c.respond(200, {{"Content-Type", type}}, req->method == "HEAD" ? "" : bytes);
      } else if (t.starts_with(bp) && blobs.count(t.substr(bp.size()))) {
        c.respond(200, {}, blobs[t.substr(bp.size())]);
      } else {
        c.respond(404, {}, R"({"errors":[{"code":"NOT_FOUND","message":"unknown"}]})");
      }
    }
  }
  // Serves the image built in `s`.
  void publish(ImageStore& s, const test::BuiltImage& img, const std::string& tag) {
    std::lock_guard l(mu);
    auto mb = *s.read_blob(img.manifest.digest, 1 << 20);
    manifests[tag] = {std::string(media::kOciManifest), mb};
    manifests[img.manifest.digest.str()] = {std::string(media::kOciManifest), mb};
    for (const auto& d : img.layers) blobs[d.digest.str()] = *s.read_blob(d.digest, 1 << 24);
    blobs[img.config.digest.str()] = *s.read_blob(img.config.digest, 1 << 24);
  }
};
}  // namespace

TEST(RegistryAuth, ParsesChallenges) {
  auto c = parse_www_authenticate(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->params["realm"], "https://auth.example/token");
  EXPECT_EQ(c->params["scope"], "repository:a/b:pull,push");
  auto b = parse_www_authenticate(R"(Basic realm="x \"y\"")");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->params["realm"], "x \"y\"");
  EXPECT_FALSE(parse_www_authenticate(R"(Bearer realm="unterminated)"));
  EXPECT_FALSE(parse_www_authenticate(""));
}

// A token-auth FakeRegistry serving one image as app:1, and an empty store to pull into.
struct TokenRegistryWithImage {
  FakeRegistry fake;
  test::TempDir d;
  ImageStore src = *ImageStore::open(d.path / "s");
  test::BuiltImage img;
  ImageStore dst = *ImageStore::open(d.path / "d");
  TokenRegistryWithImage(int layers, std::size_t layer_bytes) {
    fake.token_auth = true;
    img = test::build_image(src, layers, layer_bytes);
    fake.publish(src, img, "1");
  }
};

TEST(RegistryAuth, BearerTokenFlow) {
  TokenRegistryWithImage t(2, 1000);
  auto& [fake, d, s, img, dst] = t;
  auto anon =
      pull_image(*client_for(fake.domain()), dst, R(fake.domain() + "/app:1"), PullOptions{});
  ASSERT_FALSE(anon);
  EXPECT_EQ(anon.error().code, "unauthorized");
  auto c = client_for(fake.domain(), Credentials{"bob", "pw", ""});
  auto pulled = pull_image(*c, dst, R(fake.domain() + "/app:1"), PullOptions{});
  ASSERT_TRUE(pulled) << pulled.error().describe();
  EXPECT_EQ(pulled->target.digest, img.manifest.digest);
  // One token for the repository's pull scope, reused by every later request.
  EXPECT_EQ(c->counters()["token"], 1);
  ASSERT_FALSE(fake.token_requests.empty());
  EXPECT_NE(fake.token_requests.back().find("service=fake"), std::string::npos);
  EXPECT_NE(fake.token_requests.back().find("scope=repository%3Aapp%3Apull"), std::string::npos);
}

TEST(RegistryTamper, SwappedBlobIsRefusedAndNothingStored) {
  FakeRegistry fake;
  test::TempDir d;
  auto s = *ImageStore::open(d.path / "s");
  auto img = test::build_image(s, 3, 50000);
  fake.publish(s, img, "1");
  fake.blobs[img.layers[1].digest.str()][100] ^= 1;  // one bit flipped in a layer
  auto dst = *ImageStore::open(d.path / "d");
  auto r = pull_image(*client_for(fake.domain()), dst, R(fake.domain() + "/app:1"), PullOptions{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "hash_mismatch");
  EXPECT_EQ(r.error().fault, Fault::remote);
  EXPECT_NE(r.error().message.find(img.layers[1].digest.str()), std::string::npos);
  EXPECT_FALSE(dst.has_blob(img.layers[1].digest));
  EXPECT_FALSE(*dst.resolve(R(fake.domain() + "/app:1")));
  EXPECT_TRUE(fs::is_empty(d.path / "d" / "ingest"));
  // A truncated blob likewise.
  fake.publish(s, img, "1");
  fake.blobs[img.layers[2].digest.str()].resize(10);
  auto dst2 = *ImageStore::open(d.path / "d2");
  auto t = pull_image(*client_for(fake.domain()), dst2, R(fake.domain() + "/app:1"), PullOptions{});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, "hash_mismatch");
  EXPECT_FALSE(dst2.has_blob(img.layers[2].digest));
}

TEST(RegistryTamper, SwappedManifestIsRefused) {
  FakeRegistry fake;
  test::TempDir d;
  auto s = *ImageStore::open(d.path / "s");
  auto img = test::build_image(s, 1, 1000);
  auto other = test::build_image(s, 1, 1000);
  fake.publish(s, img, "1");
  fake.publish(s, other, "2");
  // The registry answers a by-digest request for img with other's manifest.
  fake.manifests[img.manifest.digest.str()] = fake.manifests["2"];
  auto dst = *ImageStore::open(d.path / "d");
  auto r = pull_image(*client_for(fake.domain()), dst,
                      R(fake.domain() + "/app@" + img.manifest.digest.str()), PullOptions{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "hash_mismatch");
  // A trusted descriptor (as content trust supplies) pins the tag to img: the same swap is
  // refused even though the request names a tag.
  PullOptions po;
  po.trusted = img.manifest;
  auto t = pull_image(*client_for(fake.domain()), dst, R(fake.domain() + "/app:1"), po);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, "hash_mismatch");
  EXPECT_TRUE(dst.list()->empty());
}

// An identity token (what a credential helper returns for the "<token>" user, or what login
// stored) is exchanged with an OAuth2 refresh-token POST, never sent as a password; a
// refused one is user/unauthorized and the token appears in no error.
TEST(RegistryAuth, IdentityTokenUsesTheOAuthRefreshGrant) {
  TokenRegistryWithImage t(1, 100);
  auto& [fake, d, s, img, dst] = t;
  auto c = client_for(fake.domain(), Credentials{"", "", "rt-9"});
  auto pulled = pull_image(*c, dst, R(fake.domain() + "/app:1"), PullOptions{});
  ASSERT_TRUE(pulled) << pulled.error().describe();
  EXPECT_EQ(pulled->target.digest, img.manifest.digest);
  ASSERT_FALSE(fake.token_requests.empty());
  const std::string& post = fake.token_requests.back();
  EXPECT_TRUE(post.starts_with("POST grant_type=refresh_token&refresh_token=rt-9&")) << post;
  EXPECT_NE(post.find("client_id=docket"), std::string::npos) << post;
  EXPECT_NE(post.find("service=fake"), std::string::npos) << post;
  EXPECT_NE(post.find("scope=repository%3Aapp%3Apull"), std::string::npos) << post;
  EXPECT_NE(post.find("ct=application/x-www-form-urlencoded"), std::string::npos) << post;
  EXPECT_TRUE(post.ends_with("auth=")) << post;

  auto bad = client_for(fake.domain(), Credentials{"", "", "rt-stale"});
  auto refused = pull_image(*bad, dst, R(fake.domain() + "/app:1"), PullOptions{});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "unauthorized");
  EXPECT_NE(refused.error().message.find("identity token"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(refused.error().message.find("rt-stale"), std::string::npos);
}
