#include "tuf/editor.h"

#include <algorithm>
#include <deque>
#include <limits>
#include <set>

#include "common/digest.h"
#include "common/encoding.h"
#include "tuf/delegation.h"
#include "tuf/verify.h"

namespace docket::tuf {

namespace {

constexpr std::string_view kBaseRoles[] = {"root", "targets", "snapshot", "timestamp"};

bool is_base_role(std::string_view r) {
  return std::find(std::begin(kBaseRoles), std::end(kBaseRoles), r) != std::end(kBaseRoles);
}

std::unexpected<Error> user_error(std::string code, std::string msg) {
  return std::unexpected(Error{Fault::user, std::move(code), std::move(msg)});
}

std::string short_id(std::string_view id) {
  return std::string(id.substr(0, 12));
}

std::string list_ids(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    if (!out.empty()) out += ", ";
    out += short_id(id);
  }
  return out;
}

std::size_t distinct(const std::vector<std::string>& ids) {
  return std::set<std::string>(ids.begin(), ids.end()).size();
}

Status check_threshold(std::string_view role, std::int64_t threshold, std::size_t nkeys) {
  if (threshold < 1)
    return user_error("usage", std::string(role) + ": threshold must be at least 1");
  if (static_cast<std::size_t>(threshold) > nkeys)
    return user_error("usage", std::string(role) + ": threshold " + std::to_string(threshold) +
                                   " exceeds its " + std::to_string(nkeys) +
                                   " key(s); the role could never be signed");
  return {};
}

// Notary path restriction (tuf/data RestrictDelegationPathPrefixes): a child path must
// have one of the parent's paths as a prefix; "" in the parent allows everything.
bool within_parent_paths(const std::vector<std::string>& parent, std::string_view p) {
  for (const auto& pp : parent)
    if (p.starts_with(pp)) return true;
  return false;
}

std::size_t depth_of(std::string_view name) {
  return static_cast<std::size_t>(std::count(name.begin(), name.end(), '/'));
}

}  // namespace

// ---- keys ----------------------------------------------------------------------------

void MemoryKeyRing::add(const keys::PrivateKey& k) {
  by_spki_.insert_or_assign(k.public_key(keys::Dialect::notary).public_der(), k);
}

std::optional<keys::PrivateKey> MemoryKeyRing::find(const keys::PublicKey& pub) const {
  auto it = by_spki_.find(pub.public_der());
  if (it == by_spki_.end()) return std::nullopt;
  return it->second;
}

std::chrono::seconds Expiries::for_role(std::string_view role) const {
  if (role == "root") return root;
  if (role == "snapshot") return snapshot;
  if (role == "timestamp") return timestamp;
  return targets;
}

Result<keys::PublicKey> make_root_certificate(const keys::PrivateKey& k, std::string_view gun,
                                              std::chrono::seconds validity) {
  return k.self_signed_certificate(gun, validity);
}

TargetFile make_target_file(keys::Dialect d, std::string_view content, std::optional<Json> custom) {
  return make_target_file(d, static_cast<std::int64_t>(content.size()),
                          {{"sha256", sha256(content)}, {"sha512", sha512(content)}},
                          std::move(custom));
}

TargetFile make_target_file(keys::Dialect d, std::int64_t length,
                            const std::map<std::string, std::string>& raw_hashes,
                            std::optional<Json> custom) {
  TargetFile f;
  f.length = length;
  for (const auto& [alg, raw] : raw_hashes) f.hashes[alg] = encode_hash(d, raw);
  f.custom = std::move(custom);
  return f;
}

// ---- construction -------------------------------------------------------------------

Status Editor::check_root_key(const keys::PublicKey& k) const {
  if (dialect_ != keys::Dialect::notary) return {};
  // Notary's server (trustpinning.ValidateRoot) accepts only x509 root keys whose leaf
  // certificate names the GUN, is not a CA and has not expired.
  if (!k.is_x509())
    return user_error("bad_key", "root key " + short_id(k.key_id()) +
                                     " is not an x509 certificate; Notary root keys must be "
                                     "(use make_root_certificate)");
  auto cn = k.certificate_common_name();
  if (!cn || *cn != gun_)
    return user_error("bad_key", "root certificate " + short_id(k.key_id()) + " has CN \"" +
                                     (cn ? *cn : std::string("?")) + "\", not the GUN \"" + gun_ +
                                     "\"");
  auto ca = k.certificate_is_ca();
  if (ca && *ca)
    return user_error("bad_key", "root certificate " + short_id(k.key_id()) + " is a CA");
  auto na = k.certificate_not_after();
  if (na && *na <= docket::now())
    return user_error("bad_key", "root certificate " + short_id(k.key_id()) + " has expired");
  return {};
}

Result<Editor> Editor::create(const CreateOptions& o, const KeyRing& ring) {
  Editor e(ring);
  e.dialect_ = o.dialect;
  e.gun_ = o.gun;
  e.expiries_ = o.expiries;
  if (e.dialect_ == keys::Dialect::notary) {
    if (auto s = check_gun_path(o.gun); !s) return std::unexpected(s.error());
  }

  Root root;
  root.dialect = o.dialect;
  root.type = RoleType::root;
  root.version = 0;
  if (o.dialect == keys::Dialect::tuf) root.spec_version = "1.0.31";
  root.consistent_snapshot = o.dialect == keys::Dialect::tuf && o.consistent_snapshot;
  const std::pair<std::string_view, const RoleKeySpec*> specs[] = {{"root", &o.root},
                                                                   {"targets", &o.targets},
                                                                   {"snapshot", &o.snapshot},
                                                                   {"timestamp", &o.timestamp}};
  for (auto [name, spec] : specs) {
    RoleKeys rk;
    for (const auto& k : spec->keys) {
      if (name == "root")
        if (auto s = e.check_root_key(k); !s) return std::unexpected(s.error());
      if (k.dialect() != o.dialect)
        return user_error("bad_key", std::string(name) + " key " + short_id(k.key_id()) + " is a " +
                                         std::string(dialect_name(k.dialect())) +
                                         "-dialect key in a " +
                                         std::string(dialect_name(o.dialect)) + " repository");
      root.keys[k.key_id()] = k.json();
      rk.keyids.push_back(k.key_id());
    }
    rk.threshold = spec->threshold;
    if (auto s = check_threshold(name, rk.threshold, distinct(rk.keyids)); !s)
      return std::unexpected(s.error());
    root.roles[std::string(name)] = std::move(rk);
  }
  e.root_.md.signed_ = root;
  e.root_.dirty = true;
  e.signed_root_ = root;

  Role<Targets> targets;
  targets.md.signed_.dialect = o.dialect;
  targets.md.signed_.type = RoleType::targets;
  targets.md.signed_.version = 0;
  targets.md.signed_.spec_version = root.spec_version;
  if (o.dialect == keys::Dialect::notary) {
    // Notary always writes "delegations":{"keys":{},"roles":[]}.
    Delegations d;
    d.dialect = o.dialect;
    targets.md.signed_.delegations = d;
  }
  targets.dirty = true;
  e.targets_.emplace("targets", std::move(targets));

  if (e.holds_any(root.keys, root.roles.at("snapshot"))) {
    Role<Snapshot> s;
    s.md.signed_.dialect = o.dialect;
    s.md.signed_.type = RoleType::snapshot;
    s.md.signed_.version = 0;
    s.md.signed_.spec_version = root.spec_version;
    s.dirty = true;
    e.snapshot_ = std::move(s);
  }
  if (e.holds_any(root.keys, root.roles.at("timestamp"))) {
    if (!e.snapshot_)
      return user_error("usage",
                        "holding the timestamp key but not the snapshot key: the timestamp "
                        "would have no snapshot to point at");
    Role<Timestamp> t;
    t.md.signed_.dialect = o.dialect;
    t.md.signed_.type = RoleType::timestamp;
    t.md.signed_.version = 0;
    t.md.signed_.spec_version = root.spec_version;
    t.dirty = true;
    e.timestamp_ = std::move(t);
  }
  return e;
}

