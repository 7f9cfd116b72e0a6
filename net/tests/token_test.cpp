// JWS, token issuer/verifier (with adversarial tokens), access policy, token endpoint and
// the resource-server authorizers.
#include "net/token.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/encoding.h"
#include "net/htpasswd.h"
#include "net/jwt.h"
#include "net/testing/tls_testing.h"
#include "net/token_service.h"

namespace docket::net {
namespace {

using namespace std::chrono_literals;

// Certificates from the test PKI are valid around the real time, so tokens are too.
const TimePoint kNow = from_unix_seconds(unix_seconds(now()));

Scope S(std::string_view s) {
  return parse_scope(s).value();
}

// A CA, a token-signing certificate under it, and keys.
struct Pki {
  testing::PemKeyCert ca, signer, rogue_ca, rogue_signer;
  static Pki make(testing::KeyKind kind = testing::KeyKind::ec_p256) {
    Pki p;
    testing::CertSpec ca{.common_name = "token CA", .key_kind = kind};
    p.ca = testing::make_self_signed_ca(ca).value();
    testing::CertSpec leaf{.common_name = "token signer", .key_kind = kind};
    p.signer = testing::issue_certificate(p.ca, leaf).value();
    p.rogue_ca = testing::make_self_signed_ca(ca).value();
    p.rogue_signer = testing::issue_certificate(p.rogue_ca, leaf).value();
    return p;
  }
};

const Pki& ec_pki() {
  static const Pki p = Pki::make();
  return p;
}

TEST(Jws, LibtrustKeyIdFormat) {
  auto kid = libtrust_key_id(ec_pki().signer.cert_pem);
  ASSERT_TRUE(kid) << kid.error().describe();
  // 12 groups of 4 base32 characters.
  ASSERT_EQ(kid->size(), 12u * 4 + 11);
  for (std::size_t i = 0; i < kid->size(); ++i) {
    if (i % 5 == 4)
      EXPECT_EQ((*kid)[i], ':');
    else
      EXPECT_TRUE(std::isupper(static_cast<unsigned char>((*kid)[i])) ||
                  ((*kid)[i] >= '2' && (*kid)[i] <= '7'));
  }
  // Certificate, private key and signing key agree.
  EXPECT_EQ(libtrust_key_id(ec_pki().signer.key_pem).value(), *kid);
  auto key = JwsSigningKey::from_pem(ec_pki().signer.key_pem).value();
  EXPECT_EQ(key.key_id(), *kid);
  EXPECT_EQ(libtrust_key_id(key.public_key_pem()).value(), *kid);
}

TEST(Jws, SigningKeyChecks) {
  EXPECT_FALSE(JwsSigningKey::from_pem("not a key"));
  // Chain whose leaf does not match the key.
  auto bad = JwsSigningKey::from_pem(ec_pki().signer.key_pem, ec_pki().ca.cert_pem);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "bad_key");
  auto ok = JwsSigningKey::from_pem(ec_pki().signer.key_pem,
                                    ec_pki().signer.cert_pem + ec_pki().ca.cert_pem);
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(ok->alg(), JwsAlg::es256);
  EXPECT_EQ(ok->x5c().size(), 2u);
}

// ---- issuer / verifier ----

class Tokens : public ::testing::Test {
 protected:
  static constexpr const char* kIss = "docket-token-issuer";
  static constexpr const char* kAud = "registry.example";

  JwsSigningKey chain_key() const {
    return JwsSigningKey::from_pem(pki_.signer.key_pem, pki_.signer.cert_pem + pki_.ca.cert_pem)
        .value();
  }
  TokenIssuer issuer(JwsSigningKey key) const {
    return TokenIssuer::create(std::move(key), {.issuer = kIss}).value();
  }
  TokenVerifier verifier(const std::string& bundle) const {
    return TokenVerifier(JwsTrust::from_pem_bundle(bundle).value(), {kIss, kAud, kTokenLeeway});
  }
  // Claims as the issuer writes them, for forging variants.
  Json claims(std::int64_t exp_offset = 300) const {
    auto n = unix_seconds(kNow);
    return Json{{"iss", kIss}, {"sub", "alice"},
                {"aud", kAud}, {"exp", n + exp_offset},
                {"nbf", n},    {"iat", n},
                {"jti", "j1"}, {"access", access_to_json({S("repository:team/app:pull")})}};
  }
  std::string forge(const Json& header, const Json& c) const {
    return chain_key().sign_with_header(header, c).value();
  }
  Json kid_header(std::string alg = "ES256") const {
    return Json{{"typ", "JWT"}, {"alg", alg}, {"kid", chain_key().key_id()}};
  }

