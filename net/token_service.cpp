#include "net/token_service.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

#include "common/file.h"

namespace docket::net {

namespace {

AuthResponse json_response(int status, const Json& body) {
  AuthResponse r;
  r.status = status;
  r.headers.add("Content-Type", "application/json");
  r.headers.add("Cache-Control", "no-store");
  r.headers.add("Pragma", "no-cache");
  r.body = body.dump();
  return r;
}

// Registry-style error body, which docker and notary clients print.
AuthResponse registry_error(int status, std::string_view code, std::string_view message) {
  return json_response(status,
                       Json{{"errors", Json::array({Json{{"code", code}, {"message", message}}})}});
}

// RFC 6749 §5.2 error body.
AuthResponse oauth_error(int status, std::string_view error, std::string_view description) {
  return json_response(status, Json{{"error", error}, {"error_description", description}});
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace

// ---- HtpasswdCredentials ----

HtpasswdCredentials::HtpasswdCredentials(Htpasswd file, std::chrono::seconds cache_ttl)
    : file_(std::move(file)), ttl_(cache_ttl), hmac_key_(random_bytes(32)) {}

bool HtpasswdCredentials::verify(std::string_view user, std::string_view password) const {
  std::string msg(user);
  msg.push_back('\0');
  msg.append(password);
  std::string key = hmac_sha256(hmac_key_, msg);
  auto now = std::chrono::steady_clock::now();
  if (ttl_.count() > 0) {
    std::lock_guard lk(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      if (it->second > now) return true;
      cache_.erase(it);
    }
  }
  if (!file_.verify(user, password)) return false;
  if (ttl_.count() > 0) {
    std::lock_guard lk(mu_);
    if (cache_.size() >= kMaxCacheEntries) {
      std::erase_if(cache_, [&](const auto& e) { return e.second <= now; });
      if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    }
    cache_[key] = now + ttl_;
  }
  return true;
}

std::optional<std::string> HtpasswdCredentials::fingerprint(std::string_view user) const {
  auto h = file_.hash_of(user);
  if (!h) return std::nullopt;
  return credential_fingerprint(*h);
}

// ---- TokenService ----

TokenService::TokenService(std::shared_ptr<const CredentialStore> credentials, AccessPolicy policy,
                           TokenIssuer issuer, TokenVerifier refresh_verifier,
                           TokenServiceOptions options)
    : creds_(std::move(credentials)),
      policy_(std::move(policy)),
      issuer_(std::move(issuer)),
      refresh_verifier_(std::move(refresh_verifier)),
      options_(std::move(options)) {}

AuthResponse TokenService::handle(const AuthRequest& r, TimePoint now) const {
  if (r.method == "GET") return handle_get(r, now);
  if (r.method == "POST") return handle_post(r, now);
  auto resp = registry_error(405, "UNSUPPORTED", "the token endpoint accepts GET and POST");
  resp.headers.add("Allow", "GET, POST");
  return resp;
}

AuthResponse TokenService::handle_get(const AuthRequest& r, TimePoint now) const {
  auto q = parse_form_urlencoded(r.query);
  if (!q) return registry_error(400, "INVALID_REQUEST", q.error().message);
  auto service = form_value(*q, "service");
  if (!service || *service != options_.service)
    return registry_error(400, "INVALID_REQUEST", "service must be \"" + options_.service + "\"");
  auto scopes = parse_scopes(form_values(*q, "scope"));
  if (!scopes) return registry_error(400, "INVALID_REQUEST", scopes.error().message);

  std::string account;
  auto authz = r.headers.get("Authorization");
  if (authz) {
    auto creds = parse_basic_authorization(*authz);
    if (!creds || !creds_->verify(creds->user, creds->password)) {
      auto resp = registry_error(401, "UNAUTHORIZED", "incorrect username or password");
      resp.headers.add("WWW-Authenticate", basic_challenge(options_.realm));
      return resp;
    }
    account = creds->user;
    if (auto claimed = form_value(*q, "account");
        claimed && !claimed->empty() && *claimed != account)
      return registry_error(400, "INVALID_REQUEST",
                            "account parameter does not match the authenticated user");
  } else if (!options_.allow_anonymous) {
    auto resp = registry_error(401, "UNAUTHORIZED", "authentication required");
    resp.headers.add("WWW-Authenticate", basic_challenge(options_.realm));
    return resp;
  }

  auto granted = policy_.grant(account, *scopes);
  auto tok = issuer_.issue(account, options_.service, granted, now);
  if (!tok) return registry_error(500, "UNKNOWN", "token signing failed");
  Json body = {{"token", tok->token},
               {"access_token", tok->token},
               {"expires_in", tok->expires_in.count()},
               {"issued_at", format_rfc3339(tok->issued_at)}};
  if (!account.empty() && form_value(*q, "offline_token") == "true") {
    auto fp = creds_->fingerprint(account);
    if (fp) {
      auto refresh = issuer_.issue_refresh(account, options_.service, *fp, now);
      if (!refresh) return registry_error(500, "UNKNOWN", "token signing failed");
      body["refresh_token"] = refresh->token;
    }
  }
  return json_response(200, body);
}

AuthResponse TokenService::handle_post(const AuthRequest& r, TimePoint now) const {
  auto ct = r.headers.get("Content-Type").value_or("");
  auto semi = ct.find(';');
  std::string media = ct.substr(0, semi);
  std::transform(media.begin(), media.end(), media.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!media.empty() && media.back() == ' ') media.pop_back();
  if (media != "application/x-www-form-urlencoded")
    return oauth_error(400, "invalid_request", "body must be application/x-www-form-urlencoded");
  auto f = parse_form_urlencoded(r.body);
  if (!f) return oauth_error(400, "invalid_request", f.error().message);
  auto service = form_value(*f, "service");
  if (!service || *service != options_.service)
    return oauth_error(400, "invalid_request", "service must be \"" + options_.service + "\"");
  auto client_id = form_value(*f, "client_id");
  if (!client_id || client_id->empty())
    return oauth_error(400, "invalid_request", "client_id is required");
  auto scopes = parse_scopes(form_values(*f, "scope"));
  if (!scopes) return oauth_error(400, "invalid_scope", scopes.error().message);
  auto grant_type = form_value(*f, "grant_type").value_or("");

  std::string account;
  std::optional<std::string> refresh_out;
  if (grant_type == "password") {
    auto user = form_value(*f, "username");
    auto pass = form_value(*f, "password");
    if (!user || !pass || user->empty())
      return oauth_error(400, "invalid_request", "username and password are required");
    if (!creds_->verify(*user, *pass))
      return oauth_error(401, "invalid_grant", "incorrect username or password");
    account = *user;
    if (form_value(*f, "access_type") == "offline") {
      auto fp = creds_->fingerprint(account);
      if (fp) {
        auto refresh = issuer_.issue_refresh(account, options_.service, *fp, now);
        if (!refresh) return oauth_error(500, "server_error", "token signing failed");
        refresh_out = refresh->token;
      }
    }
  } else if (grant_type == "refresh_token") {
    auto rt = form_value(*f, "refresh_token");
    if (!rt || rt->empty()) return oauth_error(400, "invalid_request", "refresh_token is required");
    auto v = refresh_verifier_.verify_refresh(*rt, now);
    if (!v) return oauth_error(401, "invalid_grant", v.error().message);
    auto fp = creds_->fingerprint(v->subject);
    if (!fp || *fp != v->fingerprint)
      return oauth_error(401, "invalid_grant",
                         "refresh token is no longer valid (user removed or password changed)");
    account = v->subject;
    refresh_out = *rt;
  } else {
    return oauth_error(400, "unsupported_grant_type",
                       "grant_type must be password or refresh_token");
  }

  auto granted = policy_.grant(account, *scopes);
  auto tok = issuer_.issue(account, options_.service, granted, now);
  if (!tok) return oauth_error(500, "server_error", "token signing failed");
  Json body = {{"access_token", tok->token},
               {"token_type", "Bearer"},
               {"expires_in", tok->expires_in.count()},
               {"issued_at", format_rfc3339(tok->issued_at)},
               {"scope", scopes_to_string(granted)}};
  if (refresh_out) body["refresh_token"] = *refresh_out;
  return json_response(200, body);
}

// ---- authorizers ----

HtpasswdAuthorizer::HtpasswdAuthorizer(std::shared_ptr<const CredentialStore> creds,
                                       std::string realm, AccessPolicy policy)
    : creds_(std::move(creds)), realm_(std::move(realm)), policy_(std::move(policy)) {}

AuthDecision HtpasswdAuthorizer::authorize(const std::optional<std::string>& authorization,
                                           const std::vector<Scope>& required, TimePoint) const {
  AuthDecision d;
  d.status = 401;
  d.www_authenticate = basic_challenge(realm_);
  d.code = "unauthorized";
  if (!authorization) {
    d.message = "authentication required";
    return d;
  }
  auto creds = parse_basic_authorization(*authorization);
  if (!creds || !creds_->verify(creds->user, creds->password)) {
    d.message = "incorrect username or password";
    return d;
  }
  auto granted = policy_.grant(creds->user, required);
  for (const auto& r : required) {
    auto it = std::find_if(granted.begin(), granted.end(),
                           [&](const Scope& g) { return g.same_resource(r); });
    if (it == granted.end() || it->actions.size() != r.actions.size()) {
      d.status = 403;
      d.www_authenticate.clear();
      d.code = "denied";
      d.message = "user " + creds->user + " may not " + r.to_string();
      d.subject = creds->user;
      return d;
    }
  }
  d = AuthDecision{};
  d.allowed = true;
  d.subject = creds->user;
  return d;
}

TokenAuthorizer::TokenAuthorizer(TokenVerifier verifier, std::string realm)
    : verifier_(std::move(verifier)), realm_(std::move(realm)) {}

AuthDecision TokenAuthorizer::authorize(const std::optional<std::string>& authorization,
                                        const std::vector<Scope>& required, TimePoint now) const {
  AuthDecision d;
  d.status = 401;
  BearerChallenge ch{realm_, verifier_.options().audience, required, "", ""};
  std::optional<std::string> token;
  if (authorization) token = parse_bearer_authorization(*authorization);
  if (!token) {
    d.code = "unauthorized";
    d.message = "authentication required";
    d.www_authenticate = bearer_challenge(ch);
    return d;
  }
  auto v = verifier_.verify(*token, now);
  if (!v) {
    ch.error = "invalid_token";
    d.code = "invalid_token";
    d.message = v.error().message;
    d.www_authenticate = bearer_challenge(ch);
    return d;
  }
  if (!v->allows_all(required)) {
    ch.error = "insufficient_scope";
    d.code = "insufficient_scope";
    d.message = "token does not grant " + scopes_to_string(required);
    d.subject = v->subject;
    d.www_authenticate = bearer_challenge(ch);
    return d;
  }
  d = AuthDecision{};
  d.allowed = true;
  d.subject = v->subject;
  return d;
}

}  // namespace docket::net