Result<Editor> Editor::load(const RepoFiles& files, std::string gun, const KeyRing& ring,
                            Expiries expiries) {
  Editor e(ring);
  e.gun_ = std::move(gun);
  e.expiries_ = expiries;
  ParseOptions po;
  po.fault = Fault::local;
  auto root = parse_root(files.root, po);
  if (!root) return std::unexpected(with_context(root.error(), "root.json"));
  e.dialect_ = root->signed_.dialect;
  po.dialect = e.dialect_;
  e.root_.md = std::move(*root);
  e.root_.bytes = files.root;
  e.signed_root_ = e.root_.md.signed_;
  if (files.trusted_root) {
    auto tr = parse_root(*files.trusted_root, po);
    if (!tr) return std::unexpected(with_context(tr.error(), "trusted root.json"));
    e.signed_root_ = tr->signed_;
  }
  for (const auto& [role, version] : files.unloaded_versions) {
    if (files.targets.contains(role))
      return std::unexpected(Error{Fault::bug, "bug", role + " is both loaded and not loaded"});
    if (version < 0 || version == std::numeric_limits<std::int64_t>::max())
      return std::unexpected(Error{Fault::remote, "malformed_metadata",
                                   role + ".json claims version " + std::to_string(version)});
    e.unloaded_versions_[role] = version;
  }
  if (!files.targets.contains("targets"))
    return std::unexpected(Error{Fault::local, "not_found", "no targets.json to edit"});
  for (const auto& [name, bytes] : files.targets) {
    auto t = parse_targets(bytes, po);
    if (!t) return std::unexpected(with_context(t.error(), name + ".json"));
    Role<Targets> r;
    r.md = std::move(*t);
    r.bytes = bytes;
    e.targets_.emplace(name, std::move(r));
  }
  if (files.snapshot) {
    auto s = parse_snapshot(*files.snapshot, po);
    if (!s) return std::unexpected(with_context(s.error(), "snapshot.json"));
    e.snapshot_.emplace();
    e.snapshot_->md = std::move(*s);
    e.snapshot_->bytes = *files.snapshot;
  } else if (e.holds_any(e.root_.md.signed_.keys, e.root_.md.signed_.role(RoleType::snapshot))) {
    // We hold the snapshot key but have no snapshot yet: start one.
    e.snapshot_.emplace();
    e.snapshot_->md.signed_.dialect = e.dialect_;
    e.snapshot_->md.signed_.type = RoleType::snapshot;
    e.snapshot_->md.signed_.version = 0;
    e.snapshot_->dirty = true;
  }
  if (files.timestamp) {
    auto t = parse_timestamp(*files.timestamp, po);
    if (!t) return std::unexpected(with_context(t.error(), "timestamp.json"));
    e.timestamp_.emplace();
    e.timestamp_->md = std::move(*t);
    e.timestamp_->bytes = *files.timestamp;
  }
  return e;
}

// ---- lookups -----------------------------------------------------------------------

std::vector<std::pair<std::string, keys::PrivateKey>> Editor::held_keys(
    const std::map<std::string, Json>& keys, const RoleKeys& role) const {
  std::vector<std::pair<std::string, keys::PrivateKey>> out;
  std::set<std::string> seen;
  for (const auto& id : role.keyids) {
    if (!seen.insert(id).second) continue;
    auto it = keys.find(id);
    if (it == keys.end()) continue;
    auto pub = keys::PublicKey::from_json(it->second, Fault::local);
    if (!pub) continue;
    if (auto priv = ring_->find(*pub)) out.emplace_back(id, *priv);
  }
  return out;
}

bool Editor::holds_any(const std::map<std::string, Json>& keys, const RoleKeys& role) const {
  return !held_keys(keys, role).empty();
}

bool Editor::server_manages_snapshot() const {
  return !holds_any(root_.md.signed_.keys, root_.md.signed_.role(RoleType::snapshot));
}

bool Editor::server_manages_timestamp() const {
  return !holds_any(root_.md.signed_.keys, root_.md.signed_.role(RoleType::timestamp));
}

const Metadata<Targets>* Editor::targets(std::string_view role) const {
  auto it = targets_.find(std::string(role));
  return it == targets_.end() ? nullptr : &it->second.md;
}

std::vector<std::string> Editor::targets_roles() const {
  // Breadth first from "targets" along delegations: parents before children.
  std::vector<std::string> out;
  std::set<std::string> seen;
  std::deque<std::string> queue{"targets"};
  while (!queue.empty()) {
    std::string r = queue.front();
    queue.pop_front();
    if (!seen.insert(r).second) continue;
    auto it = targets_.find(r);
    if (it == targets_.end()) continue;
    out.push_back(r);
    if (it->second.md.signed_.delegations)
      for (const auto& d : it->second.md.signed_.delegations->roles) queue.push_back(d.name.str());
  }
  for (const auto& [name, r] : targets_)
    if (!seen.contains(name)) out.push_back(name);
  return out;
}

