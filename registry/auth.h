// Authentication and authorization for the registry routes, built on net/'s auth modules
// (htpasswd Basic auth, Docker token spec). Every route tagged "registry" needs the scope
// its action tag names:
//   base    -> authentication only (GET /v2/ answers 401 with the challenge)
//   catalog -> registry:catalog:*
//   pull    -> repository:<name>:pull
//   push    -> repository:<name>:pull,push
//   delete  -> repository:<name>:delete
// plus repository:<from>:pull for a cross-repository mount (checked in the handler).
// Routes tagged "no-auth" (health, metrics, the token endpoint) are never challenged.
#pragma once

#include <memory>
#include <vector>

#include "net/auth.h"
#include "net/rate_limit.h"
#include "net/router.h"
#include "net/token_service.h"
#include "registry/config.h"
#include "registry/http.h"

namespace docket::registry {

std::vector<net::Scope> required_scopes(const net::Request& req);

struct AuthSetup {
  std::shared_ptr<const net::Authorizer> authorizer;       // null: no auth configured
  std::shared_ptr<const net::TokenService> token_service;  // built-in issuer, when configured
  bool anonymous_pull = false;
};

// From auth.* in the config. Error{user, "config"} for unreadable files or a token realm
// without a signing key.
Result<AuthSetup> make_auth(const Config& c);

// Installs the middleware (and GET/POST /auth/token when the built-in issuer is on) and
// sets opts.may_pull for mounts. Call before install_routes() so auth runs first.
void install_auth(net::Router& router, const AuthSetup& setup, HttpOptions& opts);

// Docker Hub style pull limit: every GET of a manifest (routes tagged "manifest-pull")
// costs one from the client's bucket (the authenticated user, else the remote address).
// Answers carry RateLimit-Limit / RateLimit-Remaining; beyond the limit, 429
// TOOMANYREQUESTS with Retry-After. Install after install_auth() so users are known.
void install_rate_limit(net::Router& router, std::shared_ptr<net::RateLimiter> limiter);

}  // namespace docket::registry
