#include "net/auth.h"

#include <algorithm>
#include <cctype>

#include "common/encoding.h"
#include "net/http_client.h"

namespace docket::net {

namespace {

bool is_tchar(char c) {
  auto u = static_cast<unsigned char>(c);
  if (std::isalnum(u)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_token68_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::unexpected<Error> scope_error(std::string_view text, std::string why) {
  std::string shown(text.substr(0, 200));
  return make_error(Fault::remote, "bad_scope", "scope \"" + shown + "\": " + why);
}

bool valid_action(std::string_view a) {
  if (a == "*") return true;
  if (a.empty() || a.size() > 64) return false;
  return std::all_of(a.begin(), a.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

bool valid_resource_name(std::string_view n) {
  if (n.empty() || n.size() > 512) return false;
  // Printable ASCII without space, quote, backslash or comma: anything else would not
  // survive a quoted challenge parameter or an action list.
  return std::all_of(n.begin(), n.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && c != '"' && c != '\\' && c != ',';
  });
}

std::string quote(std::string_view v) {
  std::string o = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') o.push_back('\\');
    // CR/LF/other controls cannot appear in a header; drop them rather than break framing.
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) continue;
    o.push_back(c);
  }
  o.push_back('"');
  return o;
}

}  // namespace

// ---- Basic ----

Result<BasicCredentials> parse_basic_authorization(std::string_view v) {
  v = trim(v);
  auto sp = v.find(' ');
  if (sp == std::string_view::npos || lower(v.substr(0, sp)) != "basic")
    return make_error(Fault::remote, "unauthorized", "Authorization is not Basic");
  auto b64 = trim(v.substr(sp + 1));
  auto decoded = base64_decode(b64);
  if (!decoded)
    return make_error(Fault::remote, "unauthorized", "Basic credentials are not valid base64");
  auto colon = decoded->find(':');
  if (colon == std::string::npos)
    return make_error(Fault::remote, "unauthorized", "Basic credentials lack a ':'");
  BasicCredentials c{decoded->substr(0, colon), decoded->substr(colon + 1)};
  auto bad = [](const std::string& s) {
    return std::any_of(s.begin(), s.end(), [](char ch) {
      auto u = static_cast<unsigned char>(ch);
      return u < 0x20 || u == 0x7f;
    });
  };
  if (c.user.empty() || bad(c.user) || bad(c.password))
    return make_error(Fault::remote, "unauthorized",
                      "Basic credentials hold an empty user or control characters");
  return c;
}

std::string basic_authorization(std::string_view user, std::string_view password) {
  std::string raw(user);
  raw += ':';
  raw += password;
  return "Basic " + base64_encode(raw);
}

std::optional<std::string> parse_bearer_authorization(std::string_view v) {
  v = trim(v);
  auto sp = v.find(' ');
  if (sp == std::string_view::npos || lower(v.substr(0, sp)) != "bearer") return std::nullopt;
  auto tok = trim(v.substr(sp + 1));
  if (tok.empty() ||
      !std::all_of(tok.begin(), tok.end(), [](char c) { return is_token68_char(c) || c == '='; }))
    return std::nullopt;
  return std::string(tok);
}

// ---- scopes ----

std::string Scope::to_string() const {
  std::string s = type;
  if (!resource_class.empty()) s += "(" + resource_class + ")";
  s += ":" + name + ":";
  for (std::size_t i = 0; i < actions.size(); ++i) {
    if (i) s += ",";
    s += actions[i];
  }
  return s;
}

bool Scope::allows(std::string_view action) const {
  return std::any_of(actions.begin(), actions.end(),
                     [&](const std::string& a) { return a == action || a == "*"; });
}

Result<Scope> parse_scope(std::string_view text) {
  if (text.size() > kMaxScopeBytes)
    return scope_error(text, "longer than " + std::to_string(kMaxScopeBytes) + " bytes");
  auto first = text.find(':');
  auto last = text.rfind(':');
  if (first == std::string_view::npos || first == last)
    return scope_error(text, "expected type:name:actions");
  Scope s;
  auto type = text.substr(0, first);
  if (auto paren = type.find('('); paren != std::string_view::npos) {
    if (!type.ends_with(')') || paren == 0) return scope_error(text, "malformed resource class");
    s.resource_class = std::string(type.substr(paren + 1, type.size() - paren - 2));
    type = type.substr(0, paren);
    if (s.resource_class.empty() ||
        !std::all_of(s.resource_class.begin(), s.resource_class.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }))
      return scope_error(text, "malformed resource class");
  }
  if (type.empty() || !std::all_of(type.begin(), type.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      }))
    return scope_error(text, "resource type must be lower-case letters and digits");
  s.type = std::string(type);
  auto name = text.substr(first + 1, last - first - 1);
  if (!valid_resource_name(name)) return scope_error(text, "invalid resource name");
  s.name = std::string(name);
  auto actions = text.substr(last + 1);
  if (actions.empty()) return scope_error(text, "no actions");
  while (true) {
    auto comma = actions.find(',');
    auto a = actions.substr(0, comma);
    if (!valid_action(a)) return scope_error(text, "invalid action \"" + std::string(a) + "\"");
    s.actions.emplace_back(a);
    if (s.actions.size() > kMaxActionsPerScope) return scope_error(text, "too many actions");
    if (comma == std::string_view::npos) break;
    actions.remove_prefix(comma + 1);
  }
  std::sort(s.actions.begin(), s.actions.end());
  s.actions.erase(std::unique(s.actions.begin(), s.actions.end()), s.actions.end());
  return s;
}