  const Pki& pki_ = ec_pki();
};

TEST_F(Tokens, IssuedTokenVerifiesViaX5cAndViaKid) {
  auto tok = issuer(chain_key()).issue("alice", kAud, {S("repository:team/app:pull,push")}, kNow);
  ASSERT_TRUE(tok) << tok.error().describe();
  EXPECT_EQ(tok->expires_in, kDefaultTokenTtl);
  // x5c chain to the CA in the bundle.
  auto v = verifier(pki_.ca.cert_pem).verify(tok->token, kNow);
  ASSERT_TRUE(v) << v.error().describe();
  EXPECT_EQ(v->subject, "alice");
  EXPECT_TRUE(v->allows("repository", "team/app", "push"));
  EXPECT_EQ(v->id, tok->id);
  // Without x5c: the kid names the signer certificate in the bundle.
  auto plain =
      TokenIssuer::create(JwsSigningKey::from_pem(pki_.signer.key_pem).value(), {.issuer = kIss})
          .value();
  auto tok2 = plain.issue("alice", kAud, {S("repository:team/app:pull")}, kNow).value();
  EXPECT_TRUE(verifier(pki_.signer.cert_pem).verify(tok2.token, kNow));
  // ... but the CA alone does not make a bare kid trusted.
  EXPECT_FALSE(verifier(pki_.ca.cert_pem).verify(tok2.token, kNow));
}

TEST_F(Tokens, RsaTokensVerify) {
  static const Pki rsa = Pki::make(testing::KeyKind::rsa_2048);
  auto key = JwsSigningKey::from_pem(rsa.signer.key_pem, rsa.signer.cert_pem).value();
  EXPECT_EQ(key.alg(), JwsAlg::rs256);
  auto tok = issuer(key).issue("bob", kAud, {S("repository:x:pull")}, kNow).value();
  auto v = verifier(rsa.ca.cert_pem).verify(tok.token, kNow);
  ASSERT_TRUE(v) << v.error().describe();
  EXPECT_EQ(v->subject, "bob");
  // An ES256 header over an RSA signature is refused.
  auto c = claims();
  auto forged =
      key.sign_with_header(Json{{"alg", "ES256"}, {"kid", key.key_id()}, {"x5c", key.x5c()}}, c)
          .value();
  EXPECT_FALSE(verifier(rsa.ca.cert_pem).verify(forged, kNow));
}

TEST_F(Tokens, AdversarialTokensAreRejected) {
  const auto good_bundle = pki_.ca.cert_pem + pki_.signer.cert_pem;
  auto key = chain_key();
  auto n = unix_seconds(kNow);
  auto with = [&](std::function<void(Json&)> f) {
    auto c = claims();
    f(c);
    return forge(kid_header(), c);
  };
  auto b64 = [](std::string_view s) { return base64url_encode(s); };
  auto good = forge(kid_header(), claims());
  auto dot1 = good.find('.');
  auto dot2 = good.find('.', dot1 + 1);
  std::string good_sig = good.substr(dot2 + 1);

  // HS256 "signed" with the public key as the HMAC secret (classic alg confusion).
  std::string hs_input =
      b64(Json{{"alg", "HS256"}, {"kid", key.key_id()}}.dump()) + "." + b64(claims().dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  std::string pub = key.public_key_pem();
  HMAC(EVP_sha256(), pub.data(), static_cast<int>(pub.size()),
       reinterpret_cast<const unsigned char*>(hs_input.data()), hs_input.size(), mac, &mac_len);
  std::string hs256 = hs_input + "." + b64(std::string(reinterpret_cast<char*>(mac), mac_len));

  // Payload swapped for an escalated one, signature kept.
  auto escalated = claims();
  escalated["access"] = access_to_json({S("repository:team/app:*")});
  std::string tampered = good.substr(0, dot1) + "." + b64(escalated.dump()) + "." + good_sig;

  auto rogue = JwsSigningKey::from_pem(pki_.rogue_signer.key_pem,
                                       pki_.rogue_signer.cert_pem + pki_.rogue_ca.cert_pem)
                   .value();

  struct Case {
    std::string name;
    std::string token;
    std::string expect;  // substring of the error message
  } cases[] = {
      {"alg none", b64(R"({"alg":"none","typ":"JWT"})") + "." + b64(claims().dump()) + ".",
       "not accepted"},
      {"alg none with kid",
       b64(Json{{"alg", "none"}, {"kid", key.key_id()}}.dump()) + "." + b64(claims().dump()) + "." +
           good_sig,
       "not accepted"},
      {"HS256 confusion", hs256, "not accepted"},
      {"wrong alg for key", forge(kid_header("RS256"), claims()), "does not match"},
      {"expired", with([&](Json& c) { c["exp"] = n - kTokenLeeway.count() - 1; }), "expired"},
      {"no exp", with([&](Json& c) { c.erase("exp"); }), "no expiry"},
      {"exp not a number", with([&](Json& c) { c["exp"] = "tomorrow"; }), "not a number"},
      {"not yet valid", with([&](Json& c) { c["nbf"] = n + kTokenLeeway.count() + 5; }),
       "not valid before"},
      {"issued in the future", with([&](Json& c) { c["iat"] = n + 3600; }), "future"},
      {"wrong audience", with([&](Json& c) { c["aud"] = "other.example"; }), "audience"},
      {"audience array without ours", with([&](Json& c) {
         c["aud"] = Json::array({"a", "b"});
       }),
       "audience"},
      {"missing audience", with([&](Json& c) { c.erase("aud"); }), "audience"},
      {"wrong issuer", with([&](Json& c) { c["iss"] = "evil"; }), "issuer"},
      {"tampered payload", tampered, "signature is invalid"},
      {"truncated signature", good.substr(0, good.size() - 4), ""},
      {"signature of another token",
       forge(kid_header(), claims(600)).substr(0, dot2) + "." + good_sig, "signature"},
      {"unknown kid",
       forge(Json{{"alg", "ES256"},
                  {"kid", "AAAA:BBBB:CCCC:DDDD:EEEE:FFFF:GGGG:HHHH:IIII:JJJJ:KKKK:LLLL"}},
             claims()),
       "not trusted"},
      {"untrusted x5c chain", rogue.sign(claims()).value(), "x5c chain is not trusted"},
      {"untrusted key claiming a trusted kid",
       rogue.sign_with_header(kid_header(), claims()).value(), "signature is invalid"},
      {"no kid no x5c", forge(Json{{"alg", "ES256"}}, claims()), "neither x5c nor kid"},
      {"crit header",
       forge(Json{{"alg", "ES256"}, {"kid", key.key_id()}, {"crit", {"exp"}}}, claims()), "crit"},
      {"refresh token as access token", with([&](Json& c) {
         c.erase("access");
         c["docket_refresh"] = "fp";
       }),
       "refresh token"},
      {"access entry with number action", with([&](Json& c) {
         c["access"] = Json::array({Json{{"type", "repository"}, {"name", "a"}, {"actions", {1}}}});
       }),
       "not a string"},
      {"access not an array", with([&](Json& c) { c["access"] = "all"; }), "not an array"},
      {"four parts", good + ".x", "three"},
      {"padded base64", good.substr(0, dot1) + "=" + good.substr(dot1), "base64url"},
      {"garbage", "not-a-token", "three"},
      {"duplicate claim keys",
       good.substr(0, dot1) + "." + b64(R"({"iss":"docket-token-issuer","iss":"x"})") + "." +
           good_sig,
       ""},
      {"oversized", std::string(kMaxJwtBytes + 1, 'a'), "longer"},
  };
  auto v = verifier(good_bundle);
  ASSERT_TRUE(v.verify(good, kNow)) << "the unmodified token must verify";
  for (const auto& c : cases) {
    auto r = v.verify(c.token, kNow);
    ASSERT_FALSE(r) << c.name;
    EXPECT_EQ(r.error().code, "invalid_token") << c.name;
    EXPECT_EQ(r.error().fault, Fault::remote) << c.name;
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos)
        << c.name << ": " << r.error().message;
  }
}

TEST_F(Tokens, LeewayAndAudienceArray) {
  auto v = verifier(pki_.ca.cert_pem + pki_.signer.cert_pem);
  auto n = unix_seconds(kNow);
  auto c = claims();
  c["exp"] = n - kTokenLeeway.count() + 5;  // expired, but within the leeway
  c["nbf"] = n + 10;                        // slightly in the future, within the leeway
  c["aud"] = Json::array({"other", kAud});
  EXPECT_TRUE(v.verify(forge(kid_header(), c), kNow));
}

TEST_F(Tokens, ExpiredX5cCertificateIsRejected) {
  testing::CertSpec leaf{.common_name = "old signer",
                         .not_before = -std::chrono::hours(48),
                         .not_after = -std::chrono::hours(24)};
  auto old = testing::issue_certificate(pki_.ca, leaf).value();
  auto key = JwsSigningKey::from_pem(old.key_pem, old.cert_pem).value();
  auto tok = issuer(key).issue("alice", kAud, {}, now()).value();
  auto r = verifier(pki_.ca.cert_pem).verify(tok.token, now());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("expired"), std::string::npos) << r.error().message;
}

