#include "tuf/trusted_set.h"

#include "tuf/verify.h"

namespace docket::tuf {
namespace {

std::unexpected<Error> order_error(std::string msg) {
  return make_error(Fault::bug, "out_of_order", std::move(msg));
}

template <class T>
Result<Metadata<T>> parse_for(std::string_view bytes, std::size_t max_bytes, const Limits& l,
                              std::optional<Dialect> d) {
  ParseOptions o;
  o.fault = Fault::remote;
  o.max_bytes = max_bytes;
  o.max_depth = l.max_json_depth;
  o.dialect = d;
  return parse_metadata<T>(bytes, o);
}

std::string role_label(const Common& c, std::string_view name) {
  return label(name, c.version);
}

}  // namespace

Result<TrustedSet> TrustedSet::create(std::string_view root_bytes, const Limits& limits,
                                      std::function<TimePoint()> clock, ExpirationEnforcement exp) {
  auto md = parse_for<Root>(root_bytes, limits.max_root_bytes, limits, std::nullopt);
  if (!md) return std::unexpected(with_context(md.error(), "trusted root"));
  const Root& r = md->signed_;
  // §5.2: the trusted root must be signed by a threshold of its own root keys.
  if (auto s =
          verify_delegate(role_label(r, "root"), "itself", *md, r.keys, r.role(RoleType::root));
      !s)
    return std::unexpected(with_context(s.error(), "trusted root"));
  Trusted<Root> t{std::move(*md), std::string(root_bytes)};
  return TrustedSet(std::move(t), limits, std::move(clock), exp);
}

Status TrustedSet::check_expiry(const Common& c, std::string_view role) const {
  if (exp_ == ExpirationEnforcement::unsafe_ignore) return {};
  if (c.is_expired(clock_()))
    return make_error(Fault::remote, "expired",
                      role_label(c, role) + " expired at " + format_rfc3339_nano(c.expires));
  return {};
}

Status TrustedSet::update_root(std::string_view bytes, RootVersionRule rule) {
  if (timestamp_) return order_error("cannot update root after timestamp was loaded");
  auto md = parse_for<Root>(bytes, limits_.max_root_bytes, limits_, root_->dialect);
  if (!md) return std::unexpected(md.error());
  const Root& nr = md->signed_;
  std::string what = role_label(nr, "root");
  // §5.3.4: signed by a threshold of the trusted root's root keys...
  if (auto s = verify_delegate(what, role_label(*root_, "trusted root"), *md, root_->keys,
                               root_->role(RoleType::root));
      !s)
    return s;
  // §5.3.5: version N+1 (TUF) or any newer version (Notary's checksum-addressed root).
  if (rule == RootVersionRule::exactly_next ? nr.version != root_->version + 1
                                            : nr.version <= root_->version)
    return make_error(
        Fault::remote, "rollback",
        what + ": expected version " +
            (rule == RootVersionRule::exactly_next ? std::to_string(root_->version + 1)
                                                   : "> " + std::to_string(root_->version)) +
            ", trusted root is v" + std::to_string(root_->version));
  // ...and by a threshold of its own root keys (§5.3.4).
  if (auto s = verify_delegate(what, "itself", *md, nr.keys, nr.role(RoleType::root)); !s) return s;
  root_ = Trusted<Root>{std::move(*md), std::string(bytes)};
  return {};
}

Status TrustedSet::check_root_expiry() const {
  return check_expiry(*root_, "root");
}

Result<TrustedSet::TimestampOutcome> TrustedSet::update_timestamp(std::string_view bytes) {
  if (snapshot_) return order_error("cannot update timestamp after snapshot was loaded");
  // §5.3.10: the final root must be valid before anything is trusted through it.
  if (auto s = check_root_expiry(); !s) return std::unexpected(s.error());
  auto md = parse_for<Timestamp>(bytes, limits_.max_timestamp_bytes, limits_, root_->dialect);
  if (!md) return std::unexpected(md.error());
  const Timestamp& nt = md->signed_;
  std::string what = role_label(nt, "timestamp");
  // §5.4.2: signed by a threshold of the root's timestamp keys.
  if (auto s = verify_delegate(what, role_label(*root_, "root"), *md, root_->keys,
                               root_->role(RoleType::timestamp));
      !s)
    return std::unexpected(s.error());
  if (timestamp_) {
    const Timestamp& old = **timestamp_;
    // §5.4.3.1: no rollback of the timestamp itself; an equal version keeps the trusted one.
    if (nt.version < old.version)
      return make_error(Fault::remote, "rollback",
                        what + " < trusted v" + std::to_string(old.version));
    if (nt.version == old.version) return TimestampOutcome::equal_version;
    // §5.4.3.2: no rollback of the snapshot version it names.
    const auto& nm = nt.snapshot_meta();
    const auto& om = old.snapshot_meta();
    if (nm.version && om.version && *nm.version < *om.version)
      return make_error(Fault::remote, "rollback",
                        what + ": snapshot v" + std::to_string(*nm.version) + " < trusted v" +
                            std::to_string(*om.version));
  }
  // Kept even if expired, as the rollback reference (§5.4.4 fails the update below).
  timestamp_ = Trusted<Timestamp>{std::move(*md), std::string(bytes)};
  if (auto s = check_final_timestamp(); !s) return std::unexpected(s.error());
  return TimestampOutcome::accepted;
}

Status TrustedSet::check_final_timestamp() const {
  return check_expiry(**timestamp_, "timestamp");
}

Status TrustedSet::update_snapshot(std::string_view bytes, bool trusted_local) {
  if (!timestamp_) return order_error("cannot update snapshot before timestamp");
  if (targets_.contains(RoleName::targets()))
    return order_error("cannot update snapshot after targets was loaded");
  if (auto s = check_final_timestamp(); !s) return s;
  const MetaFile& meta = (*timestamp_)->snapshot_meta();
  // The timestamp's length describes the snapshot it names; a trusted local copy (possibly an
  // older version, loaded as the rollback reference) is bounded by the generic cap instead.
  std::size_t cap = meta.length && !trusted_local ? static_cast<std::size_t>(*meta.length)
                                                  : limits_.max_snapshot_bytes;
  if (cap > limits_.max_metadata_bytes) cap = limits_.max_metadata_bytes;
  // §5.5.2: length and hashes from the timestamp (always when no version pins the file).
  if (!trusted_local || !meta.version) {
    if (auto s = verify_length_and_hashes(
            bytes, meta.length, meta.hashes, root_->dialect, false,
            "snapshot (from timestamp v" + std::to_string((*timestamp_)->version) + ")");
        !s)
      return s;
  }
  auto md = parse_for<Snapshot>(bytes, cap, limits_, root_->dialect);
  if (!md) return std::unexpected(md.error());
  const Snapshot& ns = md->signed_;
  std::string what = role_label(ns, "snapshot");
  // §5.5.3: signed by a threshold of the root's snapshot keys.
  if (auto s = verify_delegate(what, role_label(*root_, "root"), *md, root_->keys,
                               root_->role(RoleType::snapshot));
      !s)
    return s;
  if (snapshot_) {
    const Snapshot& old = **snapshot_;
    // §5.5.5: every role in the trusted snapshot is still listed, with no lower version.
    for (const auto& [name, om] : old.meta) {
      auto it = ns.meta.find(name);
      if (it == ns.meta.end())
        return make_error(Fault::remote, "rollback",
                          what + ": " + name + " is missing (listed in trusted snapshot v" +
                              std::to_string(old.version) + ")");
      if (om.version && it->second.version && *it->second.version < *om.version)
        return make_error(Fault::remote, "rollback",
                          what + ": " + name + " v" + std::to_string(*it->second.version) +
                              " < trusted v" + std::to_string(*om.version));
    }
    // Notary meta entries carry no versions: the snapshot's own version must not go back.
    if (!meta.version && ns.version < old.version)
      return make_error(Fault::remote, "rollback",
                        what + " < trusted v" + std::to_string(old.version));
  }
  // Kept even if not final, as the rollback reference for the next candidate.
  snapshot_ = Trusted<Snapshot>{std::move(*md), std::string(bytes)};
  return check_final_snapshot();
}

Status TrustedSet::check_final_snapshot() const {
  const Snapshot& s = **snapshot_;
  // §5.5.6: expiry; §5.5.4: version equals the timestamp's.
  if (auto st = check_expiry(s, "snapshot"); !st) return st;
  const MetaFile& meta = (*timestamp_)->snapshot_meta();
  if (meta.version && s.version != *meta.version)
    return make_error(Fault::remote, "version_mismatch",
                      role_label(s, "snapshot") + ": timestamp v" +
                          std::to_string((*timestamp_)->version) + " expects v" +
                          std::to_string(*meta.version));
  return {};
}

const TrustedTargets* TrustedSet::targets(const RoleName& role) const {
  auto it = targets_.find(role);
  return it == targets_.end() ? nullptr : &it->second;
}

Status TrustedSet::update_delegated_targets(std::string_view bytes, const RoleName& role,
                                            const RoleName& delegator, bool trusted_local) {
  if (!snapshot_) return order_error("cannot load targets before snapshot");
  if (auto s = check_final_snapshot(); !s) return s;
  // Who may sign this role: root's targets keys, or the delegating targets role's entry.
  const std::map<std::string, Json>* keys = nullptr;
  const RoleKeys* rk = nullptr;
  std::string delegator_label;
  if (delegator == RoleName::root()) {
    if (role != RoleName::targets()) return order_error("root delegates only targets");
    keys = &root_->keys;
    rk = &root_->role(RoleType::targets);
    delegator_label = role_label(*root_, "root");
  } else {
    const TrustedTargets* d = targets(delegator);
    if (!d) return order_error("delegator " + delegator.str() + " is not loaded");
    const auto& del = (*d)->delegations;
    delegator_label = role_label(**d, delegator.str());
    if (del) {
      keys = &del->keys;
      for (const auto& r : del->roles)
        if (r.name == role) rk = &r.keys;
      if (!rk && del->succinct_roles && del->succinct_roles->is_bin(role.str()))
        rk = &del->succinct_roles->keys;
    }
    if (!rk)
      return make_error(Fault::remote, "not_delegated",
                        role.str() + " is not delegated by " + delegator_label);
  }
  const Snapshot& snap = **snapshot_;
  const MetaFile* meta = snap.find(role);
  if (!meta)
    return make_error(Fault::remote, "not_in_snapshot",
                      role.str() + " is not listed in snapshot v" + std::to_string(snap.version));
  // §5.6.2: length and hashes from the snapshot.
  if (!trusted_local || !meta->version) {
    if (auto s = verify_length_and_hashes(
            bytes, meta->length, meta->hashes, root_->dialect, false,
            role.str() + " (from snapshot v" + std::to_string(snap.version) + ")");
        !s)
      return s;
  }
  std::size_t cap =
      meta->length ? static_cast<std::size_t>(*meta->length) : limits_.max_targets_bytes;
  if (cap > limits_.max_metadata_bytes) cap = limits_.max_metadata_bytes;
  auto md = parse_for<Targets>(bytes, cap, limits_, root_->dialect);
  if (!md) return std::unexpected(with_context(md.error(), role.str()));
  const Targets& nt = md->signed_;
  std::string what = role_label(nt, role.str());
  // §5.6.3: signed by a threshold of the delegator's keys for this role.
  if (auto s = verify_delegate(what, delegator_label, *md, *keys, *rk); !s) return s;
  // §5.6.4: the version the snapshot names.
  if (meta->version && nt.version != *meta->version)
    return make_error(Fault::remote, "version_mismatch",
                      what + ": snapshot v" + std::to_string(snap.version) + " expects v" +
                          std::to_string(*meta->version));
  // §5.6.5: not expired.
  if (auto s = check_expiry(nt, role.str()); !s) return s;
  TrustedTargets t;
  t.md = std::move(*md);
  t.raw = std::string(bytes);
  t.delegator = delegator;
  targets_.insert_or_assign(role, std::move(t));
  return {};
}

}  // namespace docket::tuf
