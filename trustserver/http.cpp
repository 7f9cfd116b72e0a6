#include "trustserver/http.h"

namespace docket::trustserver {
namespace {

void forward(TrustService& svc, net::Request& req, net::Response& res) {
  TrustRequest tr;
  tr.method = req.method_string;
  tr.path = req.path;
  tr.query = req.raw_query;
  tr.content_type = req.header("Content-Type");
  tr.body = std::move(req.body);
  auto out = svc.handle(tr);
  res.status = out.status;
  for (auto& [k, v] : out.headers) res.headers.set(k, v);
  res.body = std::move(out.body);
}

}  // namespace

void install_trust_routes(net::Router& router, TrustService& svc, const MountOptions& o) {
  namespace http = net::http;
  auto h = [&svc](net::Request& req, net::Response& res) { forward(svc, req, res); };
  net::RouteOptions small;
  small.max_body = 0;
  net::RouteOptions publish;
  publish.max_body = 256ull * 1024 * 1024;
  router.add(http::verb::get, "/v2/{gun...}/_trust/tuf/{file...}", "trust.metadata.get", h, small);
  router.add(http::verb::post, "/v2/{gun...}/_trust/tuf/{file...}", "trust.key.rotate", h, small);
  router.add(http::verb::post, "/v2/{gun...}/_trust/tuf/", "trust.publish", h, publish);
  router.add(http::verb::delete_, "/v2/{gun...}/_trust/tuf/", "trust.delete", h, small);
  router.add(http::verb::get, "/v2/{gun...}/_trust/changefeed", "trust.changefeed", h, small);
  router.add(http::verb::get, "/v2/_trust/changefeed", "trust.changefeed.all", h, small);
  net::RouteOptions noauth;
  noauth.max_body = 0;
  noauth.tags = {"no-auth"};
  router.add(http::verb::get, "/_notary_server/health", "trust.health", h, noauth);
  // The ping: in `serve` the registry (installed first) answers /v2/ and this one is never
  // reached; alone, the notary client needs a 2xx or 401 here to go online.
  router.add(http::verb::get, "/v2/", "trust.ping", h, small);
  // /metrics and /health are the server's (net/server_middleware.h); they count every
  // trust.* route by name.
}

}  // namespace docket::trustserver