RepoFiles repo_files_from(const std::map<std::string, std::string>& by_role) {
  RepoFiles out;
  for (const auto& [role, bytes] : by_role) {
    if (role == "root")
      out.root = bytes;
    else if (role == "snapshot")
      out.snapshot = bytes;
    else if (role == "timestamp")
      out.timestamp = bytes;
    else
      out.targets[role] = bytes;
  }
  return out;
}

std::map<std::string, std::string> Editor::files() const {
  std::map<std::string, std::string> out;
  if (!root_.bytes.empty()) out["root"] = root_.bytes;
  for (const auto& [name, r] : targets_)
    if (!r.bytes.empty()) out[name] = r.bytes;
  if (snapshot_ && !snapshot_->bytes.empty()) out["snapshot"] = snapshot_->bytes;
  if (timestamp_ && !timestamp_->bytes.empty()) out["timestamp"] = timestamp_->bytes;
  return out;
}

bool Editor::dirty(std::string_view role) const {
  if (role == "root") return root_.dirty;
  if (role == "snapshot") return snapshot_ && snapshot_->dirty;
  if (role == "timestamp") return timestamp_ && timestamp_->dirty;
  auto it = targets_.find(std::string(role));
  return it != targets_.end() && it->second.dirty;
}

void Editor::mark_dirty(std::string_view role) {
  if (role == "root") {
    root_.dirty = true;
  } else if (role == "snapshot") {
    if (snapshot_) snapshot_->dirty = true;
  } else if (role == "timestamp") {
    if (timestamp_) timestamp_->dirty = true;
  } else if (auto it = targets_.find(std::string(role)); it != targets_.end()) {
    it->second.dirty = true;
  }
}

std::optional<std::string> Editor::delegation_parent(std::string_view name) const {
  for (const auto& [parent, r] : targets_) {
    if (!r.md.signed_.delegations) continue;
    for (const auto& d : r.md.signed_.delegations->roles)
      if (d.name.str() == name) return parent;
  }
  return std::nullopt;
}

Result<std::pair<Editor::Role<Targets>*, std::size_t>> Editor::find_delegation(
    std::string_view name) {
  auto parent = delegation_parent(name);
  if (!parent)
    return user_error("not_found", "no delegation \"" + std::string(name) + "\" in the repository");
  Role<Targets>& p = targets_.at(*parent);
  auto& roles = p.md.signed_.delegations->roles;
  for (std::size_t i = 0; i < roles.size(); ++i)
    if (roles[i].name.str() == name) return std::pair{&p, i};
  return std::unexpected(Error{Fault::bug, "bug", "delegation vanished"});
}

Result<Editor::Role<Targets>*> Editor::targets_role(std::string_view role) {
  if (auto it = targets_.find(std::string(role)); it != targets_.end()) return &it->second;
  if (role == "targets")
    return std::unexpected(Error{Fault::local, "not_found", "no targets metadata loaded"});
  if (!delegation_parent(role))
    return user_error("not_found",
                      "no targets role \"" + std::string(role) + "\": add the delegation first");
  // A delegation without metadata yet (Notary creates it on the first target), or one whose
  // metadata the caller could not verify and did not load: the new metadata continues from
  // the version the snapshot lists, so that it replaces the old one instead of going back.
  Role<Targets> r;
  r.md.signed_.dialect = dialect_;
  r.md.signed_.type = RoleType::targets;
  r.md.signed_.version = 0;
  if (auto it = unloaded_versions_.find(std::string(role)); it != unloaded_versions_.end())
    r.md.signed_.version = it->second;
  if (auto rn = RoleName::make(std::string(role)); rn && snapshot_)
    if (const MetaFile* m = snapshot_->md.signed_.find(*rn); m && m->version)
      r.md.signed_.version = std::max(r.md.signed_.version, *m->version);
  if (dialect_ == keys::Dialect::tuf) r.md.signed_.spec_version = "1.0.31";
  if (dialect_ == keys::Dialect::notary) {
    Delegations d;
    d.dialect = dialect_;
    r.md.signed_.delegations = d;
  }
  r.dirty = true;
  return &targets_.emplace(std::string(role), std::move(r)).first->second;
}

Status Editor::check_base_role(std::string_view role) const {
  if (!is_base_role(role))
    return user_error("usage", "\"" + std::string(role) +
                                   "\" is not a top-level role (root, targets, snapshot, "
                                   "timestamp)");
  return {};
}

// ---- edits -------------------------------------------------------------------------

Status Editor::add_target(std::string_view role, std::string_view path, const TargetFile& file) {
  auto tp = TargetPath::make(path, Fault::user);
  if (!tp) return std::unexpected(tp.error());
  if (file.length < 0)
    return user_error("usage", "target " + std::string(path) + ": negative length");
  if (file.hashes.empty())
    return user_error("usage", "target " + std::string(path) + ": no hashes");
  if (role != "targets") {
    auto found = find_delegation(role);
    if (!found) return std::unexpected(found.error());
    const DelegatedRole& d = found->first->md.signed_.delegations->roles[found->second];
    if (!role_matches(d, *tp, dialect_))
      return user_error("usage", "target \"" + std::string(path) + "\" is outside the paths " +
                                     "delegated to " + std::string(role));
  }
  auto r = targets_role(role);
  if (!r) return std::unexpected(r.error());
  auto& targets = (*r)->md.signed_.targets;
  auto it = targets.find(std::string(path));
  if (it != targets.end() && to_json(it->second) == to_json(file)) return {};
  targets[std::string(path)] = file;
  (*r)->dirty = true;
  return {};
}

Status Editor::remove_target(std::string_view role, std::string_view path) {
  auto it = targets_.find(std::string(role));
  if (it == targets_.end()) {
    if (role == "targets" || delegation_parent(role)) return {};  // nothing to remove
    return user_error("not_found", "no targets role \"" + std::string(role) + "\"");
  }
  if (it->second.md.signed_.targets.erase(std::string(path))) it->second.dirty = true;
  return {};
}

