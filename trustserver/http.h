// Mounts the trust service on docket's HTTP router (net/router.h), so the same API runs
// alone (`docket-server trust`) or beside the registry on one port (`docket-server serve`).
#pragma once

#include "net/router.h"
#include "trustserver/service.h"

namespace docket::trustserver {

struct MountOptions {};

// Routes, all named "trust.*" (middleware keys on the name; auth uses access_for()):
//   GET|POST   /v2/{gun...}/_trust/tuf/{file...}   metadata GETs, key get/rotate
//   POST|DELETE /v2/{gun...}/_trust/tuf/          publish, delete
//   GET        /v2/{gun...}/_trust/changefeed, /v2/_trust/changefeed
//   GET        /_notary_server/health              (tag "no-auth")
//   GET        /v2/                                (the ping; the registry's wins in serve)
void install_trust_routes(net::Router& router, TrustService& svc, const MountOptions& o = {});

}  // namespace docket::trustserver
