#include "client/trust_auth.h"

#include <algorithm>

#include "client/reference.h"
#include "client/registry_client.h"
#include "common/encoding.h"
#include "common/json.h"

namespace docket::client {

namespace {

std::string basic_value(const Credentials& c) {
  return "Basic " + base64_encode(c.username + ":" + c.password);
}

std::string host_only(const std::string& host_port) {
  if (host_port.starts_with("[")) {
    auto e = host_port.find(']');
    return e == std::string::npos ? host_port : host_port.substr(0, e + 1);
  }
  auto c = host_port.rfind(':');
  return c == std::string::npos ? host_port : host_port.substr(0, c);
}

}  // namespace

std::vector<std::string> split_scopes(const std::string& list) {
  std::vector<std::string> out;
  for (std::size_t a = 0; a < list.size();) {
    auto b = list.find(' ', a);
    if (b == std::string::npos) b = list.size();
    if (b > a) out.push_back(list.substr(a, b - a));
    a = b + 1;
  }
  return out;
}

std::string url_host_port(const std::string& url) {
  auto b = url.find("://");
  b = b == std::string::npos ? 0 : b + 3;
  auto e = url.find_first_of("/?#", b);
  std::string a = url.substr(b, e == std::string::npos ? std::string::npos : e - b);
  if (auto at = a.rfind('@'); at != std::string::npos) a = a.substr(at + 1);
  return a;
}

Result<BearerToken> request_bearer_token(const net::HttpClient& http,
                                         const std::map<std::string, std::string>& ch,
                                         const std::vector<std::string>& wanted,
                                         const std::optional<Credentials>& creds,
                                         const std::string& server, bool offline) {
  auto realm = ch.find("realm");
  if (realm == ch.end() || realm->second.empty())
    return make_error(Fault::remote, "bad_header",
                      server + " sent a Bearer challenge without a realm");
  std::string service;
  if (auto s = ch.find("service"); s != ch.end()) service = s->second;
  // Our scopes (which may ask for more, e.g. pull,push) plus those the server named.
  std::vector<std::string> scopes = wanted;
  if (auto s = ch.find("scope"); s != ch.end())
    for (auto& one : split_scopes(s->second))
      if (std::find(scopes.begin(), scopes.end(), one) == scopes.end()) scopes.push_back(one);

  const bool identity = creds && !creds->identity_token.empty();
  net::HttpRequest req;
  req.url = realm->second;
  if (identity) {
    // OAuth2 refresh-token grant; the scopes go as one space-separated value.
    std::string all;
    for (const auto& s : scopes) all += (all.empty() ? "" : " ") + s;
    req.method = "POST";
    req.headers.set("Content-Type", "application/x-www-form-urlencoded");
    req.body = "grant_type=refresh_token&refresh_token=" + percent_encode(creds->identity_token) +
               "&client_id=" + kTokenClientId;
    if (!service.empty()) req.body += "&service=" + percent_encode(service);
    if (!all.empty()) req.body += "&scope=" + percent_encode(all);
  } else {
    std::string q;
    if (!service.empty()) q += "service=" + percent_encode(service);
    for (const auto& s : scopes)
      q += std::string(q.empty() ? "" : "&") + "scope=" + percent_encode(s);
    if (offline && creds && !creds->username.empty())
      q += std::string(q.empty() ? "" : "&") + "offline_token=true&client_id=" + kTokenClientId;
    if (!q.empty()) req.url += (req.url.find('?') == std::string::npos ? "?" : "&") + q;
    if (creds && !creds->username.empty()) req.headers.set("Authorization", basic_value(*creds));
  }
  auto r = http.send(req);
  if (!r) return std::unexpected(with_context(r.error(), "token service for " + server));
  if (r->status == 401 || r->status == 403 || (identity && r->status == 400))
    return make_error(Fault::user, "unauthorized",
                      "the token service for " + server + " refused the " +
                          (identity ? "stored identity token" : "credentials") + " (" +
                          describe_registry_error(*r) + "); run: docket login " + server);
  if (r->status != 200)
    return make_error(Fault::remote, "registry_error",
                      "token service for " + server + " answered " + describe_registry_error(*r));
  auto j = parse_json(r->body, "token response", Fault::remote);
  if (!j) return std::unexpected(j.error());
  auto text = [&](const char* k) -> std::string {
    if (j->is_object() && j->contains(k) && (*j)[k].is_string()) return (*j)[k];
    return "";
  };
  BearerToken out;
  out.token = text("access_token");
  if (out.token.empty()) out.token = text("token");
  if (out.token.empty())
    return make_error(Fault::remote, "malformed_json",
                      "token response from " + server + " holds no token");
  out.refresh_token = text("refresh_token");
  return out;
}

Result<std::string> fetch_bearer_token(const net::HttpClient& http,
                                       const std::map<std::string, std::string>& ch,
                                       const std::vector<std::string>& wanted,
                                       const std::optional<Credentials>& creds,
                                       const std::string& server) {
  auto t = request_bearer_token(http, ch, wanted, creds, server);
  if (!t) return std::unexpected(t.error());
  return std::move(t->token);
}

Result<std::optional<Credentials>> trust_server_credentials(const std::string& server_url,
                                                            const std::string& registry_domain) {
  auto cfg = DockerConfig::load(docker_config_dir());
  if (!cfg) return std::unexpected(cfg.error());
  std::string host = url_host_port(server_url);
  auto c = cfg->get(host);
  if (!c) return std::unexpected(c.error());
  if (*c && !(*c)->empty()) return c;
  bool same_host = !registry_domain.empty() &&
                   (host_only(host) == host_only(registry_domain) ||
                    (host == "notary.docker.io" && registry_domain == kDefaultDomain));
  if (same_host && registry_domain != host) return cfg->get(registry_domain);
  return std::optional<Credentials>();
}

TrustAuthSession::TrustAuthSession(std::shared_ptr<const net::HttpClient> http, std::string server,
                                   CredentialProvider credentials)
    : http_(std::move(http)), server_(std::move(server)), provider_(std::move(credentials)) {}

int TrustAuthSession::tokens_fetched() const {
  std::lock_guard l(mu_);
  return tokens_fetched_;
}

Result<std::optional<Credentials>> TrustAuthSession::creds() {
  std::lock_guard l(mu_);
  if (!loaded_) {
    if (provider_) {
      auto c = provider_();
      if (!c)
        return std::unexpected(with_context(c.error(), "credentials for trust server " + server_));
      if (*c && !(*c)->empty()) creds_ = **c;
    }
    loaded_ = true;
  }
  return creds_;
}

Result<std::string> TrustAuthSession::authorization_for(const std::string& www_authenticate,
                                                        const std::string& sent,
                                                        const std::string& reason) {
  auto ch = parse_www_authenticate(www_authenticate);
  if (!ch) return std::unexpected(with_context(ch.error(), "trust server " + server_));
  auto c = creds();
  if (!c) return std::unexpected(c.error());
  std::string next;
  if (ch->scheme == "bearer") {
    std::string key;
    if (auto s = ch->params.find("scope"); s != ch->params.end()) key = s->second;
    {
      std::lock_guard l(mu_);
      if (auto t = tokens_.find(key); t != tokens_.end() && t->second != sent) next = t->second;
    }
    if (next.empty()) {
      if (!*c)
        return make_error(Fault::user, "unauthorized",
                          "trust server " + server_ + " requires authentication (" + reason +
                              ") and no credentials are stored for it; run: docket login " +
                              server_);
      auto tok = fetch_bearer_token(*http_, ch->params, {}, *c, server_);
      if (!tok) return std::unexpected(tok.error());
      next = "Bearer " + *tok;
      std::lock_guard l(mu_);
      ++tokens_fetched_;
      tokens_[key] = next;
    }
  } else if (ch->scheme == "basic") {
    if (!*c || (*c)->username.empty())
      return make_error(Fault::user, "unauthorized",
                        "trust server " + server_ + " requires a login (" + reason +
                            "); run: docket login " + server_);
    next = basic_value(**c);
    if (next == sent)
      return make_error(Fault::user, "unauthorized",
                        "trust server " + server_ +
                            " refused the stored credentials; run: docket login " + server_);
  } else {
    return make_error(
        Fault::remote, "unauthorized",
        "trust server " + server_ + " asks for unsupported auth scheme \"" + ch->scheme + "\"");
  }
  return next;
}

Result<net::HttpResponse> TrustAuthSession::send(net::HttpRequest req) {
  std::string sent;
  {
    std::lock_guard l(mu_);
    sent = current_;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!sent.empty()) req.headers.set("Authorization", sent);
    auto r = http_->send(req);
    if (!r || r->status != 401) return r;
    std::string reason = describe_registry_error(*r);
    auto hdr = r->headers.get("WWW-Authenticate");
    if (attempt == 1 || !hdr) {
      if (sent.empty())
        return make_error(Fault::user, "unauthorized",
                          "trust server " + server_ + " requires authentication (" + reason +
                              "); run: docket login " + server_);
      return make_error(Fault::user, "unauthorized",
                        "trust server " + server_ + " refused access to " + req.method + " " +
                            net::redact_url(req.url) + " (" + reason +
                            "); check the account's permissions or run: docket login " + server_);
    }
    auto authz = authorization_for(*hdr, sent, reason);
    if (!authz) return std::unexpected(authz.error());
    std::string next = std::move(*authz);
    {
      std::lock_guard l(mu_);
      current_ = next;
    }
    sent = next;
    if (req.reader) {
      if (!req.rewind)
        return make_error(Fault::bug, "usage",
                          "streamed request needs a rewind to be retried after auth");
      if (auto s = req.rewind(); !s) return std::unexpected(s.error());
    }
  }
  return make_error(Fault::bug, "unauthorized", "unreachable");
}

