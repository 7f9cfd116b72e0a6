// The TUF metadata model for both dialects (Notary v1 and TUF spec 1.0).
//
// Parsing is strict (types, required fields, size and depth limits checked before any
// parsing) but tolerant of unknown fields, which are kept in `unknown` and written back
// unchanged. Signatures are checked over the canonical JSON of `signed` exactly as received,
// computed once per file at parse time (Metadata::canonical_signed); nothing is ever
// re-serialised from these structs for verification.
//
// Dialect differences handled here:
//   _type            "Root" (Notary)              "root" (TUF)
//   hashes           base64                       hex
//   expires          RFC3339Nano                  RFC3339 (whole seconds written)
//   spec_version     absent                       required
//   meta keys        "snapshot", "targets/x"      "snapshot.json", "x.json"
//   meta version     absent                       required
//   signatures       {keyid, method, sig base64}  {keyid, sig hex}
//   delegation paths prefixes ("" = all)          shell-glob patterns
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "common/time.h"
#include "tuf/limits.h"
#include "tuf/names.h"

namespace docket::tuf {

// algorithm name -> digest text as written in the file (hex for TUF, base64 for Notary).
using Hashes = std::map<std::string, std::string>;
// Encodes a raw digest as the dialect writes it.
std::string encode_hash(Dialect d, std::string_view raw_digest);

// Checks `data` against a trusted length and hashes. Every listed algorithm must be
// supported (sha256, sha512) and match; `require_hashes` makes an empty map an error.
// `what` names the file in the error ("snapshot v3", "target a.txt").
Status verify_length_and_hashes(std::string_view data, std::optional<std::int64_t> length,
                                const Hashes& hashes, Dialect d, bool require_hashes,
                                std::string_view what);

// One entry of timestamp/snapshot `meta`.
struct MetaFile {
  std::optional<std::int64_t> version;  // required in TUF, absent in Notary
  std::optional<std::int64_t> length;
  Hashes hashes;  // may be empty
  Json unknown = Json::object();
};

struct TargetFile {
  std::int64_t length = 0;
  Hashes hashes;
  std::optional<Json> custom;
  Json unknown = Json::object();
};

// keyids + threshold, as in root `roles` and delegated roles.
struct RoleKeys {
  std::vector<std::string> keyids;  // as listed (duplicates kept; they count once)
  std::int64_t threshold = 1;
  Json unknown = Json::object();
};

struct DelegatedRole {
  RoleName name = RoleName::targets();
  RoleKeys keys;
  bool terminating = false;
  std::optional<std::vector<std::string>> paths;
  std::optional<std::vector<std::string>> path_hash_prefixes;
  Json unknown = Json::object();
};

// TAP 15 hash-bin delegation: 2^bit_length roles "<prefix>-<hex bin>".
struct SuccinctRoles {
  RoleKeys keys;
  int bit_length = 1;
  std::string name_prefix;
  Json unknown = Json::object();

  std::uint64_t bin_count() const { return std::uint64_t{1} << bit_length; }
  // The bin role responsible for a target path (first bit_length bits of sha256(path)).
  std::string role_for(const TargetPath& path) const;
  std::string role_name(std::uint32_t bin) const;
  bool is_bin(std::string_view role_name) const;
};

struct Delegations {
  Dialect dialect = Dialect::tuf;    // decides how `terminating` is written
  std::map<std::string, Json> keys;  // keyid -> key object as received
  std::vector<DelegatedRole> roles;  // in file order (search order)
  std::optional<SuccinctRoles> succinct_roles;
  Json unknown = Json::object();
};

// Fields every role's `signed` carries.
struct Common {
  Dialect dialect = Dialect::tuf;
  RoleType type = RoleType::root;
  std::int64_t version = 1;
  TimePoint expires{};
  std::string spec_version;  // TUF only ("1.0.31")
  Json unknown = Json::object();

  bool is_expired(TimePoint now) const { return now >= expires; }
};

struct Root : Common {
  static constexpr RoleType kType = RoleType::root;
  bool consistent_snapshot = false;
  std::map<std::string, Json> keys;
  std::map<std::string, RoleKeys> roles;  // root, targets, snapshot, timestamp (+ unknown)