Status Editor::add_delegation(const NewDelegation& nd) {
  if (nd.name.empty() || is_base_role(nd.name))
    return user_error("usage", "\"" + nd.name + "\" cannot name a delegated role");
  if (auto rn = RoleName::make(nd.name, Fault::user); !rn) return std::unexpected(rn.error());
  if (delegation_parent(nd.name))
    return user_error("usage", "delegation \"" + nd.name + "\" already exists");
  std::size_t count = 0;
  for (const auto& [n, r] : targets_)
    if (r.md.signed_.delegations) count += r.md.signed_.delegations->roles.size();
  if (count >= kMaxDelegatedRoles)
    return user_error("too_large", "the repository already has " + std::to_string(count) +
                                       " delegated roles (limit " +
                                       std::to_string(kMaxDelegatedRoles) + ")");
  std::vector<std::string> parent_paths{""};
  if (nd.parent != "targets") {
    auto pf = find_delegation(nd.parent);
    if (!pf) return std::unexpected(pf.error());
    const auto& pr = pf->first->md.signed_.delegations->roles[pf->second];
    parent_paths = pr.paths.value_or(std::vector<std::string>{});
  }
  if (dialect_ == keys::Dialect::notary) {
    // Notary: "targets/<x>" directly below its parent.
    if (!nd.name.starts_with(nd.parent + "/") ||
        nd.name.find('/', nd.parent.size() + 1) != std::string::npos ||
        nd.name.size() == nd.parent.size() + 1)
      return user_error("usage", "Notary delegation \"" + nd.name +
                                     "\" must be named <parent>/<name> below \"" + nd.parent +
                                     "\"");
    if (depth_of(nd.name) > static_cast<std::size_t>(kMaxDelegationDepth))
      return user_error("usage", "delegation \"" + nd.name + "\" is nested too deep");
    for (const auto& p : nd.paths)
      if (!within_parent_paths(parent_paths, p))
        return user_error("usage", "path \"" + p + "\" is outside the paths of " + nd.parent);
  }
  std::vector<std::string> ids;
  for (const auto& k : nd.keys) {
    if (k.dialect() != dialect_)
      return user_error("bad_key",
                        "delegation key " + short_id(k.key_id()) + " is of the other dialect");
    ids.push_back(k.key_id());
  }
  if (auto s = check_threshold(nd.name, nd.threshold, distinct(ids)); !s) return s;

  auto parent = targets_role(nd.parent);
  if (!parent) return std::unexpected(parent.error());
  auto& pt = (*parent)->md.signed_;
  if (!pt.delegations) {
    pt.delegations.emplace();
    pt.delegations->dialect = dialect_;
  }
  if (pt.delegations->succinct_roles)
    return user_error("usage", nd.parent +
                                   " uses succinct hash-bin delegations; cannot add a "
                                   "named role");
  for (const auto& k : nd.keys) pt.delegations->keys[k.key_id()] = k.json();
  DelegatedRole dr;
  dr.name = *RoleName::make(nd.name, Fault::user);
  dr.keys.keyids = ids;
  dr.keys.threshold = nd.threshold;
  dr.terminating = dialect_ == keys::Dialect::tuf && nd.terminating;
  dr.paths = nd.paths;
  pt.delegations->roles.push_back(std::move(dr));
  (*parent)->dirty = true;

  // TUF clients fetch every delegated role they traverse, so start its metadata when we can
  // sign it. (Notary, like its client, creates it with the first target.)
  if (dialect_ == keys::Dialect::tuf && !targets_.contains(nd.name)) {
    const auto& entry = pt.delegations->roles.back();
    if (holds_any(pt.delegations->keys, entry.keys)) {
      auto r = targets_role(nd.name);
      if (!r) return std::unexpected(r.error());
    }
  }
  return {};
}

namespace {
// Drops delegation keys no role of `d` uses any more (Notary utils.RemoveUnusedKeys).
void remove_unused_keys(Delegations& d) {
  std::set<std::string> used;
  for (const auto& r : d.roles) used.insert(r.keys.keyids.begin(), r.keys.keyids.end());
  if (d.succinct_roles)
    used.insert(d.succinct_roles->keys.keyids.begin(), d.succinct_roles->keys.keyids.end());
  std::erase_if(d.keys, [&](const auto& kv) { return !used.contains(kv.first); });
}

// Key IDs in `keys` matching `id` either as listed or as a Notary canonical (SPKI) ID.
std::set<std::string> resolve_ids(const std::map<std::string, Json>& keys,
                                  const std::vector<std::string>& ids) {
  std::set<std::string> want(ids.begin(), ids.end()), out;
  for (const auto& [id, k] : keys) {
    if (want.contains(id)) {
      out.insert(id);
      continue;
    }
    auto pub = keys::PublicKey::from_json(k, Fault::local);
    if (pub && want.contains(pub->canonical_key_id())) out.insert(id);
  }
  return out;
}
}  // namespace