TEST_F(Tokens, ScopeEscalationIsNotGranted) {
  auto tok =
      issuer(chain_key()).issue("alice", kAud, {S("repository:team/app:pull")}, kNow).value();
  auto v = verifier(pki_.ca.cert_pem).verify(tok.token, kNow).value();
  EXPECT_TRUE(v.allows("repository", "team/app", "pull"));
  EXPECT_FALSE(v.allows("repository", "team/app", "push"));
  EXPECT_FALSE(v.allows("repository", "team/app", "*"));
  EXPECT_FALSE(v.allows("repository", "team/app2", "pull"));
  EXPECT_FALSE(v.allows("repository", "team", "pull"));
  EXPECT_FALSE(v.allows("registry", "team/app", "pull"));
  EXPECT_FALSE(v.allows("repository", "team/app", "pull", "plugin"));
  EXPECT_TRUE(v.allows_all({S("repository:team/app:pull")}));
  EXPECT_FALSE(v.allows_all({S("repository:team/app:pull,push")}));
}

// ---- policy ----

TEST(AccessPolicy, GrantsTheIntersection) {
  auto policy = AccessPolicy::from_json(Json::parse(R"({"rules":[
    {"account":"*","type":"repository","name":"${account}/*","actions":["*"]},
    {"account":"","type":"repository","name":"public/*","actions":["pull"]},
    {"account":"*","type":"repository","name":"public/*","actions":["pull"]},
    {"account":"ci","type":"repository","name":"public/*","actions":["push","pull"]},
    {"account":"admin","type":"registry","name":"catalog","actions":["*"]}
  ]})"));
  ASSERT_TRUE(policy) << policy.error().describe();
  auto g = [&](std::string_view account, std::vector<std::string> scopes) {
    return scopes_to_string(policy->grant(account, parse_scopes(scopes).value()));
  };
  EXPECT_EQ(g("alice", {"repository:alice/app:pull,push,delete"}),
            "repository:alice/app:delete,pull,push");
  EXPECT_EQ(g("alice", {"repository:alice/app:*"}), "repository:alice/app:*");  // Notary delete
  EXPECT_EQ(g("alice", {"repository:bob/app:pull"}), "");
  EXPECT_EQ(g("alice", {"repository:public/base:push,pull"}), "repository:public/base:pull");
  EXPECT_EQ(g("ci", {"repository:public/base:push,pull,delete"}),
            "repository:public/base:pull,push");
  EXPECT_EQ(g("", {"repository:public/base:push,pull"}), "repository:public/base:pull");
  EXPECT_EQ(g("", {"repository:alice/app:pull"}), "");  // ${account} never matches anonymous
  EXPECT_EQ(g("alice", {"registry:catalog:*"}), "");
  EXPECT_EQ(g("admin", {"registry:catalog:*"}), "registry:catalog:*");
  // "alice" must not match "alice2/..." through the placeholder.
  EXPECT_EQ(g("alice", {"repository:alice2/app:pull"}), "");
  // A user named like a glob is matched literally.
  EXPECT_EQ(g("*", {"repository:anything/x:pull"}), "");
}

