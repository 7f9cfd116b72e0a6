// The OCI distribution API (v1.1 + Docker extensions) as routes on a net::Router.
//
// Every route carries the tag "registry" and one action tag, which the auth middleware
// (registry/auth.h) turns into the Docker token scope it needs:
//   "base" (GET /v2/), "catalog", "pull", "push", "delete".
// GET/HEAD of manifests also carry "manifest-pull" (the pull rate limit counts those).
// Route parameters: {name} is the repository.
#pragma once

#include <functional>
#include <string>

#include "net/router.h"
#include "registry/store.h"

namespace docket::registry {

struct HttpOptions {
  bool read_only = false;      // push and delete answer 405 UNSUPPORTED
  bool delete_enabled = true;  // DELETE of blobs and manifests (405 UNSUPPORTED when off)
  std::size_t catalog_max_entries = 1000;  // `n` is clamped to this; also the default
  // Referrers per page (`n` is clamped to this; also the default); more gives a Link header.
  std::size_t referrers_max_entries = 1000;
  std::uint64_t max_manifest_bytes = 4 * 1024 * 1024;
  // Asked before a cross-repository mount: may this request pull from `repo`? The auth
  // middleware sets it; without auth every mount source is allowed.
  std::function<bool(const net::Request&, const std::string& repo)> may_pull;
};

void install_routes(net::Router& router, Store& store, HttpOptions opts);

// Sends an OCI error body with the status for e.code (500 "UNKNOWN" for storage failures,
// logged with the request ID; the client sees no internal detail).
void send_error(const net::Request& req, net::Response& res, const Error& e,
                const Json& detail = nullptr);

}  // namespace docket::registry
