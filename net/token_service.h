// The pieces a server mounts for authentication, as pure functions of a request:
//
//  - TokenService: the Docker token endpoint. GET ?service=&scope=&account=[&offline_token=
//    true] with optional Basic credentials, and the OAuth2 POST form (grant_type=password |
//    refresh_token). Returns status + headers + JSON body.
//  - Authorizer: middleware for resource servers (registry, trust server). Given the
//    Authorization header and the scopes a request needs, it allows the request or returns
//    the 401 and the WWW-Authenticate challenge to send. HtpasswdAuthorizer checks Basic
//    credentials; TokenAuthorizer checks Bearer tokens from a TokenService.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/error.h"
#include "common/time.h"
#include "net/auth.h"
#include "net/htpasswd.h"
#include "net/http_client.h"
#include "net/token.h"

namespace docket::net {

// Where user names and passwords are checked.
class CredentialStore {
 public:
  virtual ~CredentialStore() = default;
  virtual bool verify(std::string_view user, std::string_view password) const = 0;
  // credential_fingerprint() of the user's stored credential, or nullopt for unknown users.
  virtual std::optional<std::string> fingerprint(std::string_view user) const = 0;
};

// htpasswd-backed store. Successful verifications are remembered for `cache_ttl` (keyed by
// an HMAC of user and password under a per-process random key, never the password), so a
// client presenting Basic credentials on every request does not pay bcrypt every time.
class HtpasswdCredentials : public CredentialStore {
 public:
  static constexpr std::chrono::seconds kDefaultCacheTtl{60};
  static constexpr std::size_t kMaxCacheEntries = 4096;

  explicit HtpasswdCredentials(Htpasswd file, std::chrono::seconds cache_ttl = kDefaultCacheTtl);
  bool verify(std::string_view user, std::string_view password) const override;
  std::optional<std::string> fingerprint(std::string_view user) const override;

 private:
  Htpasswd file_;
  std::chrono::seconds ttl_;
  std::string hmac_key_;
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, std::chrono::steady_clock::time_point> cache_;
};

// A server's view of a request, enough for the auth endpoints.
struct AuthRequest {
  std::string method;
  std::string query;  // raw query string without '?'
  HttpHeaders headers;
  std::string body;
};

struct AuthResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;  // JSON
};

struct TokenServiceOptions {
  std::string service;           // expected "service" parameter, and the token audience
  std::string realm = "docket";  // realm of the Basic challenge sent on 401
  bool allow_anonymous = true;   // requests without credentials get anonymous grants
};

class TokenService {
 public:
  TokenService(std::shared_ptr<const CredentialStore> credentials, AccessPolicy policy,
               TokenIssuer issuer, TokenVerifier refresh_verifier, TokenServiceOptions options);

  AuthResponse handle(const AuthRequest& request, TimePoint now) const;

 private:
  AuthResponse handle_get(const AuthRequest& r, TimePoint now) const;
  AuthResponse handle_post(const AuthRequest& r, TimePoint now) const;

  std::shared_ptr<const CredentialStore> creds_;
  AccessPolicy policy_;
  TokenIssuer issuer_;
  TokenVerifier refresh_verifier_;
  TokenServiceOptions options_;
};

// ---- resource-server middleware ----

struct AuthDecision {
  bool allowed = false;
  std::string subject;  // user name ("" anonymous)
  // When not allowed: the status (401, or 403 when an authenticated user lacks rights under
  // HtpasswdAuthorizer's policy), the WWW-Authenticate value (empty with 403), and a
  // docs/errors.md code ("unauthorized", "invalid_token", "insufficient_scope", "denied")
  // with a message for the body.
  int status = 0;
  std::string www_authenticate;
  std::string code;
  std::string message;
};

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // `authorization`: the request's Authorization header, if any. `required`: what the
  // request needs (e.g. repository:<name>:pull for a manifest GET).
  virtual AuthDecision authorize(const std::optional<std::string>& authorization,
                                 const std::vector<Scope>& required, TimePoint now) const = 0;
};

// Basic auth against a CredentialStore; any valid user may do what `policy` allows
// (default: everything, as distribution's htpasswd mode).
class HtpasswdAuthorizer : public Authorizer {
 public:
  HtpasswdAuthorizer(std::shared_ptr<const CredentialStore> creds, std::string realm,
                     AccessPolicy policy = AccessPolicy::authenticated_full_access());
  AuthDecision authorize(const std::optional<std::string>& authorization,
                         const std::vector<Scope>& required, TimePoint now) const override;

 private:
  std::shared_ptr<const CredentialStore> creds_;
  std::string realm_;
  AccessPolicy policy_;
};

// Bearer tokens. `realm` is the token endpoint URL clients are sent to; the challenge names
// the service and the required scopes.
class TokenAuthorizer : public Authorizer {
 public:
  TokenAuthorizer(TokenVerifier verifier, std::string realm);
  AuthDecision authorize(const std::optional<std::string>& authorization,
                         const std::vector<Scope>& required, TimePoint now) const override;

 private:
  TokenVerifier verifier_;
  std::string realm_;
};

}  // namespace docket::net
