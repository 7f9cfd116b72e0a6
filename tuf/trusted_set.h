// The trusted metadata set: a pure state machine over metadata bytes (no I/O), in the style
// of python-tuf's TrustedMetadataSet. It only moves forward in the order of the TUF client
// workflow (spec §5.3-§5.6):
//
//   root (+ rotations) -> timestamp -> snapshot -> targets -> delegated targets
//
// and refuses out-of-order loads (a root update after a timestamp was loaded, a snapshot
// before a timestamp, ...). Every accepted file keeps its exact bytes for persistence.
// Every rejection names the role, version and reason.
//
// Local files (loaded with trusted_local = true) go through the same checks except the
// length/hash check against the referring metadata, which is skipped only where a version
// number pins the file (TUF); Notary meta entries carry no version, so their hashes are
// always checked.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/time.h"
#include "tuf/limits.h"
#include "tuf/metadata.h"

namespace docket::tuf {

template <class T>
struct Trusted {
  Metadata<T> md;
  std::string raw;  // bytes exactly as received
  const T& operator*() const { return md.signed_; }
  const T* operator->() const { return &md.signed_; }
};

struct TrustedTargets : Trusted<Targets> {
  RoleName delegator = RoleName::root();  // whose keys verified it
};

enum class RootVersionRule {
  exactly_next,  // TUF §5.3.5: version N+1 only (the N.root.json loop)
  any_newer,     // Notary: root.<sha>.json may skip versions if the old root signed it
};

class TrustedSet {
 public:
  // §5.2: load the trusted root. It must parse and carry a threshold of its own root keys.
  // Its expiry is not checked here (§5.3.10 checks the final root).
  static Result<TrustedSet> create(std::string_view root_bytes, const Limits& limits,
                                   std::function<TimePoint()> clock,
                                   ExpirationEnforcement exp = ExpirationEnforcement::enforce);

  // §5.3.4-§5.3.8: a newer root signed by a threshold of the trusted root's root keys AND
  // of its own. Intermediate roots may be expired. Only before a timestamp was loaded.
  Status update_root(std::string_view bytes, RootVersionRule rule = RootVersionRule::exactly_next);
  // §5.3.10: the final root must not be expired.
  Status check_root_expiry() const;

  enum class TimestampOutcome { accepted, equal_version };
  // §5.4: timestamp signed by the root's timestamp keys; rollback checks against the trusted
  // timestamp (§5.4.3.1-2). An equal version keeps the trusted one (equal_version). An
  // expired timestamp is kept as the rollback reference but reported as an error (§5.4.4).
  Result<TimestampOutcome> update_timestamp(std::string_view bytes);

  // §5.5: snapshot matching timestamp meta (hashes/length, version), signed by the root's
  // snapshot keys, not rolling back any role listed in the previous trusted snapshot, not
  // expired. A signed but non-final snapshot stays as the rollback reference.
  Status update_snapshot(std::string_view bytes, bool trusted_local = false);

  // §5.6: targets (delegator root) or a delegated role (delegator = a loaded targets role),
  // listed in snapshot meta, matching its hashes/length and version, signed by a threshold
  // of the delegator's keys for it, not expired. Replaces a copy verified through another
  // delegator.
  Status update_targets(std::string_view bytes, bool trusted_local = false) {
    return update_delegated_targets(bytes, RoleName::targets(), RoleName::root(), trusted_local);
  }
  Status update_delegated_targets(std::string_view bytes, const RoleName& role,
                                  const RoleName& delegator, bool trusted_local = false);

  const Trusted<Root>& root() const { return root_; }
  const Trusted<Timestamp>* timestamp() const { return timestamp_ ? &*timestamp_ : nullptr; }
  const Trusted<Snapshot>* snapshot() const { return snapshot_ ? &*snapshot_ : nullptr; }
  const TrustedTargets* targets(const RoleName& role = RoleName::targets()) const;
  Dialect dialect() const { return root_->dialect; }
  TimePoint now() const { return clock_(); }
  const Limits& limits() const { return limits_; }

 private:
  TrustedSet(Trusted<Root> r, Limits l, std::function<TimePoint()> c, ExpirationEnforcement e)
      : root_(std::move(r)), limits_(l), clock_(std::move(c)), exp_(e) {}
  Status check_expiry(const Common& c, std::string_view role) const;
  Status check_final_timestamp() const;
  Status check_final_snapshot() const;

  Trusted<Root> root_;
  std::optional<Trusted<Timestamp>> timestamp_;
  std::optional<Trusted<Snapshot>> snapshot_;
  std::map<RoleName, TrustedTargets> targets_;
  Limits limits_;
  std::function<TimePoint()> clock_;
  ExpirationEnforcement exp_;
};

}  // namespace docket::tuf