Status Editor::update_delegation(std::string_view name,
                                 const std::vector<keys::PublicKey>& add_keys,
                                 const std::vector<std::string>& remove_key_ids, int threshold,
                                 const std::vector<std::string>& add_paths,
                                 const std::vector<std::string>& remove_paths, bool clear_paths) {
  auto found = find_delegation(name);
  if (!found) return std::unexpected(found.error());
  auto [parent, idx] = *found;
  Delegations& dels = *parent->md.signed_.delegations;
  DelegatedRole role = dels.roles[idx];  // edit a copy; commit only if valid

  std::vector<std::string> parent_paths{""};
  if (auto pp = delegation_parent(name); pp && *pp != "targets") {
    auto pf = find_delegation(*pp);
    if (pf)
      parent_paths = pf->first->md.signed_.delegations->roles[pf->second].paths.value_or(
          std::vector<std::string>{});
  }
  std::vector<std::string> paths = role.paths.value_or(std::vector<std::string>{});
  std::erase_if(paths, [&](const std::string& p) {
    return std::find(remove_paths.begin(), remove_paths.end(), p) != remove_paths.end();
  });
  if (clear_paths) paths.clear();
  for (const auto& p : add_paths) {
    if (dialect_ == keys::Dialect::notary && !within_parent_paths(parent_paths, p))
      return user_error(
          "usage", "path \"" + p + "\" is outside the paths of the parent of " + std::string(name));
    if (std::find(paths.begin(), paths.end(), p) == paths.end()) paths.push_back(p);
  }
  role.paths = paths;

  auto removing = resolve_ids(dels.keys, remove_key_ids);
  std::erase_if(role.keys.keyids, [&](const std::string& id) { return removing.contains(id); });
  std::map<std::string, Json> new_keys;
  for (const auto& k : add_keys) {
    if (k.dialect() != dialect_)
      return user_error("bad_key",
                        "delegation key " + short_id(k.key_id()) + " is of the other dialect");
    new_keys[k.key_id()] = k.json();
    if (std::find(role.keys.keyids.begin(), role.keys.keyids.end(), k.key_id()) ==
        role.keys.keyids.end())
      role.keys.keyids.push_back(k.key_id());
  }
  if (threshold > 0) role.keys.threshold = threshold;
  if (auto s = check_threshold(name, role.keys.threshold, distinct(role.keys.keyids)); !s) return s;

  bool keys_changed = role.keys.keyids != dels.roles[idx].keys.keyids ||
                      role.keys.threshold != dels.roles[idx].keys.threshold;
  std::map<std::string, Json> all_keys = dels.keys;
  for (auto& [id, k] : new_keys) all_keys[id] = k;
  // When we hold one of its keys, the delegated metadata is re-signed so that the new key set
  // signs it from now on. When we hold none (an admin removing a signer from
  // targets/releases), only the parent changes, as Notary does: the existing signatures keep
  // counting for the keys that remain. Unless they no longer meet the threshold: then every
  // client would refuse the repository (TUF 5.6.3 aborts on an unverifiable role) and no
  // command could repair it, so the change is refused until a remaining key holder re-signs.
  bool resign = keys_changed && holds_any(all_keys, role.keys);
  if (keys_changed && !resign)
    if (auto it = targets_.find(std::string(name)); it != targets_.end())
      if (auto v =
              verify_delegate(name, *delegation_parent(name), it->second.md, all_keys, role.keys);
          !v)
        return user_error("unverifiable_delegation",
                          "this change would leave " + std::string(name) + " v" +
                              std::to_string(it->second.md.signed_.version) +
                              " without a threshold of valid signatures (" + v.error().message +
                              "), and none of its keys is held here to re-sign it; a remaining "
                              "key holder must sign it first (any signing into it re-signs it)");
  dels.keys = std::move(all_keys);
  dels.roles[idx] = std::move(role);
  remove_unused_keys(dels);
  parent->dirty = true;
  if (resign) mark_dirty(name);
  return {};
}

Status Editor::remove_delegation(std::string_view name) {
  auto found = find_delegation(name);
  if (!found) return std::unexpected(found.error());
  auto [parent, idx] = *found;
  Delegations& dels = *parent->md.signed_.delegations;
  dels.roles.erase(dels.roles.begin() + static_cast<std::ptrdiff_t>(idx));
  remove_unused_keys(dels);
  parent->dirty = true;
  // Its metadata and every role only it delegated (now unreachable) go too.
  std::set<std::string> reachable;
  {
    std::deque<std::string> queue{"targets"};
    while (!queue.empty()) {
      std::string r = queue.front();
      queue.pop_front();
      if (!reachable.insert(r).second) continue;
      auto it = targets_.find(r);
      if (it == targets_.end() || !it->second.md.signed_.delegations) continue;
      for (const auto& d : it->second.md.signed_.delegations->roles) queue.push_back(d.name.str());
    }
  }
  std::set<std::string> gone;
  for (const auto& [n, r] : targets_)
    if (!reachable.contains(n)) gone.insert(n);
  gone.insert(std::string(name));
  std::erase_if(targets_, [&](const auto& kv) { return gone.contains(kv.first); });
  if (snapshot_) {
    auto& meta = snapshot_->md.signed_.meta;
    std::erase_if(meta, [&](const auto& kv) {
      std::string role_of = kv.first;
      if (dialect_ == keys::Dialect::tuf && role_of.ends_with(".json"))
        role_of.resize(role_of.size() - 5);
      return gone.contains(role_of);
    });
    snapshot_->dirty = true;
  }
  return {};
}

Status Editor::purge_delegation_keys(std::string_view parent_pattern,
                                     const std::vector<std::string>& key_ids) {
  std::string base(parent_pattern);
  if (base.ends_with("/*")) base.resize(base.size() - 2);
  for (auto& [name, r] : targets_) {
    if (name != base && !name.starts_with(base + "/")) continue;
    if (!r.md.signed_.delegations) continue;
    auto& dels = *r.md.signed_.delegations;
    auto removing = resolve_ids(dels.keys, key_ids);
    if (removing.empty()) continue;
    // Same rule as update_delegation: a delegated role we cannot re-sign must still verify.
    for (const auto& role : dels.roles) {
      RoleKeys after = role.keys;
      std::erase_if(after.keyids, [&](const std::string& id) { return removing.contains(id); });
      if (after.keyids == role.keys.keyids || holds_any(dels.keys, after)) continue;
      if (auto it = targets_.find(role.name.str()); it != targets_.end())
        if (auto v = verify_delegate(role.name.str(), name, it->second.md, dels.keys, after); !v)
          return user_error("unverifiable_delegation",
                            "removing the keys would leave " + role.name.str() +
                                " without a threshold "
                                "of valid signatures (" +
                                v.error().message +
                                "), and none of its "
                                "keys is held here to re-sign it; a remaining key holder must sign "
                                "it first");
    }
    for (auto& role : dels.roles)
      std::erase_if(role.keys.keyids, [&](const std::string& id) { return removing.contains(id); });
    remove_unused_keys(dels);
    r.dirty = true;
  }
  return {};
}

Status Editor::set_threshold(std::string_view role, int threshold) {
  if (is_base_role(role)) {
    auto& rk = root_.md.signed_.roles.at(std::string(role));
    if (auto s = check_threshold(role, threshold, distinct(rk.keyids)); !s) return s;
    rk.threshold = threshold;
    root_.dirty = true;
    return {};
  }
  return update_delegation(role, {}, {}, threshold, {}, {}, false);
}

