#include "trustserver/http.h"

#include <algorithm>
#include <chrono>

#include "common/json.h"

namespace docket::trustserver {
namespace {

void forward(TrustService& svc, net::Request& req, net::Response& res) {
  TrustRequest tr;
  tr.method = req.method_string;
  tr.path = req.path;
  tr.query = req.raw_query;
  tr.content_type = req.header("Content-Type");
  tr.body = std::move(req.body);
  tr.share_body = true;
  auto out = svc.handle(tr);
  res.status = out.status;
  for (auto& [k, v] : out.headers) res.headers.set(k, v);
  res.body = std::move(out.body);
  res.shared_body = std::move(out.shared_body);
}

bool pull_only(const std::vector<net::Scope>& need) {
  if (need.empty()) return false;
  for (const auto& s : need)
    if (s.type != "repository" || s.actions != std::vector<std::string>{"pull"}) return false;
  return true;
}

// Notary's 401/403 body (distribution's errcode shape, which the notary client logs).
void refuse(net::Response& res, const net::AuthDecision& d, const std::vector<net::Scope>& need) {
  bool forbidden = d.status == 403;
  Json detail = Json::array();
  for (const auto& s : need)
    for (const auto& a : s.actions)
      detail.push_back(
          {{"Type", s.type}, {"Class", s.resource_class}, {"Name", s.name}, {"Action", a}});
  Json body = {
      {"errors",
       Json::array({{{"code", forbidden ? "DENIED" : "UNAUTHORIZED"},
                     {"message", d.message.empty()
                                     ? (forbidden ? "requested access to the resource is denied"
                                                  : "authentication required")
                                     : d.message},
                     {"detail", detail}}})}};
  res.status = forbidden ? 403 : 401;
  res.headers.set(net::http::field::content_type, "application/json; charset=utf-8");
  if (!d.www_authenticate.empty())
    res.headers.set(net::http::field::www_authenticate, d.www_authenticate);
  res.body = body.dump();
}

}  // namespace

std::vector<net::Scope> required_scopes(const AccessNeed& need) {
  switch (need.kind) {
    case AccessNeed::none:
      return {};
    case AccessNeed::catalog:
      return {net::Scope{"registry", "", "catalog", {"*"}}};
    case AccessNeed::repository: {
      auto actions = need.actions;
      std::sort(actions.begin(), actions.end());
      return {net::Scope{"repository", "", need.gun, std::move(actions)}};
    }
  }
  return {};
}

void install_trust_routes(net::Router& router, TrustService& svc, const MountOptions& o) {
  namespace http = net::http;
  auto h = [&svc](net::Request& req, net::Response& res) { forward(svc, req, res); };
  net::RouteOptions small;
  small.max_body = 0;
  small.tags = {"trust"};
  // Writes run on the server's blocking pool: a 10,000-target publish takes tens of ms, and
  // a write waits for the database (its lock, its commit) and may wait for the signer, all
  // of which would otherwise hold up every other connection of that I/O thread. Reads stay
  // on the I/O threads; they are answered from the cache.
  net::RouteOptions write = small;
  write.blocking = true;
  net::RouteOptions publish = write;
  publish.max_body = 256ull * 1024 * 1024;
  router.add(http::verb::get, "/v2/{gun...}/_trust/tuf/{file...}", "trust.metadata.get", h, small);
  router.add(http::verb::post, "/v2/{gun...}/_trust/tuf/{file...}", "trust.key.rotate", h, write);
  router.add(http::verb::post, "/v2/{gun...}/_trust/tuf/", "trust.publish", h, publish);
  router.add(http::verb::delete_, "/v2/{gun...}/_trust/tuf/", "trust.delete", h, write);
  router.add(http::verb::get, "/v2/{gun...}/_trust/changefeed", "trust.changefeed", h, small);
  router.add(http::verb::get, "/v2/_trust/changefeed", "trust.changefeed.all", h, small);
  net::RouteOptions noauth;
  noauth.max_body = 0;
  noauth.tags = {"trust", "no-auth"};
  router.add(http::verb::get, "/_notary_server/health", "trust.health", h, noauth);
  // The ping: in `serve` the registry (installed first) answers /v2/ and this one is never
  // reached; alone, the notary client needs a 2xx or 401 here to go online.
  router.add(http::verb::get, "/v2/", "trust.ping", h, small);
  // /metrics and /health are the server's (net/server_middleware.h); they count every
  // trust.* route by name.

  if (!o.authorizer) return;
  auto authz = o.authorizer;
  bool anon = o.anonymous_pull;
  // before() runs ahead of the body read, so an unauthorised publish is refused unread.
  router.use(net::Middleware{"trust-auth",
                             [authz, anon](net::Request& req, net::Response& res) {
                               if (!req.has_tag("trust") || req.has_tag("no-auth")) return true;
                               auto need = required_scopes(access_for(req.method_string, req.path));
                               if (need.empty()) return true;
                               std::string h = req.header("Authorization");
                               if (h.empty() && anon && pull_only(need)) return true;
                               auto d = authz->authorize(
                                   h.empty() ? std::nullopt : std::optional<std::string>(h), need,
                                   std::chrono::system_clock::now());
                               if (!d.allowed) {
                                 refuse(res, d, need);
                                 return false;
                               }
                               req.principal = d.subject;
                               return true;
                             },
                             nullptr});
}

}  // namespace docket::trustserver
