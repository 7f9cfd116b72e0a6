#include "net/token.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cmath>

#include "common/encoding.h"
#include "common/file.h"

namespace docket::net {

namespace {

std::unexpected<Error> invalid(std::string why) {
  return make_error(Fault::remote, "invalid_token", std::move(why));
}

// Glob with '*' (any run of characters) and the literal placeholder "${account}".
bool glob_match(std::string_view pat, std::string_view text, std::string_view account) {
  static constexpr std::string_view kPlaceholder = "${account}";
  if (pat.empty()) return text.empty();
  if (pat.front() == '*') {
    while (!pat.empty() && pat.front() == '*') pat.remove_prefix(1);
    if (pat.empty()) return true;
    for (std::size_t i = 0; i <= text.size(); ++i)
      if (glob_match(pat, text.substr(i), account)) return true;
    return false;
  }
  if (pat.starts_with(kPlaceholder)) {
    if (account.empty() || !text.starts_with(account)) return false;
    return glob_match(pat.substr(kPlaceholder.size()), text.substr(account.size()), account);
  }
  if (text.empty() || pat.front() != text.front()) return false;
  return glob_match(pat.substr(1), text.substr(1), account);
}

bool account_matches(const std::string& rule, std::string_view account) {
  if (rule.empty()) return account.empty();
  if (rule == "*") return !account.empty();
  return rule == account;
}

std::optional<std::int64_t> json_time(const Json& claims, const char* name, bool* wrong_type) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_number_float()) {
    double d = it->get<double>();
    if (std::isfinite(d) && std::abs(d) < 1e15) return static_cast<std::int64_t>(std::floor(d));
  }
  *wrong_type = true;
  return std::nullopt;
}

}  // namespace

// ---- policy ----

Result<AccessPolicy> AccessPolicy::from_json(const Json& j) {
  if (!j.is_object() || !j.contains("rules") || !j["rules"].is_array())
    return make_error(Fault::user, "config", "access policy: expected {\"rules\": [...]}");
  std::vector<AccessRule> rules;
  std::size_t i = 0;
  for (const auto& r : j["rules"]) {
    auto where = "access policy rule " + std::to_string(i++);
    if (!r.is_object()) return make_error(Fault::user, "config", where + ": not an object");
    AccessRule rule;
    for (const auto& [k, v] : r.items()) {
      if (k == "account" || k == "type" || k == "class" || k == "name") {
        if (!v.is_string())
          return make_error(Fault::user, "config", where + ": \"" + k + "\" must be a string");
        std::string s = v.get<std::string>();
        if (k == "account") rule.account = s;
        if (k == "type") rule.type = s;
        if (k == "class") rule.resource_class = s;
        if (k == "name") rule.name = s;
      } else if (k == "actions") {
        if (!v.is_array())
          return make_error(Fault::user, "config", where + ": \"actions\" must be an array");
        for (const auto& a : v) {
          if (!a.is_string() || a.get<std::string>().empty())
            return make_error(Fault::user, "config", where + ": actions must be strings");
          rule.actions.push_back(a.get<std::string>());
        }
      } else {
        return make_error(Fault::user, "config", where + ": unknown field \"" + k + "\"");
      }
    }
    if (rule.name.empty() || rule.type.empty() || rule.actions.empty())
      return make_error(Fault::user, "config", where + ": needs type, name and actions");
    rules.push_back(std::move(rule));
  }
  return AccessPolicy(std::move(rules));
}

AccessPolicy AccessPolicy::authenticated_full_access() {
  return AccessPolicy(
      {AccessRule{"*", "repository", "", "*", {"*"}}, AccessRule{"*", "registry", "", "*", {"*"}}});
}