TEST(AccessPolicy, NotaryScopes) {
  auto p =
      AccessPolicy({AccessRule{"signer", "repository", "", "docker.io/library/*", {"pull", "push"}},
                    AccessRule{"owner", "repository", "", "docker.io/library/*", {"*"}}});
  auto req = parse_scopes({"repository:docker.io/library/alpine:*"}).value();
  EXPECT_TRUE(p.grant("signer", req).empty()) << "\"*\" is only granted where \"*\" is allowed";
  EXPECT_EQ(scopes_to_string(p.grant("owner", req)), "repository:docker.io/library/alpine:*");
  auto pp = parse_scopes({"repository:docker.io/library/alpine:push,pull"}).value();
  EXPECT_EQ(scopes_to_string(p.grant("signer", pp)),
            "repository:docker.io/library/alpine:pull,push");
}

TEST(AccessPolicy, RejectsBadConfig) {
  for (auto text : {R"([])", R"({"rules":[{"account":"*"}]})",
                    R"({"rules":[{"account":1,"name":"x","actions":["pull"]}]})",
                    R"({"rules":[{"name":"x","actions":["pull"],"typo":1}]})"}) {
    auto p = AccessPolicy::from_json(Json::parse(text));
    EXPECT_FALSE(p) << text;
    if (!p) {
      EXPECT_EQ(p.error().code, "config");
    }
  }
}

