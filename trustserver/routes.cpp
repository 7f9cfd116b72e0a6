#include "trustserver/routes.h"

#include <cctype>

namespace docket::trustserver {
namespace {

bool all_hex(std::string_view s) {
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return !s.empty();
}

bool all_digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return !s.empty();
}

bool is_path_role(std::string_view r) {
  // The route pattern root|targets(/[^/\s]+)*|snapshot|timestamp; valid_role() is checked
  // by the handler so that a bad delegation name gets INVALID_ROLE rather than 404.
  if (r == "root" || r == "targets" || r == "snapshot" || r == "timestamp") return true;
  if (!r.starts_with("targets/")) return false;
  r.remove_prefix(8);
  while (true) {
    auto slash = r.find('/');
    auto seg = r.substr(0, slash);
    if (seg.empty()) return false;
    for (char c : seg)
      if (std::isspace(static_cast<unsigned char>(c))) return false;
    if (slash == std::string_view::npos) return true;
    r.remove_prefix(slash + 1);
  }
}

}  // namespace

Status valid_gun(std::string_view gun) {
  auto bad = [&](std::string why) {
    return make_error(Fault::user, "invalid_gun", "GUN is invalid: " + why);
  };
  if (gun.empty()) return bad("empty");
  if (gun.size() > kMaxGunBytes)
    return bad("longer than " + std::to_string(kMaxGunBytes) + " bytes");
  for (unsigned char c : gun) {
    if (c <= 0x20 || c >= 0x7f) return bad("contains a space, control or non-ASCII byte");
    if (c == '*') return bad("contains '*'");
  }
  if (gun.front() == '/' || gun.back() == '/') return bad("starts or ends with '/'");
  std::string_view rest = gun;
  while (true) {
    auto slash = rest.find('/');
    auto seg = rest.substr(0, slash);
    if (seg.empty()) return bad("has an empty path segment ('//')");
    if (seg == "." || seg == "..") return bad("has a '.' or '..' path segment");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return {};
}

bool is_delegation(std::string_view role) {
  if (!role.starts_with("targets/") || role.size() >= 256) return false;
  std::string_view rest = role.substr(8);
  while (true) {
    auto slash = rest.find('/');
    auto seg = rest.substr(0, slash);
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (char c : seg) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
      if (!ok) return false;
    }
    if (slash == std::string_view::npos) return true;
    rest.remove_prefix(slash + 1);
  }
}

bool valid_role(std::string_view role) {
  return role == "root" || role == "targets" || role == "snapshot" || role == "timestamp" ||
         is_delegation(role);
}

std::string parent_role(std::string_view role) {
  if (role == "targets") return "root";
  auto slash = role.rfind('/');
  if (slash == std::string_view::npos) return "root";
  return std::string(role.substr(0, slash));
}

Route parse_route(std::string_view path) {
  Route r;
  if (path == "/v2/" || path == "/v2") {
    r.kind = RouteKind::ping;
    return r;
  }
  if (path == "/_notary_server/health") {
    r.kind = RouteKind::health;
    return r;
  }
  if (path == "/metrics") {
    r.kind = RouteKind::metrics;
    return r;
  }
  if (path == "/v2/_trust/changefeed") {
    r.kind = RouteKind::changefeed_all;
    return r;
  }
  if (!path.starts_with("/v2/")) return r;
  std::string_view rest = path.substr(4);
  // The GUN is everything before the last "/_trust/" (the route's [^*]+ is greedy).
  auto t = rest.rfind("/_trust/");
  if (t == std::string_view::npos || t == 0) return r;
  std::string_view gun = rest.substr(0, t);
  std::string_view tail = rest.substr(t + 8);
  if (gun.find('*') != std::string_view::npos) return r;

  auto set_gun = [&] {
    r.gun = std::string(gun);
    if (auto st = valid_gun(gun); !st) r.invalid_gun = st.error().message;
  };
  if (tail == "changefeed") {
    r.kind = RouteKind::changefeed_gun;
    set_gun();
    return r;
  }
  if (!tail.starts_with("tuf/")) return r;
  tail.remove_prefix(4);
  if (tail.empty()) {
    r.kind = RouteKind::publish_or_delete;
    set_gun();
    return r;
  }
  if (tail == "timestamp.key" || tail == "snapshot.key") {
    r.kind = RouteKind::key;
    r.role = std::string(tail.substr(0, tail.size() - 4));
    set_gun();
    return r;
  }
  if (!tail.ends_with(".json")) return r;
  tail.remove_suffix(5);

  // <N>.<role>
  if (auto dot = tail.find('.'); dot != std::string_view::npos && all_digits(tail.substr(0, dot)) &&
                                 is_path_role(tail.substr(dot + 1))) {
    auto digits = tail.substr(0, dot);
    if (digits.size() > 18) return r;  // beyond int64: no such version
    r.kind = RouteKind::metadata_version;
    r.version = std::stoll(std::string(digits));
    r.role = std::string(tail.substr(dot + 1));
    set_gun();
    return r;
  }
  // <role>.<hex>
  if (auto dot = tail.rfind('.'); dot != std::string_view::npos) {
    auto hex = tail.substr(dot + 1);
    if ((hex.size() == 64 || hex.size() == 96 || hex.size() == 128) && all_hex(hex) &&
        is_path_role(tail.substr(0, dot))) {
      r.kind = RouteKind::metadata_checksum;
      r.role = std::string(tail.substr(0, dot));
      for (char c : hex) r.checksum.push_back(static_cast<char>(std::tolower(c)));
      set_gun();
      return r;
    }
    return r;
  }
  if (!is_path_role(tail)) return r;
  r.kind = RouteKind::metadata_current;
  r.role = std::string(tail);
  set_gun();
  if (!valid_role(r.role)) r.invalid_role = r.role;
  return r;
}

}  // namespace docket::trustserver