Status Editor::rotate_keys(std::string_view role, const std::vector<keys::PublicKey>& new_keys,
                           int threshold) {
  if (new_keys.empty())
    return user_error("usage", "rotating " + std::string(role) + " needs at least one new key");
  if (!is_base_role(role)) {
    auto found = find_delegation(role);
    if (!found) return std::unexpected(found.error());
    std::vector<std::string> old =
        found->first->md.signed_.delegations->roles[found->second].keys.keyids;
    int t = threshold > 0
                ? threshold
                : static_cast<int>(std::min<std::size_t>(
                      found->first->md.signed_.delegations->roles[found->second].keys.threshold,
                      new_keys.size()));
    // Remove old ids that are not re-added.
    std::vector<std::string> remove;
    for (const auto& id : old) {
      bool kept = std::any_of(new_keys.begin(), new_keys.end(),
                              [&](const keys::PublicKey& k) { return k.key_id() == id; });
      if (!kept) remove.push_back(id);
    }
    return update_delegation(role, new_keys, remove, t, {}, {}, false);
  }
  Root& root = root_.md.signed_;
  RoleKeys& rk = root.roles.at(std::string(role));
  std::vector<std::string> ids;
  for (const auto& k : new_keys) {
    if (k.dialect() != dialect_)
      return user_error("bad_key", "key " + short_id(k.key_id()) + " is of the other dialect");
    if (role == "root")
      if (auto s = check_root_key(k); !s) return s;
    ids.push_back(k.key_id());
  }
  std::int64_t t = threshold > 0 ? threshold
                                 : std::min<std::int64_t>(rk.threshold,
                                                          static_cast<std::int64_t>(distinct(ids)));
  if (auto s = check_threshold(role, t, distinct(ids)); !s) return s;
  std::vector<std::string> old = rk.keyids;
  rk.keyids = ids;
  rk.threshold = t;
  for (const auto& k : new_keys) root.keys[k.key_id()] = k.json();
  // Keys no role uses any more leave root.keys, except old root certificates in the Notary
  // dialect (Notary keeps them; its client needs them to map certificate IDs).
  std::set<std::string> used;
  for (const auto& [n, r] : root.roles) used.insert(r.keyids.begin(), r.keyids.end());
  for (const auto& id : old) {
    if (used.contains(id)) continue;
    if (role == "root" && dialect_ == keys::Dialect::notary) continue;
    root.keys.erase(id);
  }
  root_.dirty = true;
  if (role == "targets") mark_dirty("targets");
  if (role == "snapshot") {
    if (server_manages_snapshot()) {
      // Handed to the server: it signs snapshots from now on, and so the timestamp too.
    } else if (!snapshot_) {
      snapshot_.emplace();
      snapshot_->md.signed_.dialect = dialect_;
      snapshot_->md.signed_.type = RoleType::snapshot;
      snapshot_->md.signed_.version = 0;
      snapshot_->dirty = true;
    } else {
      snapshot_->dirty = true;
    }
  }
  if (role == "timestamp" && timestamp_) timestamp_->dirty = true;
  return {};
}

Status Editor::set_expiry(std::string_view role, TimePoint expires) {
  if (role == "root") {
    root_.expiry_override = expires;
  } else if (role == "snapshot") {
    if (!snapshot_) return user_error("usage", "snapshot is server-managed here");
    snapshot_->expiry_override = expires;
  } else if (role == "timestamp") {
    if (!timestamp_) return user_error("usage", "timestamp is server-managed here");
    timestamp_->expiry_override = expires;
  } else {
    auto r = targets_role(role);
    if (!r) return std::unexpected(r.error());
    (*r)->expiry_override = expires;
  }
  mark_dirty(role);
  return {};
}

Status Editor::touch(std::string_view role) {
  if (role == "root" || role == "snapshot" || role == "timestamp") {
    if (role == "snapshot" && !snapshot_) return user_error("usage", "snapshot is server-managed");
    if (role == "timestamp" && !timestamp_)
      return user_error("usage", "timestamp is server-managed");
    mark_dirty(role);
    return {};
  }
  auto r = targets_role(role);
  if (!r) return std::unexpected(r.error());
  (*r)->dirty = true;
  return {};
}

// ---- changelists ---------------------------------------------------------------------

Status Editor::apply(const Change& c) {
  auto what =
      "change " + (c.file_name.empty() ? c.action + " " + c.type + " " + c.role : c.file_name);
  auto keys_of = [&](const std::vector<Json>& js) -> Result<std::vector<keys::PublicKey>> {
    std::vector<keys::PublicKey> out;
    for (const auto& j : js) {
      auto k = keys::PublicKey::from_json(j, Fault::local);
      if (!k) return std::unexpected(k.error());
      out.push_back(*k);
    }
    return out;
  };
  auto fail = [&](Error e) { return std::unexpected(with_context(std::move(e), what)); };
  auto unsupported = [&]() {
    return std::unexpected(Error{Fault::local, "malformed_change",
                                 what + ": unsupported " + c.action + " of type \"" + c.type +
                                     "\" on role \"" + c.role + "\""});
  };

  if (c.role == change::kScopeRoot) {
    if (c.type != change::kTypeBaseRole || c.action != change::kActionCreate) return unsupported();
    auto r = RootRoleChange::parse(c.data, what);
    if (!r) return std::unexpected(r.error());
    auto ks = keys_of(r->keys);
    if (!ks) return fail(ks.error());
    if (auto s = rotate_keys(r->role, *ks); !s) return fail(s.error());
    return {};
  }
  bool targets_scope = c.role == change::kScopeTargets || c.role.starts_with("targets/") ||
                       (dialect_ == keys::Dialect::tuf && !is_base_role(c.role));
  if (!targets_scope) return unsupported();

  if (c.type == change::kTypeTarget) {
    if (c.action == change::kActionCreate) {
      auto t = TargetChange::parse(c.data, what);
      if (!t) return std::unexpected(t.error());
      auto s =
          add_target(c.role, c.path, make_target_file(dialect_, t->length, t->hashes, t->custom));
      return s ? s : fail(s.error());
    }
    if (c.action == change::kActionDelete) {
      auto s = remove_target(c.role, c.path);
      return s ? s : fail(s.error());
    }
    return unsupported();
  }
  if (c.type == change::kTypeDelegation) {
    if (c.action == change::kActionDelete) {
      auto s = remove_delegation(c.role);
      return s ? s : fail(s.error());
    }
    auto d = DelegationChange::parse(c.data, what);
    if (!d) return std::unexpected(d.error());
    auto ks = keys_of(d->add_keys);
    if (!ks) return fail(ks.error());
    if (c.role.ends_with("/*")) {
      if (c.action != change::kActionUpdate) return unsupported();
      auto s = purge_delegation_keys(c.role, d->remove_keys);
      return s ? s : fail(s.error());
    }
    Status s;
    if (c.action == change::kActionCreate && !delegation_parent(c.role)) {
      NewDelegation nd;
      nd.name = c.role;
      auto slash = c.role.rfind('/');
      nd.parent = slash == std::string::npos ? "targets" : c.role.substr(0, slash);
      nd.keys = *ks;
      nd.threshold = d->threshold > 0 ? d->threshold : 1;
      nd.paths = d->add_paths;
      s = add_delegation(nd);
    } else if (c.action == change::kActionCreate || c.action == change::kActionUpdate) {
      // Notary's applier never changes an existing delegation's threshold from a changelist
      // (its CLI always writes threshold 1 there), so neither do we.
      s = update_delegation(c.role, *ks, d->remove_keys, 0, d->add_paths, d->remove_paths,
                            d->clear_paths);
    } else {
      return unsupported();
    }
    return s ? s : fail(s.error());
  }
  if (c.type == change::kTypeWitness) {
    auto s = touch(c.role);
    return s ? s : fail(s.error());
  }
  return unsupported();
}

