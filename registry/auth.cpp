#include "registry/auth.h"

#include "common/file.h"
#include "common/log.h"
#include "common/time.h"
#include "net/htpasswd.h"
#include "net/token.h"

namespace docket::registry {

using net::Request;
using net::Response;
using net::Scope;

std::vector<Scope> required_scopes(const Request& req) {
  std::vector<Scope> out;
  auto name = req.params.find("name");
  auto repo = [&](std::vector<std::string> actions) {
    if (name == req.params.end()) return;
    out.push_back(Scope{"repository", "", name->second, std::move(actions)});
  };
  if (req.has_tag("catalog")) out.push_back(Scope{"registry", "", "catalog", {"*"}});
  if (req.has_tag("pull")) repo({"pull"});
  if (req.has_tag("push")) repo({"pull", "push"});
  if (req.has_tag("delete")) repo({"delete"});
  return out;
}

namespace {

bool pull_only(const std::vector<Scope>& s) {
  if (s.empty()) return false;
  for (const auto& x : s)
    if (x.type != "repository" || x.actions != std::vector<std::string>{"pull"}) return false;
  return true;
}

// A cross-repository mount is honoured only when the caller may also pull the source (else
// it becomes a plain upload, 202), so a client that asks the token service for exactly what
// the challenge names (the OCI conformance suite's client does) would never get to mount.
// The Bearer challenge of a mount therefore offers `repository:<from>:pull` as well, as
// distribution's does; the request itself still needs only the target's scopes.
std::string offer_mount_source(const Request& req, const std::string& challenge,
                               const std::vector<Scope>& need) {
  if (req.route != "registry.upload.start" || challenge.empty()) return challenge;
  auto mount = req.query_param("mount");
  auto from = req.query_param("from");
  auto name = req.params.find("name");
  if (!mount || !from || !valid_repo_name(*from) ||
      (name != req.params.end() && name->second == *from))
    return challenge;
  auto parsed = net::parse_www_authenticate(challenge);
  if (!parsed || parsed->size() != 1 || !parsed->front().is("bearer")) return challenge;
  const net::Challenge& c = parsed->front();
  net::BearerChallenge b{c.param("realm").value_or(""), c.param("service").value_or(""), need,
                         c.param("error").value_or(""), c.param("error_description").value_or("")};
  b.scopes.push_back(Scope{"repository", "", *from, {"pull"}});
  return net::bearer_challenge(b);
}

bool refuse(const Request& req, Response& res, const net::AuthDecision& d,
            const std::vector<Scope>& need) {
  Json detail = Json::array();
  for (const auto& s : need)
    for (const auto& a : s.actions)
      detail.push_back({{"Type", s.type}, {"Name", s.name}, {"Action", a}});
  bool forbidden = d.status == 403;
  Error e = oci_error(
      forbidden ? "DENIED" : "UNAUTHORIZED",
      d.message.empty() ? (forbidden ? "access denied" : "authentication required") : d.message);
  send_error(req, res, e, detail);
  if (!d.www_authenticate.empty())
    res.headers.set(net::http::field::www_authenticate,
                    offer_mount_source(req, d.www_authenticate, need));
  return false;
}

}  // namespace

Result<AuthSetup> make_auth(const Config& c) {
  AuthSetup s;
  s.anonymous_pull = c.auth_anonymous_pull;
  bool basic = !c.auth_htpasswd_path.empty();
  bool token = !c.auth_token_realm.empty();
  if (!basic && !token) return s;
  std::shared_ptr<const net::CredentialStore> creds;
  if (basic) {
    auto h = net::Htpasswd::load(c.auth_htpasswd_path);
    if (!h) return std::unexpected(with_context(h.error(), "auth.htpasswd.path"));
    creds = std::make_shared<net::HtpasswdCredentials>(std::move(*h));
  }
  if (!token) {
    s.authorizer = std::make_shared<net::HtpasswdAuthorizer>(creds, c.auth_realm);
    return s;
  }
  if (c.auth_token_key.empty())
    return make_error(Fault::user, "config",
                      "auth.token.realm is set but auth.token.signingkey is not");
  auto key = net::JwsSigningKey::load(c.auth_token_key);
  if (!key) return std::unexpected(with_context(key.error(), "auth.token.signingkey"));
  auto trust = net::JwsTrust();
  if (auto st = trust.add_public_key(key->public_key_pem()); !st)
    return std::unexpected(st.error());
  net::TokenVerifier verifier(trust,
                              net::TokenVerifierOptions{c.auth_token_issuer, c.auth_token_service});
  s.authorizer = std::make_shared<net::TokenAuthorizer>(verifier, c.auth_token_realm);
  if (creds) {
    net::TokenIssuerOptions io;
    io.issuer = c.auth_token_issuer;
    io.ttl = c.auth_token_ttl;
    auto issuer = net::TokenIssuer::create(*key, io);
    if (!issuer) return std::unexpected(issuer.error());
    net::AccessPolicy policy = net::AccessPolicy::authenticated_full_access();
    if (!c.auth_token_policy.empty()) {
      auto text = read_file(c.auth_token_policy);
      if (!text) return std::unexpected(with_context(text.error(), "auth.token.policy"));
      auto j = parse_json(*text, "auth.token.policy", Fault::user);
      if (!j) return std::unexpected(j.error());
      auto p = net::AccessPolicy::from_json(*j);
      if (!p) return std::unexpected(p.error());
      policy = std::move(*p);
    }
    net::TokenServiceOptions so;
    so.service = c.auth_token_service;
    so.realm = c.auth_realm;
    so.allow_anonymous = c.auth_anonymous_pull;
    s.token_service =
        std::make_shared<net::TokenService>(creds, policy, std::move(*issuer), verifier, so);
  }
  return s;
}

void install_auth(net::Router& router, const AuthSetup& setup, HttpOptions& opts) {
  if (!setup.authorizer) return;
  auto authz = setup.authorizer;
  bool anon = setup.anonymous_pull;
  router.use(net::Middleware{"registry-auth",
                             [authz, anon](Request& req, Response& res) {
                               if (!req.has_tag("registry") || req.has_tag("no-auth")) return true;
                               auto need = required_scopes(req);
                               std::string h = req.header("Authorization");
                               if (h.empty() && anon && pull_only(need)) return true;
                               auto d = authz->authorize(
                                   h.empty() ? std::nullopt : std::optional<std::string>(h), need,
                                   std::chrono::system_clock::now());
                               if (!d.allowed) return refuse(req, res, d, need);
                               req.principal = d.subject;
                               return true;
                             },
                             nullptr});
  opts.may_pull = [authz, anon](const Request& req, const std::string& from) {
    std::vector<Scope> need{Scope{"repository", "", from, {"pull"}}};
    std::string h = req.header("Authorization");
    if (h.empty() && anon) return true;
    return authz
        ->authorize(h.empty() ? std::nullopt : std::optional<std::string>(h), need,
                    std::chrono::system_clock::now())
        .allowed;
  };
  if (setup.token_service) {
    auto ts = setup.token_service;
    auto handler = [ts](Request& req, Response& res) {
      net::AuthRequest ar;
      ar.method = req.method_string;
      ar.query = req.raw_query;
      for (const auto& f : req.headers)
        ar.headers.add(std::string(f.name_string()), std::string(f.value()));
      ar.body = req.body;
      auto r = ts->handle(ar, std::chrono::system_clock::now());
      res.status = r.status;
      for (const auto& [k, v] : r.headers.entries()) res.headers.insert(k, v);
      if (!r.headers.contains("Content-Type"))
        res.headers.set(net::http::field::content_type, "application/json");
      res.headers.set(net::http::field::cache_control, "no-store");
      res.body = r.body;
    };
    net::RouteOptions o;
    o.tags = {"no-auth", "token"};
    o.max_body = 64 * 1024;
    router.add(net::http::verb::get, "/auth/token", "auth.token", handler, o);
    router.add(net::http::verb::post, "/auth/token", "auth.token", handler, o);
  }
}

void install_rate_limit(net::Router& router, std::shared_ptr<net::RateLimiter> limiter) {
  router.use(net::Middleware{
      "registry-ratelimit",
      [limiter](Request& req, Response& res) {
        if (!req.has_tag("manifest-pull") || req.method != net::http::verb::get) return true;
        std::string client =
            req.principal.empty() ? "ip:" + req.remote_address : "user:" + req.principal;
        auto d = limiter->acquire(client);
        if (!d.allowed) {
          send_error(
              req, res,
              oci_error("TOOMANYREQUESTS",
                        "pull rate limit of " + std::to_string(d.limit) + " manifest pulls per " +
                            std::to_string(d.window.count()) + " s reached; retry in " +
                            std::to_string(d.retry_after.count()) + " s"));
          res.headers.set(net::http::field::retry_after, std::to_string(d.retry_after.count()));
        }
        res.headers.set("RateLimit-Limit", d.limit_header());
        res.headers.set("RateLimit-Remaining", d.remaining_header());
        return d.allowed;
      },
      nullptr});
}

}  // namespace docket::registry
