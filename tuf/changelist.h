// Staged repository changes, stored exactly as Notary's client stores them, so that a trust
// directory can be shared between `notary` and docket:
//
//   <trust_dir>/tuf/<gun>/changelist/<%020d unix-nanos>_<uuid4>.change
//
// Each file is one JSON object {"action","role","type","path","data"} where data is the
// standard-base64 of the change's own JSON (or null). Entries are applied in file-name
// order, which is creation order because the name starts with the zero-padded time.
//
// Entry kinds (Notary client/changelist + client/helpers.go semantics):
//   type "target"     role targets|targets/<d>  action create (data = file meta) | delete
//   type "delegation" role targets/<d>          action create | update (data = DelegationChange)
//                                               | delete (data null); role "targets/*" with
//                                               update purges keys from every delegation
//   type "witness"    role <targets role>       action update, data null: re-sign as is
//   type "role"       role "root"               action create, data = RootRoleChange:
//                                               replace all keys of a base role
//
// Files are written atomically (temp + fsync + rename) with mode 0644 like Notary's; the
// directory is created 0700. Names not ending in ".change" (our temp files among them) are
// ignored when listing, so a crash mid-write never yields a half entry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"

namespace docket::tuf {

// Bounds on what a changelist directory may make us read.
struct ChangelistLimits {
  // Largest single .change file accepted (a delegation carrying many certificates fits).
  std::size_t max_entry_bytes = 1024 * 1024;
  // Most entries applied in one publish.
  std::size_t max_entries = 100'000;
};

namespace change {
inline constexpr std::string_view kActionCreate = "create";
inline constexpr std::string_view kActionUpdate = "update";
inline constexpr std::string_view kActionDelete = "delete";

inline constexpr std::string_view kTypeTarget = "target";
inline constexpr std::string_view kTypeDelegation = "delegation";
inline constexpr std::string_view kTypeWitness = "witness";
inline constexpr std::string_view kTypeBaseRole = "role";

inline constexpr std::string_view kScopeRoot = "root";
inline constexpr std::string_view kScopeTargets = "targets";
}  // namespace change

// One staged change, as in the file. `data` holds the decoded bytes of the base64 field;
// `data_null` tells a JSON null (Go's nil []byte) from an empty string.
struct Change {
  std::string action;
  std::string role;
  std::string type;
  std::string path;
  std::string data;
  bool data_null = true;

  // The file this change was read from ("" for changes not yet stored).
  std::string file_name;

  // {"action","role","type","path","data"} in the field order Notary writes.
  std::string to_file_bytes() const;
  // Parses one file's bytes. Errors: Fault::local, code malformed_change, naming `what`.
  static Result<Change> parse(std::string_view bytes, std::string_view what);
};

// Data of a "target" change: Notary's FileMeta. Hashes are raw digest bytes keyed by
// algorithm name ("sha256", "sha512"); they travel base64 like in Notary metadata.
struct TargetChange {
  std::int64_t length = 0;
  std::map<std::string, std::string> hashes;
  std::optional<Json> custom;

  std::string to_bytes() const;
  static Result<TargetChange> parse(std::string_view bytes, std::string_view what);
};

// Data of a "delegation" change: Notary's TUFDelegation. Keys are public key objects as
// they appear in metadata ({"keytype","keyval":{"private":null,"public"}}).
struct DelegationChange {
  std::string new_name;  // unused by Notary 0.7's applier; kept for round-trips
  int threshold = 0;     // 0 means "leave as is" on update; Notary writes it always
  std::vector<Json> add_keys;
  std::vector<std::string> remove_keys;  // canonical key IDs (Notary's convention)
  std::vector<std::string> add_paths;
  std::vector<std::string> remove_paths;
  bool clear_paths = false;

  std::string to_bytes() const;
  static Result<DelegationChange> parse(std::string_view bytes, std::string_view what);
};

// Data of a root "role" change: replace every key of base role `role` with `keys`.
struct RootRoleChange {
  std::string role;  // "root", "targets", "snapshot" or "timestamp"
  std::vector<Json> keys;

  std::string to_bytes() const;
  static Result<RootRoleChange> parse(std::string_view bytes, std::string_view what);
};

// Convenience constructors for the common entries.
Change make_target_change(std::string_view action, std::string_view role, std::string_view path,
                          const std::optional<TargetChange>& meta);
Change make_delegation_change(std::string_view action, std::string_view role,
                              const std::optional<DelegationChange>& d);
Change make_witness_change(std::string_view role);
Change make_root_role_change(const RootRoleChange& r);

// The file-backed changelist of one GUN.
class Changelist {
 public:
  // <trust_dir>/tuf/<gun>/changelist, created (0700) if missing. The GUN is checked so it
  // cannot walk out of the trust directory (no empty, "." or ".." segments, no NUL).
  static Result<Changelist> open(const std::filesystem::path& trust_dir, std::string_view gun,
                                 ChangelistLimits limits = {});
  // A changelist in an explicit directory (created if missing).
  static Result<Changelist> open_dir(std::filesystem::path dir, ChangelistLimits limits = {});

  const std::filesystem::path& dir() const { return dir_; }

  // Stores `c` under a fresh name and returns that name. Names are strictly increasing
  // within a process even when the clock does not move.
  Result<std::string> add(const Change& c);
  // Every entry, in application (file-name) order. A malformed entry is an error naming
  // its file (Fault::local): nothing is silently dropped from a publish.
  Result<std::vector<Change>> list() const;
  // Entry file names in order, without reading them.
  Result<std::vector<std::string>> names() const;
  // Removes the named entries (after a successful publish, only what was applied, so a
  // change staged concurrently by another process survives).
  Status remove(const std::vector<std::string>& file_names);
  // Removes every entry.
  Status clear();

 private:
  Changelist(std::filesystem::path dir, ChangelistLimits limits)
      : dir_(std::move(dir)), limits_(limits) {}
  std::filesystem::path dir_;
  ChangelistLimits limits_;
};

// Checks that a GUN can be used as a relative directory path (see Changelist::open).
Status check_gun_path(std::string_view gun);

}  // namespace docket::tuf