Status Editor::apply(const std::vector<Change>& changes) {
  Editor work = *this;
  for (const auto& c : changes)
    if (auto s = work.apply(c); !s) return s;
  *this = std::move(work);
  return {};
}

// ---- signing -----------------------------------------------------------------------

namespace {

// Go's encoding/json HTML-safe escaping (<, >, &, U+2028, U+2029) plus control characters,
// applied to text that is already JSON: only string contents can hold these bytes.
std::string go_escape(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  static const char* hex = "0123456789abcdef";
  for (std::size_t i = 0; i < json.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(json[i]);
    if (c == '<' || c == '>' || c == '&' || c < 0x20) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else if (c == 0xE2 && i + 2 < json.size() &&
               static_cast<unsigned char>(json[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(json[i + 2]) == 0xA8 ||
                static_cast<unsigned char>(json[i + 2]) == 0xA9)) {
      out += static_cast<unsigned char>(json[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// The file as written.
//
// Notary dialect: byte for byte what Notary's Go code writes, {"signed":<canonical>,
// "signatures":[{"keyid","method","sig"}]} in struct order with HTML-safe escaping. The
// Notary server re-marshals what it parsed (tuf/builder GenerateTimestamp/Snapshot) and
// hashes those bytes, so any other layout makes its timestamp point at a snapshot it
// cannot find by checksum.
//
// TUF dialect: plain JSON with sorted keys (nlohmann's dump escapes control characters,
// which canonical JSON writes raw, so PEM keys stay valid JSON for every reader).
//
// Either way the signatures cover the canonical form of `signed`, which parsing these
// bytes reproduces exactly.
template <class T>
Result<std::string> file_bytes(const Metadata<T>& m, std::string_view canonical_signed) {
  try {
    if (m.signed_.dialect == keys::Dialect::notary) {
      std::string out = "{\"signed\":";
      out += canonical_signed;
      out += ",\"signatures\":[";
      for (std::size_t i = 0; i < m.signatures.size(); ++i) {
        const Signature& s = m.signatures[i];
        if (i) out += ",";
        out += "{\"keyid\":" + Json(s.keyid).dump() + ",\"method\":" + Json(s.method).dump() +
               ",\"sig\":" + Json(s.sig).dump() + "}";
      }
      out += "]}";
      return go_escape(out);
    }
    Json j = m.unknown.is_object() ? m.unknown : Json::object();
    j["signed"] = to_json(m.signed_);
    Json sigs = Json::array();
    for (const auto& s : m.signatures) sigs.push_back(to_json(s));
    j["signatures"] = std::move(sigs);
    return j.dump();
  } catch (const std::exception& e) {
    return std::unexpected(
        Error{Fault::bug, "malformed_metadata", std::string("cannot write metadata: ") + e.what()});
  }
}
}  // namespace

Result<std::string> Editor::sign_bytes(const keys::PrivateKey& k,
                                       std::string_view canonical) const {
  return k.sign(canonical, dialect_);
}

template <class T>
Status Editor::sign_role(Role<T>& r, const std::vector<Signer>& signers, TimePoint now,
                         std::string_view name, bool allow_partial, bool* complete) {
  if (r.dirty) {
    r.md.signed_.version += 1;
    r.md.signed_.expires =
        r.expiry_override ? *r.expiry_override
                          : now + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      expiries_.for_role(is_base_role(name) ? name : "targets"));
    r.expiry_override.reset();
    r.md.signatures.clear();
  }
  // Unchanged content keeps the exact bytes its signatures cover.
  Result<std::string> canonical = (!r.dirty && !r.md.canonical_signed.empty())
                                      ? Result<std::string>(r.md.canonical_signed)
                                      : canonical_signed(r.md.signed_);
  if (!canonical) return std::unexpected(canonical.error());
  r.md.canonical_signed = *canonical;
  std::set<std::string> have;
  for (const auto& s : r.md.signatures) have.insert(s.keyid);
  std::size_t held = 0;
  for (const auto& sg : signers) {
    for (const auto& [id, key] : held_keys(*sg.keys, *sg.role)) {
      ++held;
      if (have.contains(id)) continue;
      auto raw = sign_bytes(key, *canonical);
      if (!raw) return std::unexpected(with_context(raw.error(), "signing " + std::string(name)));
      Signature sig;
      sig.keyid = id;
      if (dialect_ == keys::Dialect::notary) {
        sig.method = key.method(keys::Dialect::notary);
        sig.sig = base64_encode(*raw);
      } else {
        sig.sig = hex_encode(*raw);
      }
      r.md.signatures.push_back(std::move(sig));
      have.insert(id);
    }
  }
  *complete = true;
  for (const auto& sg : signers) {
    auto count = count_signatures(*canonical, r.md.signatures, dialect_, *sg.keys, *sg.role);
    if (count.valid < static_cast<std::size_t>(sg.role->threshold)) {
      *complete = false;
      if (!allow_partial) {
        std::vector<std::string> ids(sg.role->keyids.begin(), sg.role->keyids.end());
        return user_error("missing_keys",
                          std::string(name) + " v" + std::to_string(r.md.signed_.version) + ": " +
                              std::to_string(count.valid) + " of the " +
                              std::to_string(sg.role->threshold) + " signatures " + sg.what +
                              " requires could be made; the signing keys held cover " +
                              std::to_string(held) + " of its keys (" + list_ids(ids) + ")");
      }
    }
  }
  auto bytes = file_bytes(r.md, *canonical);
  if (!bytes) return std::unexpected(bytes.error());
  r.bytes = std::move(*bytes);
  r.dirty = false;
  return {};
}

std::vector<Editor::Signer> Editor::signers_for(std::string_view role) const {
  std::vector<Signer> out;
  const Root& root = root_.md.signed_;
  if (role == "root") {
    out.push_back({&root.keys, &root.roles.at("root"), "the new root"});
    const RoleKeys& old = signed_root_.roles.at("root");
    const RoleKeys& now = root.roles.at("root");
    if (old.keyids != now.keyids || old.threshold != now.threshold)
      out.push_back({&signed_root_.keys, &old, "the previous root"});
    return out;
  }
  if (is_base_role(role)) {
    out.push_back({&root.keys, &root.roles.at(std::string(role)), "root"});
    return out;
  }
  for (const auto& [parent, r] : targets_) {
    if (!r.md.signed_.delegations) continue;
    for (const auto& d : r.md.signed_.delegations->roles)
      if (d.name.str() == role) {
        out.push_back({&r.md.signed_.delegations->keys, &d.keys, parent});
        return out;
      }
  }
  return out;
}

Result<std::vector<SignedRole>> Editor::sign(const SignOptions& o) {
  Editor w = *this;  // all or nothing
  std::vector<SignedRole> out;
  bool changed = false;
  auto push = [&](std::string_view name, std::int64_t version, const std::string& bytes,
                  bool complete) {
    out.push_back(SignedRole{std::string(name), version, bytes, complete});
    changed = true;
  };
  if (w.root_.dirty) {
    bool complete = false;
    auto signers = w.signers_for("root");
    if (auto s = w.sign_role(w.root_, signers, o.now, "root", o.allow_partial, &complete); !s)
      return std::unexpected(s.error());
    push("root", w.root_.md.signed_.version, w.root_.bytes, complete);
    if (complete) w.signed_root_ = w.root_.md.signed_;
  }
  for (const auto& name : w.targets_roles()) {
    auto& r = w.targets_.at(name);
    if (!r.dirty) continue;
    auto signers = w.signers_for(name);
    if (signers.empty())
      return user_error("not_found", name + " is not delegated by any role; remove it");
    bool complete = false;
    if (auto s = w.sign_role(r, signers, o.now, name, o.allow_partial, &complete); !s)
      return std::unexpected(s.error());
    push(name, r.md.signed_.version, r.bytes, complete);
  }
  bool snapshot_signed = false;
  if (w.snapshot_ && !w.server_manages_snapshot() && (changed || w.snapshot_->dirty)) {
    auto& meta = w.snapshot_->md.signed_.meta;
    meta.clear();
    auto entry = [&](const std::string& role, std::int64_t version, const std::string& bytes) {
      MetaFile m;
      if (w.dialect_ == keys::Dialect::notary) {
        m.length = static_cast<std::int64_t>(bytes.size());
        m.hashes["sha256"] = encode_hash(w.dialect_, sha256(bytes));
        m.hashes["sha512"] = encode_hash(w.dialect_, sha512(bytes));
      } else {
        m.version = version;
      }
      meta[meta_key(*RoleName::make(role, Fault::bug), w.dialect_)] = m;
    };
    if (w.dialect_ == keys::Dialect::notary && !w.root_.bytes.empty())
      entry("root", w.root_.md.signed_.version, w.root_.bytes);
    for (const auto& [name, r] : w.targets_)
      if (!r.bytes.empty()) entry(name, r.md.signed_.version, r.bytes);
    w.snapshot_->dirty = true;
    bool complete = false;
    auto signers = w.signers_for("snapshot");
    if (auto s = w.sign_role(*w.snapshot_, signers, o.now, "snapshot", o.allow_partial, &complete);
        !s)
      return std::unexpected(s.error());
    push("snapshot", w.snapshot_->md.signed_.version, w.snapshot_->bytes, complete);
    snapshot_signed = true;
  }
  if (w.timestamp_ && !w.server_manages_timestamp() && w.snapshot_ && !w.snapshot_->bytes.empty() &&
      (snapshot_signed || w.timestamp_->dirty)) {
    MetaFile m;
    const std::string& sb = w.snapshot_->bytes;
    m.length = static_cast<std::int64_t>(sb.size());
    m.hashes["sha256"] = encode_hash(w.dialect_, sha256(sb));
    if (w.dialect_ == keys::Dialect::notary) {
      m.hashes["sha512"] = encode_hash(w.dialect_, sha512(sb));
    } else {
      m.version = w.snapshot_->md.signed_.version;
    }
    w.timestamp_->md.signed_.meta.clear();
    w.timestamp_->md.signed_.meta[meta_key(RoleName::snapshot(), w.dialect_)] = m;
    w.timestamp_->dirty = true;
    bool complete = false;
    auto signers = w.signers_for("timestamp");
    if (auto s =
            w.sign_role(*w.timestamp_, signers, o.now, "timestamp", o.allow_partial, &complete);
        !s)
      return std::unexpected(s.error());
    push("timestamp", w.timestamp_->md.signed_.version, w.timestamp_->bytes, complete);
  }
  *this = std::move(w);
  return out;
}

Result<SignedRole> Editor::add_signatures(std::string_view role) {
  Editor w = *this;
  if (w.dirty(role))
    return user_error("usage", std::string(role) + " has unsigned edits; use sign()");
  auto signers = w.signers_for(role);
  if (signers.empty()) return user_error("not_found", "no role \"" + std::string(role) + "\"");
  bool complete = false;
  SignedRole out;
  out.role = std::string(role);
  auto run = [&](auto& r) -> Status {
    // Keep the content and its signatures exactly: the canonical form of what was loaded.
    if (auto s = w.sign_role(r, signers, now(), role, true, &complete); !s) return s;
    out.version = r.md.signed_.version;
    out.bytes = r.bytes;
    return {};
  };
  Status s;
  if (role == "root") {
    s = run(w.root_);
  } else if (role == "snapshot") {
    if (!w.snapshot_) return user_error("not_found", "no snapshot loaded");
    s = run(*w.snapshot_);
  } else if (role == "timestamp") {
    if (!w.timestamp_) return user_error("not_found", "no timestamp loaded");
    s = run(*w.timestamp_);
  } else {
    auto it = w.targets_.find(std::string(role));
    if (it == w.targets_.end())
      return user_error("not_found", "no metadata for " + std::string(role));
    s = run(it->second);
  }
  if (!s) return std::unexpected(s.error());
  out.complete = complete;
  if (role == "root" && complete) w.signed_root_ = w.root_.md.signed_;
  *this = std::move(w);
  return out;
}

std::vector<SignedRole> Editor::for_notary_upload(const std::vector<SignedRole>& signed_roles) {
  std::vector<SignedRole> out;
  for (const auto& r : signed_roles)
    if (r.role != "timestamp") out.push_back(r);
  return out;
}

}  // namespace docket::tuf
