// The TUF client workflow (spec §5) over injected I/O: a MetadataStore for trusted files and
// a Fetcher for the repository. Two fetch patterns share the same verification:
//
// TUF spec (root dialect "root"):   N.root.json loop -> timestamp.json -> V.snapshot.json ->
//                                   V.targets.json; delegated roles lazily, V.ENC(role).json.
// Notary v1 (root dialect "Root"):  timestamp.json -> snapshot.<sha256>.json ->
//                                   targets.<sha256>.json; delegations by checksum; when the
//                                   snapshot names another root or verification fails,
//                                   root.<sha256>.json (or root.json), walking <N>.root.json
//                                   from trusted+1 to newest-1 if the old root did not sign
//                                   the newest, then the whole update once more.
//
// Accepted files are persisted immediately (exact bytes); a failure leaves everything
// accepted before it on disk and nothing after it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/time.h"
#include "tuf/fetcher.h"
#include "tuf/limits.h"
#include "tuf/metadata.h"
#include "tuf/store.h"
#include "tuf/trusted_set.h"

namespace docket::tuf {

struct UpdaterOptions {
  // Base URLs, used verbatim: file names are appended, nothing is decoded or normalised.
  std::string metadata_url;
  std::string target_base_url;
  Limits limits;
  ExpirationEnforcement expiration = ExpirationEnforcement::enforce;
  // "Now" for expiry checks; defaults to the system clock (libc, so libfaketime works).
  std::function<TimePoint()> clock;
  // Consistent-snapshot target URLs carry a hash prefix ("dir/<hash>.name").
  bool prefix_targets_with_hash = true;
  // Receives one line per request and per accept/reject decision.
  std::function<void(std::string_view)> log;
};

struct TargetInfo {
  TargetPath path;
  TargetFile file;
  RoleName role = RoleName::targets();  // the role that listed it
  Dialect dialect = Dialect::tuf;
};

struct RefreshStats {
  int requests = 0;  // metadata fetches asked of the fetcher
  // Of those, how many it served from prefetched answers (Fetcher::last_fetch_origin).
  int prefetched = 0;
  std::uint64_t signature_checks = 0;
};

class Updater {
 public:
  Updater(UpdaterOptions options, MetadataStore& store, Fetcher& fetcher);

  // Top-level refresh (§5.1-§5.6 without delegations). May be called once per Updater.
  Status refresh();
  // The same, starting from `trusted_root` instead of parsing and verifying the store's
  // root.json again (§5.2): for a caller that has just verified that root and stored it,
  // e.g. on first use. It must be what the store holds, created with these options' limits,
  // clock and expiration enforcement.
  Status refresh(TrustedSet trusted_root);

  // Looks the target up: top-level targets, then delegations in pre-order depth-first order
  // (§5.6.7), fetching delegated roles lazily. nullopt: no role lists it.
  Result<std::optional<TargetInfo>> find_target(const TargetPath& path);

  // Notary's walk (client.GetTargetByName for one role): the same pre-order search, but
  // starting at `start` and never entering a role in `skip` (nor its subtree). A start role
  // other than "targets" is reached through its Notary parent chain ("targets/a/b" is
  // delegated by "targets/a", which is delegated by "targets"), each link checked to
  // delegate it for `path`; a start role nobody delegates (or not for this path) yields
  // nullopt, as in Notary.
  Result<std::optional<TargetInfo>> find_target_from(const TargetPath& path, const RoleName& start,
                                                     const std::vector<RoleName>& skip);

  // Verifies `bytes` against the trusted length and every listed hash.
  Status verify_target(const TargetInfo& info, std::string_view bytes) const;
  // The target's URL (hash-prefixed with consistent snapshots).
  std::string target_url(const TargetInfo& info) const;
  // One GET, capped at the trusted length, verified before it is returned.
  Result<std::string> download_target(const TargetInfo& info);

  const TrustedSet* trusted() const { return trusted_ ? &*trusted_ : nullptr; }
  const RefreshStats& stats() const { return stats_; }

 private:
  void note(std::string_view line) const;
  Result<std::string> fetch(const std::string& name, std::size_t max_bytes);
  Result<std::optional<std::string>> load_local(const RoleName& role, std::size_t max_bytes);
  Status persist(const RoleName& role, std::string_view bytes);
  Result<TrustedSet> load_trusted_root();

  Status refresh_tuf(TrustedSet ts);
  Status refresh_notary(TrustedSet first);
  // use_local: whether stored timestamp/snapshot may serve as references (false after a
  // timestamp or snapshot key rotation: spec §5.3.11 fast-forward attack recovery).
  Status update_timestamp(TrustedSet& ts, bool use_local = true);
  Status update_snapshot(TrustedSet& ts, const std::string& remote_name, bool use_local = true);
  Status load_targets(TrustedSet& ts, const RoleName& role, const RoleName& delegator);
  Status notary_attempt(TrustedSet& ts);
  Status notary_update_root(TrustedSet& ts, const TrustedSet* previous);

  std::string snapshot_file_name(const TrustedSet& ts) const;
  std::string targets_file_name(const TrustedSet& ts, const RoleName& role) const;

  UpdaterOptions o_;
  MetadataStore& store_;
  Fetcher& fetcher_;
  std::optional<TrustedSet> trusted_;
  RefreshStats stats_;
};

}  // namespace docket::tuf
