// Strong types for the dangerous strings of TUF: role names, target paths and GUNs.
//
// A RoleName or TargetPath holds whatever the metadata says (the TUF spec allows nearly any
// string, "../x" and "?" included), so parsing rejects almost nothing. What makes them safe
// is that they are never used raw as a file or URL component: file_name()/encoded() apply
// ENC() = percent-encoding of every byte except A-Z a-z 0-9 - . _ ~ (Python's
// urllib.parse.quote(s, safe="")), so "../x" becomes "..%2Fx" and can never leave a folder.
#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "common/error.h"
#include "keys/key.h"

namespace docket::tuf {

// The two metadata dialects: Notary v1 ("Root", base64 hashes, RFC3339Nano, targets/<name>
// delegations, meta entries without version) and the TUF specification 1.0 ("root", hex
// hashes, spec_version, meta entries with version). Same enum as the key layer's.
using Dialect = keys::Dialect;
std::string_view dialect_name(Dialect d);

enum class RoleType { root, timestamp, snapshot, targets };
std::string_view role_type_name(RoleType t);  // "root", ...
// The `_type` value for a role in a dialect: "Root" (Notary) / "root" (TUF).
std::string type_string(RoleType t, Dialect d);

class RoleName {
 public:
  // Accepts any non-empty string that is valid UTF-8 JSON text (it came from JSON already).
  static Result<RoleName> make(std::string_view name, Fault fault = Fault::remote);
  static RoleName root() { return RoleName("root"); }
  static RoleName timestamp() { return RoleName("timestamp"); }
  static RoleName snapshot() { return RoleName("snapshot"); }
  static RoleName targets() { return RoleName("targets"); }

  const std::string& str() const { return name_; }
  bool is_top_level() const;
  // ENC(name): safe as one path segment or URL segment.
  std::string encoded() const;
  // ENC(name) + ".json": the local file name of this role's metadata.
  std::string file_name() const { return encoded() + ".json"; }

  bool operator==(const RoleName&) const = default;
  auto operator<=>(const RoleName&) const = default;

 private:
  explicit RoleName(std::string n) : name_(std::move(n)) {}
  std::string name_;
};

// A target path as listed in targets metadata ("path/to/a.txt", "v1.2", a Docker tag).
class TargetPath {
 public:
  static Result<TargetPath> make(std::string_view path, Fault fault = Fault::user);
  const std::string& str() const { return path_; }
  // ENC(path): a flat file name that cannot escape a directory ("a/b" -> "a%2Fb").
  std::string encoded() const;
  // The path with its last component prefixed by `prefix` + ".": "a/b.txt" -> "a/<h>.b.txt",
  // as consistent-snapshot target URLs name files. Components are not encoded.
  std::string with_hash_prefix(std::string_view hash) const;

  bool operator==(const TargetPath&) const = default;
  auto operator<=>(const TargetPath&) const = default;

 private:
  explicit TargetPath(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

// A Notary Globally Unique Name ("registry.example.com/library/app"). Validated: 1..255
// bytes, printable ASCII without spaces, no "..", "//" or leading/trailing "/", no '*'
// (the Notary server's GUN route pattern excludes it).
class Gun {
 public:
  static Result<Gun> make(std::string_view gun, Fault fault = Fault::user);
  const std::string& str() const { return gun_; }
  bool operator==(const Gun&) const = default;
  auto operator<=>(const Gun&) const = default;

 private:
  explicit Gun(std::string g) : gun_(std::move(g)) {}
  std::string gun_;
};

}  // namespace docket::tuf
