// Mounts the trust service on docket's HTTP router (net/router.h), so the same API runs
// alone (`docket-server trust`) or beside the registry on one port (`docket-server serve`).
#pragma once

#include <memory>
#include <vector>

#include "net/auth.h"
#include "net/router.h"
#include "net/token_service.h"
#include "trustserver/service.h"

namespace docket::trustserver {

struct MountOptions {
  // Token (or Basic) authentication of every trust route except health; null: none. In
  // `serve` this is built from the same auth.* configuration as the registry's, so one token
  // endpoint serves both APIs.
  std::shared_ptr<const net::Authorizer> authorizer;
  // Requests without an Authorization header that only need `pull` pass without a token
  // (auth.anonymous_pull).
  bool anonymous_pull = false;
};

// The Docker token-spec scopes a request needs (Notary's, see access_for()):
//   repository:<gun>:pull        metadata GETs, the per-GUN changefeed
//   repository:<gun>:push,pull   publish, GET of {timestamp,snapshot}.key
//   repository:<gun>:*           DELETE of a GUN, POST (rotation) of a server key
//   registry:catalog:*           the /v2/ ping and the global changefeed
// Empty for health and metrics (no authentication).
std::vector<net::Scope> required_scopes(const AccessNeed& need);

// Routes, all named "trust.*" and tagged "trust" (the auth middleware keys on the tag):
//   GET|POST   /v2/{gun...}/_trust/tuf/{file...}   metadata GETs, key get/rotate
//   POST|DELETE /v2/{gun...}/_trust/tuf/          publish, delete
//   GET        /v2/{gun...}/_trust/changefeed, /v2/_trust/changefeed
//   GET        /_notary_server/health              (tag "no-auth")
//   GET        /v2/                                (the ping; the registry's wins in serve)
// With o.authorizer set, a middleware ("trust-auth") answers requests lacking the scope with
// 401 + WWW-Authenticate (Bearer challenge naming realm, service and scope) and Notary's
// error body {"errors":[{"code":"UNAUTHORIZED",..,"detail":[{"Type":..,"Name":..,
// "Action":..}]}]}; 403 DENIED when a Basic-authenticated user's policy refuses it.
void install_trust_routes(net::Router& router, TrustService& svc, const MountOptions& o = {});

}  // namespace docket::trustserver