  const RoleKeys& role(RoleType t) const { return roles.at(std::string(role_type_name(t))); }
};

struct Timestamp : Common {
  static constexpr RoleType kType = RoleType::timestamp;
  std::map<std::string, MetaFile> meta;
  // meta["snapshot.json"] (TUF) / meta["snapshot"] (Notary); presence checked at parse.
  const MetaFile& snapshot_meta() const;
};

struct Snapshot : Common {
  static constexpr RoleType kType = RoleType::snapshot;
  std::map<std::string, MetaFile> meta;
  const MetaFile* find(const RoleName& role) const;
};

struct Targets : Common {
  static constexpr RoleType kType = RoleType::targets;
  std::map<std::string, TargetFile> targets;
  std::optional<Delegations> delegations;
};

// The key of a role in snapshot/timestamp `meta`: "x.json" (TUF) / "x" (Notary).
std::string meta_key(const RoleName& role, Dialect d);

struct Signature {
  std::string keyid;
  std::string method;  // Notary signing method; empty for TUF (the key's scheme is used)
  std::string sig;     // as written (hex for TUF, base64 for Notary)
  Json unknown = Json::object();
};

// A parsed metadata file: {"signed": T, "signatures": [...]}.
template <class T>
struct Metadata {
  T signed_;
  std::vector<Signature> signatures;
  // Canonical JSON of `signed` exactly as received: the bytes signatures cover.
  std::string canonical_signed;
  Json unknown = Json::object();  // unknown top-level fields
};

// Parse options: `what` prefixes every error ("timestamp.json from the server"); fault says
// whose fault a malformed file is.
struct ParseOptions {
  Fault fault = Fault::remote;
  std::size_t max_bytes = 64'000'000;
  std::size_t max_depth = 64;
  // If set, the file must be in this dialect.
  std::optional<Dialect> dialect;
};

Result<Metadata<Root>> parse_root(std::string_view bytes, const ParseOptions& o = {});
Result<Metadata<Timestamp>> parse_timestamp(std::string_view bytes, const ParseOptions& o = {});
Result<Metadata<Snapshot>> parse_snapshot(std::string_view bytes, const ParseOptions& o = {});
Result<Metadata<Targets>> parse_targets(std::string_view bytes, const ParseOptions& o = {});
// parse_targets of a document the caller already parsed with parse_json (with limits no
// looser than `o`'s; max_bytes is not re-checked); `doc` is consumed. A server that must
// know an upload is JSON before validating it parses a large targets file once this way.
// `signed_canonical`, when not empty, is the caller's guarantee that it equals
// canonical_json(doc["signed"]) (e.g. the received bytes of `signed`, checked to be in
// canonical form while parsing); it is used instead of re-serialising `signed`.
Result<Metadata<Targets>> parse_targets_json(Json doc, const ParseOptions& o = {},
                                             std::string_view signed_canonical = {});

template <class T>
Result<Metadata<T>> parse_metadata(std::string_view bytes, const ParseOptions& o = {});
template <>
inline Result<Metadata<Root>> parse_metadata<Root>(std::string_view b, const ParseOptions& o) {
  return parse_root(b, o);
}
template <>
inline Result<Metadata<Timestamp>> parse_metadata<Timestamp>(std::string_view b,
                                                             const ParseOptions& o) {
  return parse_timestamp(b, o);
}
template <>
inline Result<Metadata<Snapshot>> parse_metadata<Snapshot>(std::string_view b,
                                                           const ParseOptions& o) {
  return parse_snapshot(b, o);
}
template <>
inline Result<Metadata<Targets>> parse_metadata<Targets>(std::string_view b,
                                                         const ParseOptions& o) {
  return parse_targets(b, o);
}

// Peeks at `_type` and `version` without the full parse (for error messages and routing).
struct Header {
  Dialect dialect = Dialect::tuf;
  RoleType type = RoleType::root;
  std::int64_t version = 0;
};
Result<Header> parse_header(std::string_view bytes, const ParseOptions& o = {});

// Writing: the `signed` object of each role, unknown fields merged back in, in the role's
// dialect. Hash texts and signatures are written as stored.
Json to_json(const Root& r);
Json to_json(const Timestamp& t);
Json to_json(const Snapshot& s);
Json to_json(const Targets& t);
Json to_json(const MetaFile& m);
Json to_json(const TargetFile& t);
Json to_json(const Delegations& d);
Json to_json(const Signature& s);

// The whole file, {"signatures":[...],"signed":{...}}: compact JSON with sorted keys and
// escaped control characters (see write_json).
Result<std::string> write_json(const Json& j);
template <class T>
Result<std::string> serialize(const Metadata<T>& m);
// Canonical bytes of `signed` built from the struct (what a signer signs).
template <class T>
Result<std::string> canonical_signed(const T& s) {
  return canonical_json(to_json(s), Fault::bug);
}

}  // namespace docket::tuf