std::vector<Result<net::HttpResponse>> TrustAuthSession::send_pipelined(
    std::vector<net::HttpRequest> reqs) {
  std::string sent;
  {
    std::lock_guard l(mu_);
    sent = current_;
  }
  if (!sent.empty())
    for (auto& r : reqs) r.headers.set("Authorization", sent);
  auto out = http_->send_pipelined(reqs);
  // A 401 challenge: answered as send() answers it, then the refused requests once more,
  // pipelined with the new authorization. Whatever fails here (no credentials, a token
  // service error) leaves the 401s in place: the caller asks again through send(), which
  // reports it.
  std::vector<std::size_t> refused;
  for (std::size_t i = 0; i < out.size(); ++i)
    if (out[i] && out[i]->status == 401) refused.push_back(i);
  if (refused.empty()) return out;
  auto hdr = out[refused.front()]->headers.get("WWW-Authenticate");
  if (!hdr) return out;
  auto next = authorization_for(*hdr, sent, describe_registry_error(*out[refused.front()]));
  if (!next) return out;
  {
    std::lock_guard l(mu_);
    current_ = *next;
  }
  std::vector<net::HttpRequest> again;
  for (auto i : refused) {
    again.push_back(reqs[i]);
    again.back().headers.set("Authorization", *next);
  }
  auto second = http_->send_pipelined(again);
  for (std::size_t k = 0; k < refused.size() && k < second.size(); ++k)
    out[refused[k]] = std::move(second[k]);
  return out;
}

}  // namespace docket::client
