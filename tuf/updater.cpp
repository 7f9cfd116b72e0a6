#include "tuf/updater.h"

#include <set>
#include <vector>

#include "common/digest.h"
#include "common/encoding.h"
#include "tuf/delegation.h"
#include "tuf/verify.h"

namespace docket::tuf {
namespace {

// Hex SHA-256 of a meta entry (Notary lists base64, TUF hex), for checksum file names.
std::optional<std::string> meta_sha256_hex(const MetaFile& m, Dialect d) {
  auto it = m.hashes.find("sha256");
  if (it == m.hashes.end()) return std::nullopt;
  if (d == Dialect::tuf) return is_lower_hex(it->second) ? std::optional(it->second) : std::nullopt;
  auto raw = base64_decode(it->second);
  if (!raw || raw->size() != 32) return std::nullopt;
  return hex_encode(*raw);
}

// A role name as URL path segments: each segment percent-encoded, '/' kept.
std::string encode_segments(std::string_view s) {
  return percent_encode(s, "/");
}

// A target path as URL path segments, '/' kept. Percent-encodes what a path segment cannot
// carry as data (space, '%', '?', '#', controls, non-ASCII, ...) and keeps RFC 3986 pchar
// characters (unreserved, sub-delims "!$&'()*+,;=", ':' and '@') literal, as python-tuf
// (requests) and go-tuf send them: a repository that stores "a+b.txt" serves it under that
// name, not under "a%2Bb.txt". Role names keep the stricter encoding (quote(role, safe="")).
std::string encode_target_segments(std::string_view s) {
  return percent_encode(s, "!$&'()*+,;=:@/");
}

std::size_t cap_for(const MetaFile* m, std::size_t fallback, const Limits& l) {
  std::size_t c = m && m->length ? static_cast<std::size_t>(*m->length) : fallback;
  return std::min(c, l.max_metadata_bytes);
}

}  // namespace

Updater::Updater(UpdaterOptions options, MetadataStore& store, Fetcher& fetcher)
    : o_(std::move(options)), store_(store), fetcher_(fetcher) {
  if (!o_.clock) o_.clock = [] { return docket::now(); };
}

void Updater::note(std::string_view line) const {
  if (o_.log) o_.log(line);
}

Result<std::string> Updater::fetch(const std::string& name, std::size_t max_bytes) {
  std::string url = o_.metadata_url + name;
  ++stats_.requests;
  auto r = fetcher_.fetch(url, max_bytes);
  std::string origin = r ? fetcher_.last_fetch_origin() : std::string();
  if (!origin.empty()) ++stats_.prefetched;
  note("GET " + url +
       (r ? " -> " + std::to_string(r->size()) + " bytes" : " -> " + r.error().describe()) +
       (origin.empty() ? "" : " (" + origin + ")"));
  return r;
}

Result<std::optional<std::string>> Updater::load_local(const RoleName& role,
                                                       std::size_t max_bytes) {
  auto r = store_.load(role, max_bytes);
  if (!r) note("local " + role.file_name() + " unusable: " + r.error().describe());
  return r;
}

Status Updater::persist(const RoleName& role, std::string_view bytes) {
  auto s = store_.store(role, bytes);
  if (s) note("persisted " + role.file_name());
  return s;
}

Result<TrustedSet> Updater::load_trusted_root() {
  auto local = store_.load(RoleName::root(), o_.limits.max_root_bytes);
  if (!local) return std::unexpected(local.error());
  if (!*local)
    return make_error(Fault::local, "not_found", "no trusted root.json in the metadata store");
  auto ts = TrustedSet::create(**local, o_.limits, o_.clock, o_.expiration);
  if (!ts) {
    Error e = ts.error();
    e.fault = Fault::local;
    return std::unexpected(e);
  }
  note("trusted root v" + std::to_string(ts->root()->version) + " loaded (" +
       std::string(dialect_name(ts->dialect())) + " dialect)");
  return ts;
}

Status Updater::refresh() {
  if (trusted_) return make_error(Fault::bug, "out_of_order", "refresh() called twice");
  auto before = signature_checks_performed();
  auto root = load_trusted_root();
  if (!root) return std::unexpected(root.error());
  auto s = refresh(std::move(*root));
  stats_.signature_checks = signature_checks_performed() - before;
  return s;
}

Status Updater::refresh(TrustedSet trusted_root) {
  if (trusted_) return make_error(Fault::bug, "out_of_order", "refresh() called twice");
  auto before = signature_checks_performed();
  Dialect d = trusted_root.dialect();
  Status s = d == Dialect::notary ? refresh_notary(std::move(trusted_root))
                                  : refresh_tuf(std::move(trusted_root));
  stats_.signature_checks = signature_checks_performed() - before;
  return s;
}

// ---- TUF spec workflow ----

namespace {
bool same_role_keys(const Root& a, const Root& b, RoleType t) {
  const RoleKeys& x = a.role(t);
  const RoleKeys& y = b.role(t);
  if (x.threshold != y.threshold) return false;
  std::set<std::string> xs(x.keyids.begin(), x.keyids.end()), ys(y.keyids.begin(), y.keyids.end());
  if (xs != ys) return false;
  for (const auto& id : xs) {
    auto ka = a.keys.find(id);
    auto kb = b.keys.find(id);
    if ((ka == a.keys.end()) != (kb == b.keys.end())) return false;
    if (ka != a.keys.end() && ka->second != kb->second) return false;
  }
  return true;
}
}  // namespace

Status Updater::refresh_tuf(TrustedSet ts) {
  // §5.2: the trusted root was checked (parse + self-signature) before any request.
  trusted_.emplace(std::move(ts));
  TrustedSet& t = *trusted_;
  const Root initial_root = *t.root();
  // §5.3.2-§5.3.9: N.root.json for N = trusted+1, ... until 403/404, each persisted at once.
  for (int i = 0; i < o_.limits.max_root_rotations; ++i) {
    std::int64_t next = t.root()->version + 1;
    auto bytes = fetch(std::to_string(next) + ".root.json", o_.limits.max_root_bytes);
    if (!bytes) {
      if (bytes.error().code == "not_found") break;
      return std::unexpected(with_context(bytes.error(), "updating root"));
    }
    if (auto s = t.update_root(*bytes); !s) {
      note("rejected root v" + std::to_string(next) + ": " + s.error().message);
      return s;
    }
    note("accepted root v" + std::to_string(next));
    if (auto s = persist(RoleName::root(), *bytes); !s) return s;
  }
  // §5.3.10: the final root must not be expired (it stays persisted).
  if (auto s = t.check_root_expiry(); !s) return s;
  // §5.3.11 fast-forward attack recovery: after a timestamp or snapshot key rotation the
  // stored timestamp is no rollback reference, and after a snapshot key rotation neither is
  // the stored snapshot (a snapshot signed by the old keys would not verify anyway; one the
  // timestamp key alone cannot fast-forward stays usable). Nothing is deleted.
  bool same_snapshot_keys = same_role_keys(initial_root, *t.root(), RoleType::snapshot);
  bool same_timestamp_keys = same_role_keys(initial_root, *t.root(), RoleType::timestamp);
  if (!same_snapshot_keys || !same_timestamp_keys)
    note("timestamp/snapshot keys rotated: the stored timestamp is no rollback reference");
  if (auto s = update_timestamp(t, same_snapshot_keys && same_timestamp_keys); !s) return s;
  if (auto s = update_snapshot(t, snapshot_file_name(t), same_snapshot_keys); !s) return s;
  return load_targets(t, RoleName::targets(), RoleName::root());
}

Status Updater::update_timestamp(TrustedSet& t, bool use_local) {
  // A local timestamp (even expired) is the rollback reference if it still verifies with the
  // current root; one signed by rotated-away keys is ignored (§5.3.11 fast-forward recovery).
  if (auto local = use_local ? load_local(RoleName::timestamp(), o_.limits.max_timestamp_bytes)
                             : Result<std::optional<std::string>>(std::nullopt);
      local && *local) {
    auto r = t.update_timestamp(**local);
    note(r ? "local timestamp loaded" : "local timestamp: " + r.error().message);
  }
  // §5.4.1: timestamp.json, never versioned.
  auto bytes = fetch("timestamp.json", o_.limits.max_timestamp_bytes);
  if (!bytes) return std::unexpected(with_context(bytes.error(), "updating timestamp"));
  auto r = t.update_timestamp(*bytes);
  if (!r) {
    note("rejected timestamp: " + r.error().message);
    return std::unexpected(r.error());
  }
  if (*r == TrustedSet::TimestampOutcome::equal_version) {
    note("timestamp v" + std::to_string(t.timestamp()->md.signed_.version) +
         " unchanged: keeping the trusted copy");
    return {};
  }
  note("accepted timestamp v" + std::to_string(t.timestamp()->md.signed_.version));
  return persist(RoleName::timestamp(), *bytes);
}

std::string Updater::snapshot_file_name(const TrustedSet& t) const {
  const MetaFile& m = t.timestamp()->md.signed_.snapshot_meta();
  if (t.dialect() == Dialect::notary) {
    auto h = meta_sha256_hex(m, Dialect::notary);
    return h ? "snapshot." + *h + ".json" : "snapshot.json";
  }
  if (t.root()->consistent_snapshot && m.version)
    return std::to_string(*m.version) + ".snapshot.json";
  return "snapshot.json";
}

std::string Updater::targets_file_name(const TrustedSet& t, const RoleName& role) const {
  const MetaFile* m = t.snapshot()->md.signed_.find(role);
  if (t.dialect() == Dialect::notary) {
    auto h = m ? meta_sha256_hex(*m, Dialect::notary) : std::nullopt;
    return encode_segments(role.str()) + (h ? "." + *h : "") + ".json";
  }
  if (t.root()->consistent_snapshot && m && m->version)
    return std::to_string(*m->version) + "." + role.encoded() + ".json";
  return role.encoded() + ".json";
}

Status Updater::update_snapshot(TrustedSet& t, const std::string& remote_name, bool use_local) {
  const MetaFile& meta = t.timestamp()->md.signed_.snapshot_meta();
  // A local snapshot that verifies, matches the timestamp and is not expired needs no request.
  // One that verifies but is not current is still the rollback reference for the new one
  // (§5.5.5), so it is read up to the generic snapshot cap: the timestamp's length describes
  // the NEW snapshot, and an older, longer file must not silently lose its rollback role.
  if (auto local = use_local
                       ? load_local(RoleName::snapshot(), std::min(o_.limits.max_snapshot_bytes,
                                                                   o_.limits.max_metadata_bytes))
                       : Result<std::optional<std::string>>(std::nullopt);
      local && *local) {
    auto r = t.update_snapshot(**local, /*trusted_local=*/true);
    if (r) {
      note("local snapshot v" + std::to_string(t.snapshot()->md.signed_.version) + " is current");
      return {};
    }
    note("local snapshot not usable: " + r.error().message);
  }
  // §5.5.1: fetch, capped at the timestamp's length if given.
  auto bytes = fetch(remote_name, cap_for(&meta, o_.limits.max_snapshot_bytes, o_.limits));
  if (!bytes) return std::unexpected(with_context(bytes.error(), "updating snapshot"));
  if (auto s = t.update_snapshot(*bytes); !s) {
    note("rejected snapshot: " + s.error().message);
    return s;
  }
  note("accepted snapshot v" + std::to_string(t.snapshot()->md.signed_.version));
  return persist(RoleName::snapshot(), *bytes);
}

Status Updater::load_targets(TrustedSet& t, const RoleName& role, const RoleName& delegator) {
  if (const TrustedTargets* have = t.targets(role)) {
    if (have->delegator == delegator) return {};
    // Reached through another delegator: trust it only if THIS delegator's keys sign it.
    note(role.str() + " was verified via " + have->delegator.str() + "; re-verifying via " +
         delegator.str());
    std::string raw = have->raw;
    return t.update_delegated_targets(raw, role, delegator, /*trusted_local=*/true);
  }
  const MetaFile* meta = t.snapshot()->md.signed_.find(role);
  if (!meta)
    return make_error(Fault::remote, "not_in_snapshot",
                      role.str() + " is not listed in snapshot v" +
                          std::to_string(t.snapshot()->md.signed_.version));
  std::size_t cap = cap_for(meta, o_.limits.max_targets_bytes, o_.limits);
  if (auto local = load_local(role, cap); local && *local) {
    auto r = t.update_delegated_targets(**local, role, delegator, /*trusted_local=*/true);
    if (r) {
      note("local " + role.str() + " is current");
      return {};
    }
    note("local " + role.str() + " not usable: " + r.error().message);
  }
  // §5.6.1: fetch V.ENC(role).json (consistent snapshot) / ENC(role).json.
  auto bytes = fetch(targets_file_name(t, role), cap);
  if (!bytes) return std::unexpected(with_context(bytes.error(), "updating " + role.str()));
  if (auto s = t.update_delegated_targets(*bytes, role, delegator); !s) {
    note("rejected " + role.str() + ": " + s.error().message);
    return s;
  }
  note("accepted " + role.str() + " v" + std::to_string(t.targets(role)->md.signed_.version));
  return persist(role, *bytes);
}

// ---- Notary workflow ----

Status Updater::notary_attempt(TrustedSet& t) {
  if (auto s = t.check_root_expiry(); !s) return s;
  if (auto s = update_timestamp(t); !s) return s;
  if (auto s = update_snapshot(t, snapshot_file_name(t)); !s) return s;
  // The snapshot names the current root by checksum: a different one means a rotation.
  const MetaFile* rm = t.snapshot()->md.signed_.find(RoleName::root());
  if (rm && !rm->hashes.empty() &&
      !verify_length_and_hashes(t.root().raw, rm->length, rm->hashes, Dialect::notary, false,
                                "root"))
    return make_error(Fault::remote, "root_changed",
                      "snapshot v" + std::to_string(t.snapshot()->md.signed_.version) +
                          " names a root other than the trusted v" +
                          std::to_string(t.root()->version));
  return load_targets(t, RoleName::targets(), RoleName::root());
}

Status Updater::notary_update_root(TrustedSet& t, const TrustedSet* previous) {
  std::string name = "root.json";
  std::size_t cap = o_.limits.max_root_bytes;
  const MetaFile* rm = nullptr;
  if (previous && previous->snapshot()) {
    rm = previous->snapshot()->md.signed_.find(RoleName::root());
    if (rm) {
      if (auto h = meta_sha256_hex(*rm, Dialect::notary)) name = "root." + *h + ".json";
      cap = cap_for(rm, o_.limits.max_root_bytes, o_.limits);
    }
  }
  auto newest = fetch(name, cap);
  if (!newest) return std::unexpected(with_context(newest.error(), "updating root"));
  if (rm) {
    if (auto s = verify_length_and_hashes(*newest, rm->length, rm->hashes, Dialect::notary, false,
                                          "root named by the snapshot");
        !s)
      return s;
  }
  ParseOptions po;
  po.max_bytes = cap;
  auto h = parse_header(*newest, po);
  if (!h) return std::unexpected(h.error());
  std::int64_t current = t.root()->version;
  if (h->version <= current)
    return make_error(Fault::remote, "rollback",
                      "root v" + std::to_string(h->version) +
                          " from the server is not newer than trusted v" + std::to_string(current));
  auto direct = t.update_root(*newest, RootVersionRule::any_newer);
  if (!direct) {
    if (direct.error().code != "bad_signature") return direct;
    // The trusted root did not sign the newest: walk <N>.root.json up to newest-1.
    note("root v" + std::to_string(h->version) + " not signed by trusted v" +
         std::to_string(current) + ": walking the versions in between");
    if (h->version - current > o_.limits.max_root_rotations)
      return make_error(Fault::remote, "too_many_rotations",
                        "root v" + std::to_string(h->version) + " is more than " +
                            std::to_string(o_.limits.max_root_rotations) + " versions ahead");
    for (std::int64_t n = current + 1; n < h->version; ++n) {
      auto bytes = fetch(std::to_string(n) + ".root.json", o_.limits.max_root_bytes);
      if (!bytes) return std::unexpected(with_context(bytes.error(), "updating root"));
      if (auto s = t.update_root(*bytes, RootVersionRule::exactly_next); !s) return s;
      note("accepted root v" + std::to_string(n));
      if (auto s = persist(RoleName::root(), *bytes); !s) return s;
    }
    if (auto s = t.update_root(*newest, RootVersionRule::exactly_next); !s) return s;
  }
  note("accepted root v" + std::to_string(h->version));
  return persist(RoleName::root(), *newest);
}

Status Updater::refresh_notary(TrustedSet first_set) {
  std::optional<TrustedSet> first(std::move(first_set));
  auto s = notary_attempt(*first);
  if (s) {
    trusted_.emplace(std::move(*first));
    return {};
  }
  // Like Notary's client: on any failure with the cached root, update the root and try once
  // more with the newest one (a rotated timestamp or snapshot key looks like a bad signature).
  if (s.error().fault == Fault::local) return s;
  note("update with trusted root failed (" + s.error().message + "); updating root");
  auto second = load_trusted_root();
  if (!second) return std::unexpected(second.error());
  const TrustedSet* previous = s.error().code == "root_changed" ? &*first : nullptr;
  if (auto r = notary_update_root(*second, previous); !r) {
    if (r.error().code == "rollback" && s.error().code != "root_changed") return s;
    return r;
  }
  if (auto r = notary_attempt(*second); !r) return r;
  trusted_.emplace(std::move(*second));
  return {};
}

// ---- targets ----

Result<std::optional<TargetInfo>> Updater::find_target(const TargetPath& path) {
  return find_target_from(path, RoleName::targets(), {});
}

Result<std::optional<TargetInfo>> Updater::find_target_from(const TargetPath& path,
                                                            const RoleName& start,
                                                            const std::vector<RoleName>& skip) {
  if (!trusted_ || !trusted_->targets())
    return make_error(Fault::bug, "out_of_order", "find_target() before a successful refresh()");
  TrustedSet& t = *trusted_;
  struct Item {
    RoleName role;
    RoleName delegator;
    int depth;
  };
  Item first{RoleName::targets(), RoleName::root(), 0};
  if (start != RoleName::targets()) {
    // Notary names delegations by path: walk the parent chain down from "targets", loading
    // each parent and checking that it delegates the next link for this target path.
    const std::string& name = start.str();
    if (!name.starts_with("targets/")) {
      note("start role " + name + " is not a Notary delegation name");
      return std::optional<TargetInfo>();
    }
    RoleName parent = RoleName::targets();
    RoleName parent_delegator = RoleName::root();
    int depth = 0;
    for (std::size_t pos = name.find('/', 8);; pos = name.find('/', pos + 1)) {
      auto link = RoleName::make(name.substr(0, pos));
      if (!link) return std::unexpected(link.error());
      if (auto s = load_targets(t, parent, parent_delegator); !s) return std::unexpected(s.error());
      const Targets& pt = t.targets(parent)->md.signed_;
      const DelegatedRole* entry = nullptr;
      if (pt.delegations)
        for (const auto& r : pt.delegations->roles)
          if (r.name == *link) entry = &r;
      if (!entry || !role_matches(*entry, path, pt.dialect)) {
        note(link->str() + " is not delegated by " + parent.str() + " for " + path.str());
        return std::optional<TargetInfo>();
      }
      if (++depth > o_.limits.max_delegation_depth) {
        note("start role " + name + " is deeper than max_delegation_depth");
        return std::optional<TargetInfo>();
      }
      parent_delegator = parent;
      parent = *link;
      if (pos == std::string::npos) break;
    }
    first = Item{start, parent_delegator, depth};
  }
  // §5.6.7: pre-order depth-first search from the start role.
  std::vector<Item> stack{first};
  std::set<RoleName> visited(skip.begin(), skip.end());
  int visits = 0;
  while (!stack.empty()) {
    Item it = std::move(stack.back());
    stack.pop_back();
    if (visited.contains(it.role)) continue;  // cycles and diamonds: each role once
    if (visits >= 1 + o_.limits.max_delegations) {
      note("delegation search for " + path.str() + " stopped after " + std::to_string(visits) +
           " roles (max_delegations)");
      return std::optional<TargetInfo>();
    }
    if (auto s = load_targets(t, it.role, it.delegator); !s) return std::unexpected(s.error());
    visited.insert(it.role);
    ++visits;
    const Targets& tg = t.targets(it.role)->md.signed_;
    if (auto f = tg.targets.find(path.str()); f != tg.targets.end()) {
      note("target " + path.str() + " found in " + it.role.str() + " v" +
           std::to_string(tg.version));
      return std::optional<TargetInfo>(TargetInfo{path, f->second, it.role, tg.dialect});
    }
    if (!tg.delegations) continue;
    if (it.depth >= o_.limits.max_delegation_depth) {
      note("not descending below " + it.role.str() + ": max_delegation_depth reached");
      continue;
    }
    std::vector<Item> children;
    const Delegations& del = *tg.delegations;
    if (del.succinct_roles) {
      auto name = RoleName::make(del.succinct_roles->role_for(path));
      if (name) children.push_back({*name, it.role, it.depth + 1});
    }
    bool terminate = false;
    for (const auto& r : del.roles) {
      if (!role_matches(r, path, tg.dialect)) continue;
      children.push_back({r.name, it.role, it.depth + 1});
      if (r.terminating) {
        // §5.6.7.2.1: a terminating match ends the search after its subtree.
        terminate = true;
        break;
      }
    }
    if (terminate) stack.clear();
    for (auto c = children.rbegin(); c != children.rend(); ++c) stack.push_back(std::move(*c));
  }
  note("target " + path.str() + " not found");
  return std::optional<TargetInfo>();
}

Status Updater::verify_target(const TargetInfo& info, std::string_view bytes) const {
  return verify_length_and_hashes(bytes, info.file.length, info.file.hashes, info.dialect, true,
                                  "target " + info.path.str());
}

std::string Updater::target_url(const TargetInfo& info) const {
  bool consistent = trusted_ && trusted_->root()->consistent_snapshot;
  if (consistent && o_.prefix_targets_with_hash && !info.file.hashes.empty()) {
    auto it = info.file.hashes.find("sha256");
    const std::string& h =
        it != info.file.hashes.end() ? it->second : info.file.hashes.begin()->second;
    auto slash = info.path.str().rfind('/');
    std::string dir = slash == std::string::npos ? "" : info.path.str().substr(0, slash + 1);
    std::string base =
        slash == std::string::npos ? info.path.str() : info.path.str().substr(slash + 1);
    return o_.target_base_url + encode_target_segments(dir) + percent_encode(h) + "." +
           encode_target_segments(base);
  }
  return o_.target_base_url + encode_target_segments(info.path.str());
}

Result<std::string> Updater::download_target(const TargetInfo& info) {
  if (static_cast<std::uint64_t>(info.file.length) > o_.limits.max_target_bytes)
    return make_error(Fault::remote, "too_large",
                      "target " + info.path.str() + " is " + std::to_string(info.file.length) +
                          " bytes, over max_target_bytes");
  std::string url = target_url(info);
  auto r = fetcher_.fetch(url, static_cast<std::size_t>(info.file.length));
  note("GET " + url +
       (r ? " -> " + std::to_string(r->size()) + " bytes" : " -> " + r.error().describe()));
  if (!r) return std::unexpected(r.error());
  if (auto s = verify_target(info, *r); !s) return std::unexpected(s.error());
  return r;
}

}  // namespace docket::tuf
