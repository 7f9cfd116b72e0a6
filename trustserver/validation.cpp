#include "trustserver/validation.h"

#include <algorithm>
#include <functional>
#include <set>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/json.h"
#include "keys/key.h"
#include "trustserver/routes.h"
#include "tuf/metadata.h"
#include "tuf/verify.h"

namespace docket::trustserver {
namespace {

using tuf::Dialect;
using Fail = std::unexpected<HttpError>;

Fail bad(UpdateErrorKind k, std::string msg, std::string missing = "") {
  return Fail(invalid_update(k, std::move(msg), std::move(missing)));
}

UpdateErrorKind kind_for(const std::string& role) {
  if (role == "root") return UpdateErrorKind::bad_root;
  if (role == "snapshot") return UpdateErrorKind::bad_snapshot;
  if (role == "timestamp") return UpdateErrorKind::validation;
  return UpdateErrorKind::bad_targets;
}

tuf::ParseOptions notary_parse() {
  tuf::ParseOptions o;
  o.fault = Fault::user;
  o.dialect = Dialect::notary;
  return o;
}

std::string vlabel(const std::string& role, std::int64_t v) {
  return role + " v" + std::to_string(v);
}

// {"length":N,"hashes":{"sha256":b64,"sha512":b64}} of a file, as Notary writes meta.
Json file_meta(std::string_view data) {
  Json m = Json::object();
  m["length"] = static_cast<std::int64_t>(data.size());
  m["hashes"] = {{"sha256", base64_encode(sha256(data))}, {"sha512", base64_encode(sha512(data))}};
  return m;
}

// Signs `signed_obj` with every held key named by `role_keys` (at least one) and returns the
// whole file: {"signed":..,"signatures":[..]} with `signed` first, as Notary writes it.
std::expected<std::string, HttpError> sign_file(const Json& signed_obj,
                                                const std::vector<std::string>& key_ids,
                                                ServerKeys& keys) {
  auto canon = canonical_json(signed_obj, Fault::bug);
  if (!canon) return Fail(from_error(canon.error()));
  Json sigs = Json::array();
  for (const auto& id : key_ids) {
    auto s = keys.sign(id, *canon);
    if (!s) {
      HttpError e = from_error(s.error(), true);
      e.code = NotaryCode::no_cryptoservice;
      e.detail = "{}";
      return Fail(e);
    }
    sigs.push_back(*s);
  }
  std::string sig_text = sigs.dump();
  return "{\"signed\":" + *canon + ",\"signatures\":" + sig_text + "}";
}

// Held key IDs that the root names for `role`.
std::vector<std::string> usable_keys(const tuf::Root& root, const std::string& gun,
                                     const std::string& role, ServerKeys& keys) {
  std::vector<std::string> out;
  auto it = root.roles.find(role);
  if (it == root.roles.end()) return out;
  auto held = keys.held_keys(gun, role);
  for (const auto& id : it->second.keyids)
    if (std::find(held.begin(), held.end(), id) != held.end() &&
        std::find(out.begin(), out.end(), id) == out.end())
      out.push_back(id);
  return out;
}

// Notary's path rule: a target path is allowed when one of `paths` is a prefix of it ("" = all).
bool path_allowed(const std::vector<std::string>& paths, std::string_view target) {
  for (const auto& p : paths)
    if (target.starts_with(p)) return true;
  return false;
}

// Every path of `child` must be inside `parent` (a child path is a prefix that starts with
// some parent prefix).
bool paths_within(const std::vector<std::string>& child, const std::vector<std::string>& parent) {
  for (const auto& c : child)
    if (!path_allowed(parent, c)) return false;
  return true;
}

Status check_root_structure(const tuf::Metadata<tuf::Root>& m, const std::string& gun,
                            TimePoint now) {
  const auto& r = m.signed_;
  const auto what = vlabel("root", r.version);
  for (const char* role : {"root", "targets", "snapshot", "timestamp"}) {
    auto it = r.roles.find(role);
    if (it == r.roles.end())
      return make_error(Fault::user, "root", what + ": no '" + std::string(role) + "' role");
    std::set<std::string> ids(it->second.keyids.begin(), it->second.keyids.end());
    if (it->second.threshold < 1 || static_cast<std::size_t>(it->second.threshold) > ids.size())
      return make_error(Fault::user, "root",
                        what + ": role " + role + " has threshold " +
                            std::to_string(it->second.threshold) + " with " +
                            std::to_string(ids.size()) + " distinct keys");
    for (const auto& id : ids)
      if (!r.keys.count(id))
        return make_error(Fault::user, "root",
                          what + ": role " + role + " names key " + id + " which is not in keys");
  }
  // Root keys: x509, CN == GUN, valid now, not a CA (trustpinning.ValidateRoot).
  for (const auto& id : r.roles.at("root").keyids) {
    auto key = keys::PublicKey::from_json(r.keys.at(id), Fault::user);
    if (!key)
      return make_error(Fault::user, "root",
                        what + ": root key " + id + ": " + key.error().message);
    if (!key->is_x509())
      return make_error(Fault::user, "root",
                        what + ": root key " + id + " is " + key->keytype() +
                            ", but root keys must be x509 certificates");
    auto cn = key->certificate_common_name();
    if (!cn || *cn != gun)
      return make_error(Fault::user, "root",
                        what + ": root certificate " + id + " has CN '" + (cn ? *cn : "?") +
                            "', which is not the GUN '" + gun + "'");
    auto na = key->certificate_not_after();
    auto nb = key->certificate_not_before();
    if (!na || !nb || *na <= now || *nb > now + std::chrono::hours(1))
      return make_error(Fault::user, "root",
                        what + ": root certificate " + id + " is outside its validity period");
    auto ca = key->certificate_is_ca();
    if (!ca || *ca)
      return make_error(Fault::user, "root",
                        what + ": root certificate " + id + " is a CA certificate");
  }
  if (r.is_expired(now)) return make_error(Fault::user, "expired", what + " has expired");
  return {};
}

// The notary client writes Go nil slices/maps as null: after its last delegation is
// removed, targets carries "delegations":{"keys":{},"roles":null}. The model parser wants
// arrays and objects, so the model is parsed from a copy with null replaced by []/{}, while
// signatures are checked over the canonical form of the bytes as received.
// `doc`, when not null, is `bytes` already parsed; it is consumed.
// `canonical`, used only with `doc`, as tuf::parse_targets_json's `signed_canonical`.
Result<tuf::Metadata<tuf::Targets>> parse_notary_targets(std::string_view bytes,
                                                         Json* doc = nullptr,
                                                         std::string_view canonical = {}) {
  const auto po = notary_parse();
  // Over the size limit: the bytes path reports it.
  auto parsed = doc && !doc->is_null() && bytes.size() <= po.max_bytes
                    ? tuf::parse_targets_json(std::move(*doc), po, canonical)
                    : tuf::parse_targets(bytes, po);
  if (parsed) return parsed;
  auto j = parse_json(bytes, "targets", Fault::user);
  if (!j || !j->is_object() || !j->contains("signed") || !(*j)["signed"].is_object()) return parsed;
  auto& signed_obj = (*j)["signed"];
  if (!signed_obj.contains("delegations") || !signed_obj["delegations"].is_object()) return parsed;
  auto original = canonical_json(signed_obj, Fault::user);
  if (!original) return parsed;
  auto& d = signed_obj["delegations"];
  bool changed = false;
  if (d.contains("roles") && d["roles"].is_null()) {
    d["roles"] = Json::array();
    changed = true;
  }
  if (d.contains("keys") && d["keys"].is_null()) {
    d["keys"] = Json::object();
    changed = true;
  }
  if (!changed) return parsed;
  auto again =
      tuf::parse_targets(j->dump(-1, ' ', false, Json::error_handler_t::strict), notary_parse());
  if (!again) return parsed;
  again->canonical_signed = *original;
  return again;
}

}  // namespace

std::expected<std::vector<MetaUpdate>, HttpError> validate_update(ValidationInput& in,
                                                                  ServerKeys& keys) {
  const auto& gun = in.gun;
  // role -> bytes (timestamp dropped), pointing into in.uploads (no copy of a large file).
  std::map<std::string, const std::string*> up;
  std::map<std::string, Json*> docs;  // role -> parsed upload, where the caller had one
  std::map<std::string, std::string_view> canonical;  // role -> canonical signed, if known
  for (auto& u : in.uploads) {
    if (!u.doc.is_null()) {
      docs.emplace(u.role, &u.doc);
      if (u.signed_canonical_size > 0 &&
          u.signed_canonical_offset + u.signed_canonical_size <= u.data.size())
        canonical.emplace(u.role, std::string_view(u.data).substr(u.signed_canonical_offset,
                                                                  u.signed_canonical_size));
    }
    if (u.role == "timestamp") continue;  // always generated by the server
    if (!up.emplace(u.role, &u.data).second)
      return Fail(HttpError{NotaryCode::malformed_upload, "\"" + u.role + " sent twice\"",
                            "role " + u.role + " sent twice"});
  }
  auto stored = [&](const std::string& role) -> const MetaRecord* {
    auto it = in.current.find(role);
    return it == in.current.end() ? nullptr : &it->second;
  };
  std::vector<MetaUpdate> out;

  // 1. Root.
  std::optional<tuf::Metadata<tuf::Root>> old_root, root;
  if (auto* r = stored("root")) {
    auto p = tuf::parse_root(r->data, notary_parse());
    if (!p)
      return Fail(
          HttpError{NotaryCode::unknown, "{}", "stored root unreadable: " + p.error().message});
    old_root = std::move(*p);
  }
  bool root_changed = false;
  if (auto it = up.find("root"); it != up.end()) {
    if (stored("root") && stored("root")->data == *it->second) {
      up.erase(it);  // re-sending the current root changes nothing
    } else {
      auto p = tuf::parse_root(*it->second, notary_parse());
      if (!p) return bad(UpdateErrorKind::bad_root, "root: " + p.error().message);
      const auto v = p->signed_.version;
      if (old_root) {
        const auto cur = old_root->signed_.version;
        if (v <= cur)
          return Fail(
              HttpError{NotaryCode::version, "{}",
                        vlabel("root", v) + " is not newer than stored v" + std::to_string(cur)});
        if (v != cur + 1)
          return bad(UpdateErrorKind::bad_root,
                     "Root modifications must increment the version: " + vlabel("root", v) +
                         " after stored v" + std::to_string(cur));
      } else if (v < 1) {
        return bad(UpdateErrorKind::bad_root, "root version must be at least 1");
      }
      if (auto st = check_root_structure(*p, gun, in.now); !st)
        return bad(UpdateErrorKind::bad_root, st.error().message);
      const auto& self = p->signed_;
      if (auto st = tuf::verify_delegate(vlabel("root", v), "itself", *p, self.keys,
                                         self.role(tuf::RoleType::root));
          !st)
        return bad(UpdateErrorKind::bad_root,
                   "valid signatures did not meet threshold for root: " + st.error().message);
      if (old_root) {
        const auto& o = old_root->signed_;
        if (auto st = tuf::verify_delegate(vlabel("root", v), vlabel("root", o.version), *p, o.keys,
                                           o.role(tuf::RoleType::root));
            !st)
          return bad(UpdateErrorKind::bad_root,
                     "rotation not signed by the previous root's keys: " + st.error().message);
      }
      root = std::move(*p);
      root_changed = true;
      out.push_back({"root", v, *it->second});
    }
  }
  if (!root) root = old_root;
  if (!root)
    return bad(UpdateErrorKind::validation, "no pre-existing root and no root provided in update.");
  const auto& R = root->signed_;
  if (!root_changed && R.is_expired(in.now))
    return bad(UpdateErrorKind::bad_root,
               "stored " + vlabel("root", R.version) + " has expired; publish a new root");

  // 2. The server must hold a timestamp key named in root.
  auto ts_keys = usable_keys(R, gun, "timestamp", keys);
  if (ts_keys.empty())
    return bad(UpdateErrorKind::bad_root,
               "no timestamp keys exist on the server: " + vlabel("root", R.version) +
                   " names none of the timestamp keys this server holds for " + gun);

  // 3. Targets and delegations, shallowest first.
  std::map<std::string, tuf::Metadata<tuf::Targets>> targets;  // validated or loaded
  // The paths each targets role may sign for (nullopt = everything, for "targets").
  std::map<std::string, std::optional<std::vector<std::string>>> allowed;
  std::vector<std::string> roles;
  for (const auto& [role, _] : up)
    if (role == "targets" || is_delegation(role)) roles.push_back(role);
  std::sort(roles.begin(), roles.end(), [](const std::string& a, const std::string& b) {
    auto da = std::count(a.begin(), a.end(), '/'), db = std::count(b.begin(), b.end(), '/');
    return da != db ? da < db : a < b;
  });

  // Loads (without validating: it was validated when stored) a stored targets role.
  auto load_stored = [&](const std::string& role) -> const tuf::Metadata<tuf::Targets>* {
    if (auto it = targets.find(role); it != targets.end()) return &it->second;
    auto* s = stored(role);
    if (!s) return nullptr;
    auto p = parse_notary_targets(s->data);
    if (!p) return nullptr;
    return &targets.emplace(role, std::move(*p)).first->second;
  };
  // Paths a role may sign for, through the chain of delegations.
  std::function<std::optional<std::optional<std::vector<std::string>>>(const std::string&)>
      paths_of =
          [&](const std::string& role) -> std::optional<std::optional<std::vector<std::string>>> {
    if (role == "targets") return std::optional<std::vector<std::string>>();
    if (auto it = allowed.find(role); it != allowed.end()) return it->second;
    auto parent = parent_role(role);
    auto* pm = load_stored(parent);
    if (!pm || !pm->signed_.delegations) return std::nullopt;
    for (const auto& d : pm->signed_.delegations->roles)
      if (d.name.str() == role) {
        auto mine = d.paths.value_or(std::vector<std::string>{});
        auto up_paths = paths_of(parent);
        if (!up_paths) return std::nullopt;
        if (*up_paths && !paths_within(mine, **up_paths)) {
          // Narrow to what the parent may delegate: only paths inside the parent's paths.
          std::vector<std::string> kept;
          for (const auto& p : mine)
            if (path_allowed(**up_paths, p)) kept.push_back(p);
          mine = kept;
        }
        return allowed[role] = std::optional<std::vector<std::string>>(mine);
      }
    return std::nullopt;
  };

  for (const auto& role : roles) {
    const auto& bytes = *up.at(role);
    auto d = docs.find(role);
    auto cs = canonical.find(role);
    auto p = parse_notary_targets(bytes, d == docs.end() ? nullptr : d->second,
                                  cs == canonical.end() ? std::string_view() : cs->second);
    if (!p) return bad(UpdateErrorKind::bad_targets, role + ": " + p.error().message);
    const auto& T = p->signed_;
    const auto what = vlabel(role, T.version);
    if (T.version < 1)
      return bad(UpdateErrorKind::bad_targets, what + ": version must be at least 1");
    if (T.is_expired(in.now)) return bad(UpdateErrorKind::bad_targets, what + " has expired");
    if (role == "targets") {
      if (auto st = tuf::verify_delegate(what, vlabel("root", R.version), *p, R.keys,
                                         R.role(tuf::RoleType::targets));
          !st)
        return bad(UpdateErrorKind::bad_targets,
                   "valid signatures did not meet threshold for targets: " + st.error().message);
    } else {
      const auto parent = parent_role(role);
      auto* pm = load_stored(parent);
      if (!pm)
        return bad(UpdateErrorKind::bad_hierarchy,
                   what + ": parent role " + parent + " does not exist", parent);
      const tuf::DelegatedRole* d = nullptr;
      if (pm->signed_.delegations)
        for (const auto& dr : pm->signed_.delegations->roles)
          if (dr.name.str() == role) d = &dr;
      if (!d)
        return bad(UpdateErrorKind::bad_targets,
                   what + ": " + parent + " does not delegate to " + role);
      if (auto st = tuf::verify_delegate(what, vlabel(parent, pm->signed_.version), *p,
                                         pm->signed_.delegations->keys, d->keys);
          !st)
        return bad(UpdateErrorKind::bad_targets, "valid signatures did not meet threshold for " +
                                                     role + ": " + st.error().message);
      auto paths = paths_of(role);
      if (!paths || !*paths)
        return bad(UpdateErrorKind::bad_targets,
                   what + ": cannot determine the paths delegated to it");
      for (const auto& [name, _] : T.targets)
        if (!path_allowed(**paths, name))
          return bad(UpdateErrorKind::bad_targets,
                     what + ": target '" + name + "' is outside the paths delegated to " + role);
    }
    // A role's delegations may not hand out more than it may sign for (stricter).
    if (T.delegations) {
      auto mine = role == "targets" ? std::optional<std::optional<std::vector<std::string>>>(
                                          std::optional<std::vector<std::string>>())
                                    : paths_of(role);
      for (const auto& dr : T.delegations->roles) {
        if (!is_delegation(dr.name.str()) || parent_role(dr.name.str()) != role)
          return bad(
              UpdateErrorKind::bad_targets,
              what + ": delegated role name '" + dr.name.str() + "' is not a child of " + role);
        std::set<std::string> ids(dr.keys.keyids.begin(), dr.keys.keyids.end());
        if (dr.keys.threshold < 1 || static_cast<std::size_t>(dr.keys.threshold) > ids.size())
          return bad(UpdateErrorKind::bad_targets,
                     what + ": delegation " + dr.name.str() + " has threshold " +
                         std::to_string(dr.keys.threshold) + " with " + std::to_string(ids.size()) +
                         " keys");
        for (const auto& id : ids)
          if (!T.delegations->keys.count(id))
            return bad(UpdateErrorKind::bad_targets,
                       what + ": delegation " + dr.name.str() + " names undefined key " + id);
        if (mine && *mine && !paths_within(dr.paths.value_or(std::vector<std::string>{}), **mine))
          return bad(UpdateErrorKind::bad_targets, what + ": delegation " + dr.name.str() +
                                                       " is given paths outside " + role +
                                                       "'s own");
      }
    }
    targets.erase(role);
    allowed.erase(role);
    targets.emplace(role, std::move(*p));
    out.push_back({role, targets.at(role).signed_.version, bytes});
  }
  // A new root must still vouch for the stored targets (stricter).
  if (root_changed && !up.count("targets")) {
    if (auto* st = load_stored("targets")) {
      if (auto v = tuf::verify_delegate(vlabel("targets", st->signed_.version),
                                        vlabel("root", R.version), *st, R.keys,
                                        R.role(tuf::RoleType::targets));
          !v)
        return bad(UpdateErrorKind::bad_targets,
                   "the new root's targets keys do not sign the stored targets; publish targets "
                   "re-signed with the new key: " +
                       v.error().message);
    }
  }

  // The bytes each role will have after this update.
  auto final_bytes = [&](const std::string& role) -> const std::string* {
    if (auto it = up.find(role); it != up.end()) return it->second;
    if (auto* s = stored(role)) return &s->data;
    return nullptr;
  };
  // Reachable roles: root, targets, and delegations listed by their (final) parents.
  std::vector<std::string> reachable{"root"};
  if (final_bytes("targets")) {
    std::vector<std::string> queue{"targets"};
    while (!queue.empty()) {
      auto role = queue.back();
      queue.pop_back();
      reachable.push_back(role);
      auto* t = load_stored(role);
      if (!t || !t->signed_.delegations) continue;
      for (const auto& d : t->signed_.delegations->roles)
        if (final_bytes(d.name.str()) && reachable.size() + queue.size() < 10'000)
          queue.push_back(d.name.str());
    }
  }

  // 4. Snapshot.
  std::string snapshot_bytes;
  if (auto it = up.find("snapshot"); it != up.end()) {
    auto p = tuf::parse_snapshot(*it->second, notary_parse());
    if (!p) return bad(UpdateErrorKind::bad_snapshot, "snapshot: " + p.error().message);
    const auto& S = p->signed_;
    const auto what = vlabel("snapshot", S.version);
    if (S.version < 1)
      return bad(UpdateErrorKind::bad_snapshot, what + ": version must be at least 1");
    if (S.is_expired(in.now)) return bad(UpdateErrorKind::bad_snapshot, what + " has expired");
    if (auto st = tuf::verify_delegate(what, vlabel("root", R.version), *p, R.keys,
                                       R.role(tuf::RoleType::snapshot));
        !st)
      return bad(UpdateErrorKind::bad_snapshot,
                 "valid signatures did not meet threshold for snapshot: " + st.error().message);
    for (const auto& role : reachable) {
      auto m = S.meta.find(role);
      if (m == S.meta.end())
        return bad(UpdateErrorKind::bad_snapshot, what + ": no meta entry for " + role);
      if (auto st =
              tuf::verify_length_and_hashes(*final_bytes(role), m->second.length, m->second.hashes,
                                            Dialect::notary, true, what + " meta for " + role);
          !st)
        return bad(UpdateErrorKind::bad_snapshot,
                   what + ": meta for " + role + " does not match " + role +
                       " as it will be stored: " + st.error().message);
      // The sha256 just checked is the digest of the bytes stored for the role: hand it to
      // the store, which would otherwise hash a (possibly large) file a second time.
      if (auto h = m->second.hashes.find("sha256"); h != m->second.hashes.end()) {
        auto raw = base64_decode(h->second);
        if (raw && raw->size() == 32 && base64_encode(*raw) == h->second)
          for (auto& u : out)
            if (u.role == role) u.sha256 = hex_encode(*raw);
      }
    }
    snapshot_bytes = *it->second;
    out.push_back({"snapshot", S.version, *it->second});
  } else {
    auto snap_keys = usable_keys(R, gun, "snapshot", keys);
    if (snap_keys.empty())
      return bad(UpdateErrorKind::bad_hierarchy,
                 "no snapshot was included in update and server does not hold current snapshot "
                 "key for repository",
                 "snapshot");
    std::int64_t version = 1;
    if (auto* s = stored("snapshot")) {
      auto h = tuf::parse_header(s->data, notary_parse());
      version = (h ? h->version : s->version) + 1;
    }
    Json meta = Json::object();
    for (const auto& role : reachable) meta[role] = file_meta(*final_bytes(role));
    Json signed_obj = {{"_type", "Snapshot"},
                       {"expires", format_rfc3339_nano(in.now + in.expiry.snapshot)},
                       {"meta", meta},
                       {"version", version}};
    auto file = sign_file(signed_obj, snap_keys, keys);
    if (!file) return Fail(file.error());
    snapshot_bytes = *file;
    out.push_back({"snapshot", version, *file});
  }

  // 5. Timestamp.
  std::optional<std::int64_t> prev_ts;
  if (auto* s = stored("timestamp")) prev_ts = s->version;
  auto ts = generate_timestamp(gun, *final_bytes("root"), snapshot_bytes, prev_ts, in.now,
                               in.expiry, keys);
  if (!ts) return Fail(ts.error());
  out.push_back(std::move(*ts));
  return out;
}

std::expected<MetaUpdate, HttpError> generate_timestamp(
    const std::string& gun, std::string_view root_bytes, std::string_view snapshot_bytes,
    std::optional<std::int64_t> previous, TimePoint now, const ExpiryPolicy& e, ServerKeys& keys) {
  auto root = tuf::parse_root(root_bytes, notary_parse());
  if (!root)
    return Fail(
        HttpError{NotaryCode::unknown, "{}", "stored root unreadable: " + root.error().message});
  auto ids = usable_keys(root->signed_, gun, "timestamp", keys);
  if (ids.empty()) return bad(UpdateErrorKind::bad_root, "no timestamp keys exist on the server");
  const std::int64_t version = previous.value_or(0) + 1;
  Json signed_obj = {{"_type", "Timestamp"},
                     {"expires", format_rfc3339_nano(now + e.timestamp)},
                     {"meta", {{"snapshot", file_meta(snapshot_bytes)}}},
                     {"version", version}};
  auto file = sign_file(signed_obj, ids, keys);
  if (!file) return Fail(file.error());
  return MetaUpdate{"timestamp", version, *file};
}

bool timestamp_is_stale(std::string_view timestamp_bytes, std::string_view snapshot_bytes,
                        TimePoint now, std::chrono::seconds margin) {
  auto t = tuf::parse_timestamp(timestamp_bytes, notary_parse());
  if (!t) return true;
  if (t->signed_.expires <= now + margin) return true;
  const auto& m = t->signed_.snapshot_meta();
  return !tuf::verify_length_and_hashes(snapshot_bytes, m.length, m.hashes, Dialect::notary, true,
                                        "snapshot");
}

}  // namespace docket::trustserver