// ---- token endpoint ----

class Endpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    Htpasswd h;
    ASSERT_TRUE(h.set_password("alice", "alice-pw", kMinBcryptCost));
    ASSERT_TRUE(h.set_password("ci", "ci-pw", kMinBcryptCost));
    htpasswd_ = h;
    rebuild();
  }
  void rebuild() {
    auto key = JwsSigningKey::from_pem(ec_pki().signer.key_pem,
                                       ec_pki().signer.cert_pem + ec_pki().ca.cert_pem)
                   .value();
    auto issuer = TokenIssuer::create(key, {.issuer = "iss"}).value();
    auto trust = JwsTrust::from_pem_bundle(ec_pki().ca.cert_pem).value();
    verifier_ =
        std::make_unique<TokenVerifier>(trust, TokenVerifierOptions{"iss", "reg", kTokenLeeway});
    auto policy = AccessPolicy({AccessRule{"*", "repository", "", "${account}/*", {"*"}},
                                AccessRule{"", "repository", "", "public/*", {"pull"}}});
    service_ = std::make_unique<TokenService>(std::make_shared<HtpasswdCredentials>(htpasswd_),
                                              policy, issuer, *verifier_,
                                              TokenServiceOptions{"reg", "docket-test", true});
  }
  AuthResponse get(std::string query, std::optional<std::string> authz = {}) {
    AuthRequest r{"GET", std::move(query), {}, ""};
    if (authz) r.headers.add("Authorization", *authz);
    return service_->handle(r, kNow);
  }
  AuthResponse post(std::string body, std::string ct = "application/x-www-form-urlencoded") {
    AuthRequest r{"POST", "", {{"Content-Type", ct}}, std::move(body)};
    return service_->handle(r, kNow);
  }
  VerifiedToken token_of(const AuthResponse& r, const char* field = "token") {
    auto j = Json::parse(r.body);
    auto v = verifier_->verify(j.at(field).get<std::string>(), kNow);
    EXPECT_TRUE(v) << v.error().describe();
    return v.value_or(VerifiedToken{});
  }

  Htpasswd htpasswd_;
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<TokenService> service_;
};

TEST_F(Endpoint, AnonymousGetGetsPolicyIntersection) {
  auto r = get(
      "service=reg&scope=repository%3Apublic%2Fbase%3Apull%2Cpush&scope=repository:alice/x:pull");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.get("Content-Type"), "application/json");
  EXPECT_EQ(r.headers.get("Cache-Control"), "no-store");
  auto j = Json::parse(r.body);
  EXPECT_EQ(j["token"], j["access_token"]);
  EXPECT_EQ(j["expires_in"], 300);
  EXPECT_EQ(j["issued_at"], format_rfc3339(kNow));
  EXPECT_FALSE(j.contains("refresh_token"));
  auto v = token_of(r);
  EXPECT_EQ(v.subject, "");
  EXPECT_EQ(scopes_to_string(v.access), "repository:public/base:pull");
}