std::vector<Scope> merge_scopes(std::vector<Scope> scopes) {
  std::vector<Scope> out;
  for (auto& s : scopes) {
    auto it =
        std::find_if(out.begin(), out.end(), [&](const Scope& o) { return o.same_resource(s); });
    if (it == out.end()) {
      out.push_back(std::move(s));
      continue;
    }
    it->actions.insert(it->actions.end(), s.actions.begin(), s.actions.end());
    std::sort(it->actions.begin(), it->actions.end());
    it->actions.erase(std::unique(it->actions.begin(), it->actions.end()), it->actions.end());
  }
  return out;
}

Result<std::vector<Scope>> parse_scopes(const std::vector<std::string>& values) {
  std::vector<Scope> all;
  for (const auto& v : values) {
    std::string_view rest = v;
    while (!rest.empty()) {
      auto sp = rest.find(' ');
      auto one = rest.substr(0, sp);
      rest.remove_prefix(sp == std::string_view::npos ? rest.size() : sp + 1);
      if (one.empty()) continue;
      auto s = parse_scope(one);
      if (!s) return std::unexpected(s.error());
      all.push_back(std::move(*s));
      if (all.size() > kMaxScopesPerRequest)
        return make_error(Fault::remote, "bad_scope",
                          "more than " + std::to_string(kMaxScopesPerRequest) + " scopes");
    }
  }
  return merge_scopes(std::move(all));
}

std::string scopes_to_string(const std::vector<Scope>& scopes) {
  std::string out;
  for (const auto& s : scopes) {
    if (!out.empty()) out += " ";
    out += s.to_string();
  }
  return out;
}

// ---- challenges ----

std::optional<std::string> Challenge::param(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (header_name_equals(k, name)) return v;
  return std::nullopt;
}

bool Challenge::is(std::string_view s) const {
  return header_name_equals(scheme, s);
}

