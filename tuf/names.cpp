#include "tuf/names.h"

#include "common/encoding.h"

namespace docket::tuf {

std::string_view dialect_name(Dialect d) {
  return d == Dialect::notary ? "notary" : "tuf";
}

std::string_view role_type_name(RoleType t) {
  switch (t) {
    case RoleType::root:
      return "root";
    case RoleType::timestamp:
      return "timestamp";
    case RoleType::snapshot:
      return "snapshot";
    case RoleType::targets:
      return "targets";
  }
  return "?";
}

std::string type_string(RoleType t, Dialect d) {
  std::string s(role_type_name(t));
  if (d == Dialect::notary) s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

Result<RoleName> RoleName::make(std::string_view name, Fault fault) {
  if (name.empty()) return make_error(fault, "malformed_metadata", "role name is empty");
  return RoleName(std::string(name));
}

bool RoleName::is_top_level() const {
  return name_ == "root" || name_ == "timestamp" || name_ == "snapshot" || name_ == "targets";
}

std::string RoleName::encoded() const {
  return percent_encode(name_);
}

Result<TargetPath> TargetPath::make(std::string_view path, Fault fault) {
  if (path.empty()) return make_error(fault, "malformed_metadata", "target path is empty");
  return TargetPath(std::string(path));
}

std::string TargetPath::encoded() const {
  return percent_encode(path_);
}

std::string TargetPath::with_hash_prefix(std::string_view hash) const {
  auto slash = path_.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path_.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  return dir + std::string(hash) + "." + base;
}

Result<Gun> Gun::make(std::string_view gun, Fault fault) {
  auto bad = [&](std::string why) {
    return make_error(fault, "invalid_gun", "GUN \"" + std::string(gun) + "\" " + why);
  };
  if (gun.empty() || gun.size() > 255) return bad("must be 1 to 255 bytes long");
  for (char c : gun) {
    auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7f) return bad("contains a space, control or non-ASCII character");
    if (c == '*' || c == '\\') return bad("contains '" + std::string(1, c) + "'");
  }
  if (gun.front() == '/' || gun.back() == '/') return bad("starts or ends with '/'");
  if (gun.find("//") != std::string_view::npos) return bad("contains an empty path component");
  std::size_t start = 0;
  while (start <= gun.size()) {
    auto end = gun.find('/', start);
    if (end == std::string_view::npos) end = gun.size();
    auto comp = gun.substr(start, end - start);
    if (comp == "." || comp == "..") return bad("contains a '.' or '..' component");
    start = end + 1;
  }
  return Gun(std::string(gun));
}

}  // namespace docket::tuf