TEST_F(Endpoint, BasicAuthenticatedGetWithOfflineToken) {
  auto r =
      get("service=reg&scope=repository:alice/"
          "app:push,pull&account=alice&offline_token=true&client_id=docker",
          basic_authorization("alice", "alice-pw"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto v = token_of(r);
  EXPECT_EQ(v.subject, "alice");
  EXPECT_TRUE(v.allows("repository", "alice/app", "push"));
  auto j = Json::parse(r.body);
  ASSERT_TRUE(j.contains("refresh_token"));
  // A refresh token is not an access token.
  EXPECT_FALSE(verifier_->verify(j["refresh_token"].get<std::string>(), kNow));
}

TEST_F(Endpoint, GetErrors) {
  auto bad_pw =
      get("service=reg&scope=repository:alice/app:pull", basic_authorization("alice", "nope"));
  EXPECT_EQ(bad_pw.status, 401);
  EXPECT_EQ(bad_pw.headers.get("WWW-Authenticate"), "Basic realm=\"docket-test\"");
  EXPECT_EQ(bad_pw.body.find("nope"), std::string::npos);
  auto unknown = get("service=reg", basic_authorization("mallory", "x"));
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(get("service=other&scope=repository:a:pull").status, 400);
  EXPECT_EQ(get("scope=repository:a:pull").status, 400);
  EXPECT_EQ(get("service=reg&scope=repository:a").status, 400);
  EXPECT_EQ(get("service=reg&account=ci", basic_authorization("alice", "alice-pw")).status, 400);
  AuthRequest put{"PUT", "service=reg", {}, ""};
  auto r = service_->handle(put, kNow);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.headers.get("Allow"), "GET, POST");
}

TEST_F(Endpoint, AnonymousCanBeDisabled) {
  auto key = JwsSigningKey::from_pem(ec_pki().signer.key_pem).value();
  TokenService strict(std::make_shared<HtpasswdCredentials>(htpasswd_), AccessPolicy{},
                      TokenIssuer::create(key, {.issuer = "iss"}).value(), *verifier_,
                      TokenServiceOptions{"reg", "realm", false});
  auto r = strict.handle(AuthRequest{"GET", "service=reg", {}, ""}, kNow);
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(r.headers.contains("WWW-Authenticate"));
}

TEST_F(Endpoint, OAuthPasswordAndRefreshGrants) {
  auto r = post(
      "grant_type=password&username=alice&password=alice-pw&service=reg&client_id=docket"
      "&access_type=offline&scope=repository%3Aalice%2Fapp%3Apull+repository%3Abob%2Fx%3Apull");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = Json::parse(r.body);
  EXPECT_EQ(j["token_type"], "Bearer");
  EXPECT_EQ(j["scope"], "repository:alice/app:pull");
  auto v = token_of(r, "access_token");
  EXPECT_EQ(v.subject, "alice");
  std::string refresh = j["refresh_token"];

  auto r2 = post("grant_type=refresh_token&refresh_token=" + refresh +
                 "&service=reg&client_id=docket&scope=repository:alice/app:push");
  ASSERT_EQ(r2.status, 200) << r2.body;
  auto v2 = token_of(r2, "access_token");
  EXPECT_EQ(v2.subject, "alice");
  EXPECT_TRUE(v2.allows("repository", "alice/app", "push"));

  // Password change invalidates the refresh token.
  ASSERT_TRUE(htpasswd_.set_password("alice", "new-pw", kMinBcryptCost));
  rebuild();
  auto r3 =
      post("grant_type=refresh_token&refresh_token=" + refresh + "&service=reg&client_id=docket");
  EXPECT_EQ(r3.status, 401);
  EXPECT_EQ(Json::parse(r3.body)["error"], "invalid_grant");
}

TEST_F(Endpoint, OAuthErrors) {
  struct Case {
    std::string body, ct;
    int status;
    std::string error;
  } cases[] = {
      {"grant_type=password&username=alice&password=bad&service=reg&client_id=c", "", 401,
       "invalid_grant"},
      {"grant_type=password&username=alice&password=alice-pw&service=reg", "", 400,
       "invalid_request"},
      {"grant_type=client_credentials&service=reg&client_id=c", "", 400, "unsupported_grant_type"},
      {"grant_type=refresh_token&refresh_token=abc&service=reg&client_id=c", "", 401,
       "invalid_grant"},
      {"grant_type=password&username=alice&password=alice-pw&service=reg&client_id=c",
       "application/json", 400, "invalid_request"},
      {"grant_type=password&username=alice&password=alice-pw&service=x&client_id=c", "", 400,
       "invalid_request"},
      {"grant_type=password&username=alice&password=alice-pw&service=reg&client_id=c&scope=bad", "",
       400, "invalid_scope"},
  };
  for (const auto& c : cases) {
    auto r = c.ct.empty() ? post(c.body) : post(c.body, c.ct);
    EXPECT_EQ(r.status, c.status) << c.body;
    EXPECT_EQ(Json::parse(r.body)["error"], c.error) << c.body;
  }
  // An access token is not a refresh token.
  auto a =
      get("service=reg&scope=repository:alice/app:pull", basic_authorization("alice", "alice-pw"));
  std::string access = Json::parse(a.body)["token"];
  auto r = post("grant_type=refresh_token&refresh_token=" + access + "&service=reg&client_id=c");
  EXPECT_EQ(r.status, 401);
}

// ---- authorizers ----

TEST_F(Endpoint, TokenAuthorizerChallenges) {
  TokenAuthorizer gate(*verifier_, "https://auth.example/token");
  auto need = std::vector<Scope>{S("repository:alice/app:push,pull")};
  auto d = gate.authorize(std::nullopt, need, kNow);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.status, 401);
  EXPECT_EQ(d.code, "unauthorized");
  auto ch = parse_www_authenticate(d.www_authenticate).value().at(0);
  EXPECT_TRUE(ch.is("Bearer"));
  EXPECT_EQ(ch.param("realm"), "https://auth.example/token");
  EXPECT_EQ(ch.param("service"), "reg");
  EXPECT_EQ(ch.param("scope"), "repository:alice/app:pull,push");
  EXPECT_FALSE(ch.param("error"));

  d = gate.authorize("Bearer not.a.token", need, kNow);
  EXPECT_EQ(d.code, "invalid_token");
  EXPECT_EQ(parse_www_authenticate(d.www_authenticate).value()[0].param("error"), "invalid_token");

  auto pull_only =
      get("service=reg&scope=repository:alice/app:pull", basic_authorization("alice", "alice-pw"));
  std::string tok = Json::parse(pull_only.body)["token"];
  d = gate.authorize("Bearer " + tok, need, kNow);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, "insufficient_scope");
  EXPECT_EQ(d.subject, "alice");
  EXPECT_EQ(parse_www_authenticate(d.www_authenticate).value()[0].param("error"),
            "insufficient_scope");
  d = gate.authorize("Bearer " + tok, {S("repository:alice/app:pull")}, kNow);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.subject, "alice");
  // Expired by the time it is used.
  d = gate.authorize("Bearer " + tok, {S("repository:alice/app:pull")}, kNow + 1h);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.code, "invalid_token");
}