std::vector<std::string> AccessPolicy::allowed_actions(std::string_view account,
                                                       const Scope& res) const {
  std::vector<std::string> out;
  for (const auto& r : rules_) {
    if (!account_matches(r.account, account) || r.type != res.type ||
        r.resource_class != res.resource_class || !glob_match(r.name, res.name, account))
      continue;
    out.insert(out.end(), r.actions.begin(), r.actions.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<Scope> AccessPolicy::grant(std::string_view account,
                                       const std::vector<Scope>& requested) const {
  std::vector<Scope> out;
  for (const auto& req : requested) {
    auto allowed = allowed_actions(account, req);
    bool all = std::find(allowed.begin(), allowed.end(), "*") != allowed.end();
    Scope g = req;
    g.actions.clear();
    for (const auto& a : req.actions)
      if (all || std::find(allowed.begin(), allowed.end(), a) != allowed.end())
        g.actions.push_back(a);
    if (!g.actions.empty()) out.push_back(std::move(g));
  }
  return out;
}

// ---- claims ----

Json access_to_json(const std::vector<Scope>& access) {
  Json arr = Json::array();
  for (const auto& s : access) {
    Json e = {{"type", s.type}, {"name", s.name}, {"actions", s.actions}};
    if (!s.resource_class.empty()) e["class"] = s.resource_class;
    arr.push_back(std::move(e));
  }
  return arr;
}

Result<std::vector<Scope>> access_from_json(const Json& j) {
  if (!j.is_array()) return invalid("token access claim is not an array");
  if (j.size() > kMaxAccessEntries) return invalid("token access claim has too many entries");
  std::vector<Scope> out;
  for (const auto& e : j) {
    if (!e.is_object()) return invalid("token access entry is not an object");
    auto t = e.find("type");
    auto n = e.find("name");
    auto a = e.find("actions");
    if (t == e.end() || !t->is_string() || n == e.end() || !n->is_string() || a == e.end() ||
        !a->is_array())
      return invalid("token access entry needs string type, string name and actions array");
    std::string text = t->get<std::string>();
    if (auto c = e.find("class"); c != e.end()) {
      if (!c->is_string()) return invalid("token access entry class is not a string");
      if (!c->get<std::string>().empty()) text += "(" + c->get<std::string>() + ")";
    }
    text += ":" + n->get<std::string>() + ":";
    if (a->empty()) continue;  // nothing granted on this resource
    bool first = true;
    for (const auto& act : *a) {
      if (!act.is_string()) return invalid("token access action is not a string");
      if (!first) text += ",";
      first = false;
      text += act.get<std::string>();
    }
    auto s = parse_scope(text);
    if (!s) return invalid("token access entry: " + s.error().message);
    out.push_back(std::move(*s));
  }
  return merge_scopes(std::move(out));
}

std::int64_t unix_seconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

TimePoint from_unix_seconds(std::int64_t s) {
  return TimePoint(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::seconds(s)));
}

std::string credential_fingerprint(std::string_view stored) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(stored.data()), stored.size(), d);
  return hex_encode(std::string_view(reinterpret_cast<char*>(d), 16));
}

// ---- issuer ----

Result<TokenIssuer> TokenIssuer::create(JwsSigningKey key, TokenIssuerOptions o) {
  if (o.issuer.empty()) return make_error(Fault::user, "config", "token issuer name is empty");
  if (o.ttl.count() <= 0 || o.ttl > kMaxTokenTtl)
    return make_error(
        Fault::user, "config",
        "token lifetime must be between 1 s and " + std::to_string(kMaxTokenTtl.count()) + " s");
  if (o.refresh_ttl.count() <= 0)
    return make_error(Fault::user, "config", "refresh token lifetime must be positive");
  return TokenIssuer(std::move(key), std::move(o));
}

Result<IssuedToken> TokenIssuer::issue(std::string_view subject, std::string_view audience,
                                       const std::vector<Scope>& granted, TimePoint now) const {
  auto iat = unix_seconds(now);
  IssuedToken t;
  t.id = random_hex_id();
  t.issued_at = from_unix_seconds(iat);
  t.expires_at = from_unix_seconds(iat + options_.ttl.count());
  t.expires_in = options_.ttl;
  Json claims = {{"iss", options_.issuer},
                 {"sub", std::string(subject)},
                 {"aud", std::string(audience)},
                 {"exp", iat + options_.ttl.count()},
                 {"nbf", iat},
                 {"iat", iat},
                 {"jti", t.id},
                 {"access", access_to_json(granted)}};
  auto tok = key_.sign(claims, options_.include_x5c);
  if (!tok) return std::unexpected(tok.error());
  t.token = std::move(*tok);
  return t;
}

Result<IssuedToken> TokenIssuer::issue_refresh(std::string_view subject, std::string_view audience,
                                               std::string_view fingerprint, TimePoint now) const {
  auto iat = unix_seconds(now);
  IssuedToken t;
  t.id = random_hex_id();
  t.issued_at = from_unix_seconds(iat);
  t.expires_at = from_unix_seconds(iat + options_.refresh_ttl.count());
  t.expires_in = options_.refresh_ttl;
  Json claims = {{"iss", options_.issuer},
                 {"sub", std::string(subject)},
                 {"aud", std::string(audience)},
                 {"exp", iat + options_.refresh_ttl.count()},
                 {"nbf", iat},
                 {"iat", iat},
                 {"jti", t.id},
                 {"docket_refresh", std::string(fingerprint)}};
  auto tok = key_.sign(claims, options_.include_x5c);
  if (!tok) return std::unexpected(tok.error());
  t.token = std::move(*tok);
  return t;
}