Result<std::vector<Challenge>> parse_www_authenticate(std::string_view v) {
  if (v.size() > kMaxChallengeHeaderBytes)
    return make_error(Fault::remote, "bad_header", "WWW-Authenticate header is too long");
  auto fail = [&](std::string why) {
    return make_error(Fault::remote, "bad_header", "malformed WWW-Authenticate: " + why);
  };
  std::vector<Challenge> out;
  std::size_t i = 0;
  auto skip_ws = [&] {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
  };
  auto skip_ws_commas = [&] {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) ++i;
  };
  auto read_token = [&] {
    std::size_t start = i;
    while (i < v.size() && is_tchar(v[i])) ++i;
    return v.substr(start, i - start);
  };
  while (true) {
    skip_ws_commas();
    if (i >= v.size()) break;
    auto scheme = read_token();
    if (scheme.empty()) return fail("expected an auth scheme");
    if (i < v.size() && v[i] != ' ' && v[i] != '\t' && v[i] != ',')
      return fail("unexpected character after scheme");
    Challenge c;
    c.scheme = std::string(scheme);
    skip_ws();
    // token68: token68 chars, optional '=' padding, then end or ','.
    {
      std::size_t j = i;
      while (j < v.size() && is_token68_char(v[j])) ++j;
      std::size_t k = j;
      while (k < v.size() && v[k] == '=') ++k;
      std::size_t after = k;
      while (after < v.size() && (v[after] == ' ' || v[after] == '\t')) ++after;
      if (j > i && (after == v.size() || v[after] == ',')) {
        c.token68 = std::string(v.substr(i, k - i));
        i = after;
        out.push_back(std::move(c));
        continue;
      }
    }
    // auth-params until the next challenge (a token not followed by '=').
    while (i < v.size()) {
      std::size_t name_start = i;
      auto name = read_token();
      if (name.empty()) return fail("expected a parameter name");
      skip_ws();
      if (i >= v.size() || v[i] != '=') {
        if (c.params.empty()) return fail("expected '=' after " + std::string(name));
        i = name_start;  // the next challenge's scheme
        break;
      }
      ++i;
      skip_ws();
      std::string value;
      if (i < v.size() && v[i] == '"') {
        ++i;
        bool closed = false;
        while (i < v.size()) {
          char ch = v[i++];
          if (ch == '\\') {
            if (i >= v.size()) return fail("dangling escape");
            value.push_back(v[i++]);
          } else if (ch == '"') {
            closed = true;
            break;
          } else {
            value.push_back(ch);
          }
        }
        if (!closed) return fail("unterminated quoted string");
      } else {
        auto tok = read_token();
        if (tok.empty()) return fail("empty value for " + std::string(name));
        value = std::string(tok);
      }
      c.params.emplace_back(lower(name), std::move(value));
      skip_ws();
      if (i >= v.size()) break;
      if (v[i] != ',') return fail("expected ',' after " + std::string(name));
      skip_ws_commas();
    }
    out.push_back(std::move(c));
  }
  if (out.empty()) return fail("no challenge");
  return out;
}

std::string basic_challenge(std::string_view realm) {
  return "Basic realm=" + quote(realm);
}

std::string bearer_challenge(const BearerChallenge& c) {
  std::string s = "Bearer realm=" + quote(c.realm);
  if (!c.service.empty()) s += ",service=" + quote(c.service);
  if (!c.scopes.empty()) s += ",scope=" + quote(scopes_to_string(c.scopes));
  if (!c.error.empty()) s += ",error=" + quote(c.error);
  if (!c.error_description.empty()) s += ",error_description=" + quote(c.error_description);
  return s;
}

// ---- forms ----

Result<FormFields> parse_form_urlencoded(std::string_view text) {
  if (text.size() > kMaxFormBytes)
    return make_error(Fault::remote, "too_large",
                      "form data over " + std::to_string(kMaxFormBytes) + " bytes");
  FormFields out;
  while (!text.empty()) {
    auto amp = text.find('&');
    auto pair = text.substr(0, amp);
    text.remove_prefix(amp == std::string_view::npos ? text.size() : amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string k(pair.substr(0, eq));
    std::string val(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    std::replace(k.begin(), k.end(), '+', ' ');
    std::replace(val.begin(), val.end(), '+', ' ');
    auto dk = percent_decode(k);
    auto dv = percent_decode(val);
    if (!dk || !dv)
      return make_error(Fault::remote, "bad_encoding", "malformed %-escape in form data");
    out.emplace_back(std::move(*dk), std::move(*dv));
  }
  return out;
}

std::string form_urlencode(const FormFields& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += "&";
    out += percent_encode(k) + "=" + percent_encode(v);
  }
  return out;
}

std::optional<std::string> form_value(const FormFields& fields, std::string_view name) {
  for (const auto& [k, v] : fields)
    if (k == name) return v;
  return std::nullopt;
}

std::vector<std::string> form_values(const FormFields& fields, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [k, v] : fields)
    if (k == name) out.push_back(v);
  return out;
}

}  // namespace docket::net