TEST_F(Endpoint, HtpasswdAuthorizer) {
  auto creds = std::make_shared<HtpasswdCredentials>(htpasswd_);
  HtpasswdAuthorizer gate(creds, "docket registry");
  auto need = std::vector<Scope>{S("repository:x/y:push")};
  auto d = gate.authorize(std::nullopt, need, kNow);
  EXPECT_EQ(d.status, 401);
  EXPECT_EQ(d.www_authenticate, "Basic realm=\"docket registry\"");
  EXPECT_FALSE(gate.authorize(basic_authorization("alice", "wrong"), need, kNow).allowed);
  EXPECT_FALSE(gate.authorize("Bearer abc", need, kNow).allowed);
  // Twice: the second answer comes from the verification cache and must agree.
  for (int i = 0; i < 2; ++i) {
    auto ok = gate.authorize(basic_authorization("alice", "alice-pw"), need, kNow);
    EXPECT_TRUE(ok.allowed);
    EXPECT_EQ(ok.subject, "alice");
  }
  EXPECT_FALSE(gate.authorize(basic_authorization("alice", "alice-pw "), need, kNow).allowed);

  HtpasswdAuthorizer limited(
      creds, "r", AccessPolicy({AccessRule{"*", "repository", "", "${account}/*", {"*"}}}));
  auto denied = limited.authorize(basic_authorization("alice", "alice-pw"), need, kNow);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.code, "denied");
  EXPECT_TRUE(limited
                  .authorize(basic_authorization("alice", "alice-pw"),
                             {S("repository:alice/y:push,pull")}, kNow)
                  .allowed);
}

}  // namespace
}  // namespace docket::net