// ---- verifier ----

bool VerifiedToken::allows(std::string_view type, std::string_view name, std::string_view action,
                           std::string_view resource_class) const {
  return std::any_of(access.begin(), access.end(), [&](const Scope& s) {
    return s.type == type && s.name == name && s.resource_class == resource_class &&
           s.allows(action);
  });
}

bool VerifiedToken::allows_all(const std::vector<Scope>& required) const {
  for (const auto& r : required)
    for (const auto& a : r.actions)
      if (!allows(r.type, r.name, a, r.resource_class)) return false;
  return true;
}

Result<Json> TokenVerifier::verify_common(std::string_view token, TimePoint now,
                                          std::string* key_id) const {
  auto v = verify_jws(token, trust_, now);
  if (!v) return std::unexpected(v.error());
  *key_id = v->key_id;
  const Json& c = v->claims;
  // iss
  auto iss = c.find("iss");
  if (iss == c.end() || !iss->is_string() || iss->get<std::string>() != options_.issuer)
    return invalid("token issuer is not \"" + options_.issuer + "\"");
  // aud: a string or an array of strings holding ours
  auto aud = c.find("aud");
  bool aud_ok = false;
  if (aud != c.end() && aud->is_string()) aud_ok = aud->get<std::string>() == options_.audience;
  if (aud != c.end() && aud->is_array())
    aud_ok = std::any_of(aud->begin(), aud->end(), [&](const Json& a) {
      return a.is_string() && a.get<std::string>() == options_.audience;
    });
  if (!aud_ok) return invalid("token audience does not include \"" + options_.audience + "\"");
  // exp / nbf / iat
  bool wrong = false;
  auto exp = json_time(c, "exp", &wrong);
  auto nbf = json_time(c, "nbf", &wrong);
  auto iat = json_time(c, "iat", &wrong);
  if (wrong) return invalid("token exp/nbf/iat is not a number");
  if (!exp) return invalid("token has no expiry (exp)");
  auto n = unix_seconds(now);
  auto leeway = options_.leeway.count();
  if (n > *exp + leeway)
    return invalid("token expired at " + format_rfc3339(from_unix_seconds(*exp)));
  if (nbf && n + leeway < *nbf)
    return invalid("token is not valid before " + format_rfc3339(from_unix_seconds(*nbf)));
  if (iat && n + leeway < *iat) return invalid("token was issued in the future");
  if (auto sub = c.find("sub"); sub != c.end() && !sub->is_string())
    return invalid("token subject is not a string");
  return std::move(v->claims);
}

Result<VerifiedToken> TokenVerifier::verify(std::string_view token, TimePoint now) const {
  VerifiedToken out;
  auto c = verify_common(token, now, &out.key_id);
  if (!c) return std::unexpected(c.error());
  if (c->contains("docket_refresh")) return invalid("a refresh token is not an access token");
  if (auto sub = c->find("sub"); sub != c->end()) out.subject = sub->get<std::string>();
  if (auto a = c->find("access"); a != c->end()) {
    auto acc = access_from_json(*a);
    if (!acc) return std::unexpected(acc.error());
    out.access = std::move(*acc);
  }
  bool wrong = false;
  out.expires_at = from_unix_seconds(*json_time(*c, "exp", &wrong));
  if (auto j = c->find("jti"); j != c->end() && j->is_string()) out.id = j->get<std::string>();
  return out;
}

Result<VerifiedRefresh> TokenVerifier::verify_refresh(std::string_view token, TimePoint now) const {
  std::string kid;
  auto c = verify_common(token, now, &kid);
  if (!c) return std::unexpected(c.error());
  auto fp = c->find("docket_refresh");
  if (fp == c->end() || !fp->is_string()) return invalid("not a refresh token");
  if (c->contains("access")) return invalid("a refresh token must not carry access");
  auto sub = c->find("sub");
  if (sub == c->end() || !sub->is_string() || sub->get<std::string>().empty())
    return invalid("refresh token has no subject");
  VerifiedRefresh out;
  out.subject = sub->get<std::string>();
  out.fingerprint = fp->get<std::string>();
  bool wrong = false;
  out.expires_at = from_unix_seconds(*json_time(*c, "exp", &wrong));
  return out;
}

}  // namespace docket::net
