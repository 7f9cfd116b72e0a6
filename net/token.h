// Docker registry token authentication (distribution's "token" auth): access policy, token
// issuer and verifier. Pure: keys, policy and the clock come in as values.
//
// Access token claims: iss, sub, aud, exp, nbf, iat, jti and
//   "access": [{"type":"repository","name":"library/alpine","actions":["pull","push"]}]
// ("class" when the scope had one). Refresh tokens (for the OAuth2 endpoint) are JWTs signed
// by the same key with a "docket_refresh" claim instead of "access"; the verifier refuses them
// as access tokens.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "common/time.h"
#include "net/auth.h"
#include "net/jwt.h"

namespace docket::net {

inline constexpr std::chrono::seconds kDefaultTokenTtl{300};
inline constexpr std::chrono::seconds kMaxTokenTtl{24 * 3600};
inline constexpr std::chrono::seconds kDefaultRefreshTokenTtl{30 * 24 * 3600};
// Clock skew tolerated on exp/nbf/iat (as distribution's token verifier).
inline constexpr std::chrono::seconds kTokenLeeway{60};
inline constexpr std::size_t kMaxAccessEntries = 64;

// ---- access policy ----

// One grant: `account` is a user name, "*" (any authenticated user) or "" (anonymous
// requests only). `name` is a glob where '*' matches any run of characters (including '/')
// and "${account}" matches the requesting user's name literally. `actions` may hold "*"
// (every action, including "*" itself, which Notary uses for delete).
struct AccessRule {
  std::string account;
  std::string type = "repository";
  std::string resource_class;  // must equal the requested scope's class ("" usually)
  std::string name;
  std::vector<std::string> actions;
};

class AccessPolicy {
 public:
  AccessPolicy() = default;
  explicit AccessPolicy(std::vector<AccessRule> rules) : rules_(std::move(rules)) {}
  // {"rules":[{"account":"*","type":"repository","name":"${account}/*","actions":["*"]}, ...]}
  // Error{user, "config"} naming the bad rule.
  static Result<AccessPolicy> from_json(const Json& j);
  // Every authenticated user may do everything; anonymous users nothing.
  static AccessPolicy authenticated_full_access();

  // Actions `account` ("" = anonymous) holds on the scope's resource, from all matching rules.
  std::vector<std::string> allowed_actions(std::string_view account, const Scope& resource) const;
  // The Docker token spec's grant: for each requested scope, requested ∩ allowed (all of
  // the requested actions when "*" is allowed); scopes with nothing granted are dropped.
  std::vector<Scope> grant(std::string_view account, const std::vector<Scope>& requested) const;

  const std::vector<AccessRule>& rules() const { return rules_; }

 private:
  std::vector<AccessRule> rules_;
};

// ---- claims ----

Json access_to_json(const std::vector<Scope>& access);
// Strict: each entry an object with string type/name, optional string class, array of
// action strings; Error{remote, "invalid_token"} otherwise.
Result<std::vector<Scope>> access_from_json(const Json& j);

std::int64_t unix_seconds(TimePoint t);
TimePoint from_unix_seconds(std::int64_t s);

// ---- issuer ----

struct TokenIssuerOptions {
  std::string issuer;  // "iss"; verifiers must be configured with the same string
  std::chrono::seconds ttl = kDefaultTokenTtl;
  std::chrono::seconds refresh_ttl = kDefaultRefreshTokenTtl;
  bool include_x5c = true;  // when the signing key has a certificate chain
};

struct IssuedToken {
  std::string token;
  TimePoint issued_at;
  TimePoint expires_at;
  std::chrono::seconds expires_in{0};
  std::string id;  // jti
};

class TokenIssuer {
 public:
  // Error{user, "config"} for an empty issuer or a ttl outside (0, kMaxTokenTtl].
  static Result<TokenIssuer> create(JwsSigningKey key, TokenIssuerOptions options);

  Result<IssuedToken> issue(std::string_view subject, std::string_view audience,
                            const std::vector<Scope>& granted, TimePoint now) const;
  // `fingerprint` binds the refresh token to the user's current credential (see
  // credential_fingerprint()): changing the password invalidates it.
  Result<IssuedToken> issue_refresh(std::string_view subject, std::string_view audience,
                                    std::string_view fingerprint, TimePoint now) const;

  const TokenIssuerOptions& options() const { return options_; }
  const JwsSigningKey& key() const { return key_; }

 private:
  TokenIssuer(JwsSigningKey k, TokenIssuerOptions o) : key_(std::move(k)), options_(std::move(o)) {}
  JwsSigningKey key_;
  TokenIssuerOptions options_;
};

// ---- verifier ----

struct TokenVerifierOptions {
  std::string issuer;    // expected "iss"
  std::string audience;  // expected in "aud" (the service name)
  std::chrono::seconds leeway = kTokenLeeway;
};

struct VerifiedToken {
  std::string subject;  // "" for anonymous
  std::vector<Scope> access;
  TimePoint expires_at;
  std::string id;
  std::string key_id;
  // Whether the token grants `action` on the resource ("*" held implies every action).
  bool allows(std::string_view type, std::string_view name, std::string_view action,
              std::string_view resource_class = "") const;
  // Whether every required scope is covered.
  bool allows_all(const std::vector<Scope>& required) const;
};

struct VerifiedRefresh {
  std::string subject;
  std::string fingerprint;
  TimePoint expires_at;
};

class TokenVerifier {
 public:
  TokenVerifier(JwsTrust trust, TokenVerifierOptions options)
      : trust_(std::move(trust)), options_(std::move(options)) {}

  // Signature (verify_jws), then iss, aud, exp/nbf/iat with leeway, sub, access.
  // Error{remote, "invalid_token"} naming the failed check.
  Result<VerifiedToken> verify(std::string_view token, TimePoint now) const;
  Result<VerifiedRefresh> verify_refresh(std::string_view token, TimePoint now) const;

  const TokenVerifierOptions& options() const { return options_; }

 private:
  Result<Json> verify_common(std::string_view token, TimePoint now, std::string* key_id) const;
  JwsTrust trust_;
  TokenVerifierOptions options_;
};

// Short stable fingerprint of a stored credential (e.g. a bcrypt hash): hex of the first
// 16 bytes of its SHA-256. Never the credential itself.
std::string credential_fingerprint(std::string_view stored_credential);

}  // namespace docket::net
