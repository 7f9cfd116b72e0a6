#include "trustclient/repository.h"

#include <algorithm>
#include <deque>
#include <set>

#include "common/encoding.h"
#include "common/file.h"
#include "common/json.h"
#include "tuf/fetcher.h"
#include "tuf/repo_publish.h"
#include "tuf/repo_store.h"
#include "tuf/store.h"
#include "tuf/trusted_set.h"
#include "tuf/updater.h"
#include "verifier/notary_store.h"
#include "verifier/root_certs.h"
#include "verifier/trust.h"

namespace docket::trustclient {
namespace fs = std::filesystem;

namespace {

std::string parent_of(std::string_view role) {
  auto slash = role.rfind('/');
  return slash == std::string_view::npos ? std::string("targets")
                                         : std::string(role.substr(0, slash));
}

Result<std::vector<std::string>> canonical_ids(const std::map<std::string, Json>& keys,
                                               const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  for (const auto& id : ids) {
    auto it = keys.find(id);
    if (it == keys.end()) continue;
    auto k = keys::PublicKey::from_json(it->second, Fault::remote);
    if (!k) return std::unexpected(k.error());
    out.push_back(k->canonical_key_id());
  }
  return out;
}

int count_signatures(const std::string& bytes) {
  auto j = parse_json(bytes, "signed metadata", Fault::bug);
  if (!j || !j->contains("signatures") || !(*j)["signatures"].is_array()) return 0;
  return static_cast<int>((*j)["signatures"].size());
}

}  // namespace

const RoleView* RepositoryView::find(std::string_view role) const {
  for (const auto& r : roles)
    if (r.name == role) return &r;
  return nullptr;
}

tuf::TargetChange docker_target(std::uint64_t length, const std::string& sha256_raw) {
  tuf::TargetChange t;
  t.length = static_cast<std::int64_t>(length);
  t.hashes["sha256"] = sha256_raw;
  return t;
}

struct Repository::Impl {
  // Every trust-server request goes through here (authenticating when challenged).
  std::unique_ptr<client::TrustAuthSession> auth;
  tuf::HttpSend send;
  bool refreshed = false;
  bool exists = false;
  tuf::RepoFiles files;  // verified bytes of every role
  std::optional<tuf::Metadata<tuf::Root>> root;
  // Keys decrypted so far, by canonical ID (each is asked for at most once per process).
  tuf::MemoryKeyRing ring;
  std::set<std::string> loaded;
  // Delegated roles already reported as unverifiable (each is warned about once).
  std::set<std::string> warned_unverifiable;
};

Repository::Repository(RepositoryConfig cfg, keys::KeyStore& store, tuf::Changelist cl)
    : cfg_(std::move(cfg)),
      store_(store),
      changelist_(std::move(cl)),
      impl_(std::make_unique<Impl>()) {}
Repository::~Repository() = default;

Result<std::unique_ptr<Repository>> Repository::open(RepositoryConfig cfg, keys::KeyStore& store) {
  if (auto g = tuf::Gun::make(cfg.gun); !g) return std::unexpected(g.error());
  while (!cfg.server_url.empty() && cfg.server_url.back() == '/') cfg.server_url.pop_back();
  if (cfg.server_url.empty())
    return make_error(Fault::user, "config", "no trust server URL for " + cfg.gun);
  auto cl = tuf::Changelist::open(cfg.trust_dir, cfg.gun);
  if (!cl) return std::unexpected(cl.error());
  auto http = net::HttpClient::create(cfg.http);
  if (!http) return std::unexpected(http.error());
  std::unique_ptr<Repository> r(new Repository(std::move(cfg), store, std::move(*cl)));
  r->impl_->auth = std::make_unique<client::TrustAuthSession>(
      std::make_shared<net::HttpClient>(std::move(*http)),
      client::url_host_port(r->cfg_.server_url), r->cfg_.credentials);
  r->impl_->send = [a = r->impl_->auth.get()](const net::HttpRequest& q) { return a->send(q); };
  if (!r->cfg_.clock) r->cfg_.clock = [] { return std::chrono::system_clock::now(); };
  return r;
}

Status Repository::cache_published_root(const std::vector<tuf::SignedRole>& published) const {
  auto rs = tuf::RepoStore::open(cfg_.trust_dir, cfg_.gun);
  if (!rs) return std::unexpected(rs.error());
  verifier::NotaryLayoutStore store(std::move(*rs));
  for (const auto& r : published) {
    // The root we made is trusted as is; delegations we signed are cached too (a later
    // lookup checks them against the server's snapshot before using them, and fetches
    // again when they differ).
    if (r.role != "root" && !r.role.starts_with("targets/")) continue;
    auto name = tuf::RoleName::make(r.role, Fault::bug);
    if (!name) return std::unexpected(name.error());
    if (auto s = store.store(*name, r.bytes); !s) return s;
  }
  return {};
}

fs::path Repository::partial_dir() const {
  return cfg_.trust_dir / "tuf" / cfg_.gun / "partial";
}

Status Repository::reset_cache() {
  std::error_code ec;
  fs::remove_all(cfg_.trust_dir / "tuf" / cfg_.gun / "metadata", ec);
  if (ec) return make_error(Fault::local, "io", "removing cached metadata: " + ec.message());
  return {};
}

Status Repository::probe_server() {
  auto k = tuf::fetch_server_key(impl_->send, cfg_.server_url, cfg_.gun, "timestamp");
  if (!k) {
    // A refusal is about the credentials, not about what the server is.
    if (k.error().code == "unauthorized") return std::unexpected(k.error());
    return std::unexpected(
        with_context(k.error(), cfg_.server_url + " does not act as a trust server"));
  }
  return {};
}

Result<std::string> Repository::stage(const tuf::Change& c) {
  return changelist_.add(c);
}

Status Repository::unstage(const std::vector<std::string>& file_names) {
  return changelist_.remove(file_names);
}

Result<bool> Repository::refresh() {
  Impl& im = *impl_;
  im.refreshed = true;
  im.exists = false;
  im.files = {};
  im.root.reset();
  view_ = {};
  fs::path meta_dir = cfg_.trust_dir / "tuf" / cfg_.gun / "metadata";
  std::error_code ec;
  fs::create_directories(meta_dir, ec);
  if (ec)
    return make_error(Fault::local, "io", "creating " + meta_dir.string() + ": " + ec.message());
  // The verifier's cache layout (Notary's: delegations in sub-directories), so a signing
  // command and a verified pull share what either cached.
  auto rs = tuf::RepoStore::open(cfg_.trust_dir, cfg_.gun);
  if (!rs) return std::unexpected(rs.error());
  verifier::NotaryLayoutStore store(std::move(*rs));
  tuf::SendFetcher fetcher(im.send);
  const std::string url = tuf::notary_tuf_url(cfg_.server_url, cfg_.gun);
  tuf::Limits limits;

  auto local_root = store.load(tuf::RoleName::root(), limits.max_root_bytes);
  if (!local_root) return std::unexpected(local_root.error());
  if (!*local_root) {
    auto bytes = fetcher.fetch(url + "root.json", limits.max_root_bytes);
    if (!bytes) {
      if (bytes.error().code == "not_found") return false;
      return std::unexpected(with_context(bytes.error(), "fetching root.json of " + cfg_.gun));
    }
    // First use, as a verified pull bootstraps it (verifier/trust.h): the root must carry a
    // threshold of its own signatures, pass Notary's root certificate checks and match the
    // GUN's pin in trust_pinning.json; unpinned it is trusted on first use with a warning
    // (refused with disable_tofu). Nothing is signed against a root that fails.
    auto ts = tuf::TrustedSet::create(*bytes, limits, cfg_.clock);
    if (!ts) return std::unexpected(with_context(ts.error(), "root.json of " + cfg_.gun));
    if (auto c = verifier::check_root_certificates(ts->root().md, cfg_.gun, cfg_.clock()); !c)
      return std::unexpected(c.error());
    auto pins = verifier::load_trust_pins(cfg_.trust_dir, cfg_.gun);
    if (!pins) return std::unexpected(pins.error());
    if (auto c = verifier::check_first_use_root(ts->root().md, *pins, cfg_.gun, cfg_.server_url,
                                                cfg_.warn, cfg_.clock());
        !c)
      return std::unexpected(c.error());
    if (auto s = store.store(tuf::RoleName::root(), *bytes); !s) return std::unexpected(s.error());
  }

  tuf::UpdaterOptions uo;
  uo.metadata_url = url;
  uo.target_base_url = url;
  uo.limits = limits;
  uo.clock = cfg_.clock;
  tuf::Updater up(uo, store, fetcher);
  if (auto s = up.refresh(); !s) {
    if (s.error().code == "not_found" && s.error().message.find("timestamp") != std::string::npos)
      return false;  // the server deleted the GUN's data; only the cached root is left
    return std::unexpected(with_context(s.error(), "trust data for " + cfg_.gun));
  }
  tuf::TrustedSet ts = *up.trusted();
  if (ts.dialect() != tuf::Dialect::notary)
    return make_error(Fault::remote, "wrong_dialect",
                      cfg_.gun + " uses TUF-spec metadata; docket signs Notary repositories only");

  im.files.root = ts.root().raw;
  im.files.targets["targets"] = ts.targets()->raw;
  im.files.snapshot = ts.snapshot()->raw;
  im.files.timestamp = ts.timestamp()->raw;
  im.root = ts.root().md;

  const auto& root = *ts.root();
  const auto& rr = root.role(tuf::RoleType::root);
  view_.root_key_ids = rr.keyids;
  view_.root_threshold = static_cast<int>(rr.threshold);
  auto rc = canonical_ids(root.keys, rr.keyids);
  if (!rc) return std::unexpected(rc.error());
  view_.root_canonical_ids = *rc;
  {
    RoleView t;
    t.name = "targets";
    const auto& tr = root.role(tuf::RoleType::targets);
    t.key_ids = tr.keyids;
    t.threshold = static_cast<int>(tr.threshold);
    auto c = canonical_ids(root.keys, tr.keyids);
    if (!c) return std::unexpected(c.error());
    t.canonical_key_ids = *c;
    t.targets = (*ts.targets())->targets;
    view_.roles.push_back(std::move(t));
    view_.versions["targets"] = (*ts.targets())->version;
  }
  view_.versions["root"] = root.version;
  view_.versions["snapshot"] = (*ts.snapshot())->version;
  view_.versions["timestamp"] = (*ts.timestamp())->version;

  // Every delegation the snapshot lists, breadth first, each verified by its delegator.
  std::deque<std::string> queue{"targets"};
  std::size_t walked = 0;
  while (!queue.empty()) {
    std::string parent = queue.front();
    queue.pop_front();
    auto pname = tuf::RoleName::make(parent);
    if (!pname) return std::unexpected(pname.error());
    const auto* pt = ts.targets(*pname);
    if (!pt || !(*pt)->delegations) continue;
    const auto& d = *(*pt)->delegations;
    for (const auto& dr : d.roles) {
      if (++walked > kMaxWalkedDelegations)
        return make_error(Fault::remote, "too_large",
                          cfg_.gun + " has more than " + std::to_string(kMaxWalkedDelegations) +
                              " delegated roles");
      RoleView v;
      v.name = dr.name.str();
      v.key_ids = dr.keys.keyids;
      v.threshold = static_cast<int>(dr.keys.threshold);
      v.paths = dr.paths.value_or(std::vector<std::string>{});
      auto c = canonical_ids(d.keys, dr.keys.keyids);
      if (!c) return std::unexpected(c.error());
      v.canonical_key_ids = *c;
      if ((*ts.snapshot())->find(dr.name)) {
        auto bytes = fetcher.fetch(url + dr.name.str() + ".json", limits.max_targets_bytes);
        if (!bytes)
          return std::unexpected(with_context(bytes.error(), "fetching " + dr.name.str()));
        if (auto s = ts.update_delegated_targets(*bytes, dr.name, *pname); !s) {
          // The bytes are the ones the snapshot names (5.6.2 passed), but a threshold of
          // the delegator's current keys no longer signs them (5.6.3), as when `docker trust
          // signer remove` dropped the only key that signed targets/releases. A verified
          // pull still refuses the repository; a signing command goes on without this role's
          // content (none of it is trusted or cached), so a holder of one of its current
          // keys can replace it (the editor continues from the snapshot's version) or its
          // owner can remove it. Any other failure (rollback, hashes, expiry) stops here.
          if (s.error().code != "bad_signature")
            return std::unexpected(with_context(s.error(), "trust data for " + cfg_.gun));
          v.unverifiable = s.error().message;
          tuf::ParseOptions po;
          po.max_bytes = limits.max_targets_bytes;
          po.dialect = tuf::Dialect::notary;
          auto old = tuf::parse_targets(*bytes, po);  // parsed once already, before 5.6.3
          if (!old) return std::unexpected(with_context(old.error(), dr.name.str()));
          im.files.unloaded_versions[v.name] = old->signed_.version;
          if (cfg_.warn && im.warned_unverifiable.insert(v.name).second)
            cfg_.warn("warning: " + v.name + " of " + cfg_.gun +
                      " does not verify and is ignored (" + s.error().message +
                      "); signing into it replaces it, without its old targets; `docket trust "
                      "signer remove --force` removes it. Verified pulls of " +
                      cfg_.gun + " fail until then.");
          view_.roles.push_back(std::move(v));
          continue;
        }
        // Verified: cached where a verified pull looks for it (metadata/targets/releases.json).
        if (auto st = store.store(dr.name, *bytes); !st) return std::unexpected(st.error());
        const auto* t = ts.targets(dr.name);
        v.targets = (*t)->targets;
        view_.versions[v.name] = (*t)->version;
        im.files.targets[v.name] = *bytes;
        queue.push_back(v.name);
      }
      view_.roles.push_back(std::move(v));
    }
  }
  im.exists = true;
  return true;
}

namespace {
// Which roles a change makes us sign (so only their keys are decrypted).
void roles_touched(const tuf::Change& c, std::set<std::string>& out) {
  if (c.type == tuf::change::kTypeBaseRole) {
    out.insert("root");
    return;
  }
  if (c.type == tuf::change::kTypeDelegation) {
    if (c.role == "targets/*") {
      out.insert("*");
      return;
    }
    out.insert(parent_of(c.role));
    return;
  }
  out.insert(c.role);
}
}  // namespace

// Decrypts the stored keys among `ids` (canonical IDs) that are not loaded yet.
static Status load_keys(keys::KeyStore& store, tuf::MemoryKeyRing& ring,
                        std::set<std::string>& loaded, const std::set<std::string>& ids) {
  auto listed = store.list();
  if (!listed) return std::unexpected(listed.error());
  for (const auto& info : *listed) {
    if (!ids.contains(info.id) || loaded.contains(info.id)) continue;
    auto k = store.get(info.id);
    if (!k)
      return std::unexpected(
          with_context(k.error(), "key " + info.id.substr(0, 7) + " (" + info.role + ")"));
    ring.add(k->key);
    loaded.insert(info.id);
  }
  return {};
}

// load_keys() for `ids` plus the root's snapshot keys: every publish re-signs snapshot when
// its key is held locally (a server-managed snapshot key is simply not in the store).
static Status load_keys_and_snapshot(keys::KeyStore& store, tuf::MemoryKeyRing& ring,
                                     std::set<std::string>& loaded, const tuf::Root& root,
                                     std::set<std::string> ids) {
  auto snap = canonical_ids(root.keys, root.role(tuf::RoleType::snapshot).keyids);
  if (!snap) return std::unexpected(snap.error());
  ids.insert(snap->begin(), snap->end());
  return load_keys(store, ring, loaded, ids);
}

namespace {
// Writes partially signed roles and returns the threshold error.
Error partial_error(const fs::path& dir, const std::string& gun,
                    const std::vector<tuf::SignedRole>& roles,
                    const std::map<std::string, int>& thresholds) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  Json manifest = Json::object();
  manifest["gun"] = gun;
  manifest["roles"] = Json::array();
  std::string detail;
  for (const auto& r : roles) {
    auto name = tuf::RoleName::make(r.role, Fault::bug);
    if (!name) continue;
    if (auto s = atomic_write_file(dir / name->file_name(), r.bytes, 0644); !s) return s.error();
    manifest["roles"].push_back(r.role);
    if (!r.complete) {
      int have = count_signatures(r.bytes);
      auto it = thresholds.find(r.role);
      int need = it == thresholds.end() ? 0 : it->second;
      detail += (detail.empty() ? "" : "; ") + r.role + " v" + std::to_string(r.version) + " has " +
                std::to_string(have) + " of the " + std::to_string(need) + " signatures it needs";
    }
  }
  if (auto s = atomic_write_file(dir / "partial.json", manifest.dump(2) + "\n", 0644); !s)
    return s.error();
  return Error{Fault::user, "threshold_not_met",
               "not published: " + detail + ". The partially signed metadata is in " +
                   dir.string() + "; a holder of another key runs `docket trust cosign " + gun +
                   " " + dir.string() + "` to add signatures and publish"};
}

std::map<std::string, int> thresholds_of(const tuf::Editor& ed) {
  std::map<std::string, int> out;
  for (const auto& [name, rk] : ed.root().signed_.roles) out[name] = static_cast<int>(rk.threshold);
  for (const auto& parent : ed.targets_roles()) {
    const auto* t = ed.targets(parent);
    if (!t || !t->signed_.delegations) continue;
    for (const auto& dr : t->signed_.delegations->roles)
      out[dr.name.str()] = static_cast<int>(dr.keys.threshold);
  }
  return out;
}
}  // namespace

namespace {
// The certificate a new root lists for `key`: the one chosen, if it is really for this key,
// else a self-signed one. (The editor checks CN, CA flag and expiry of either.)
Result<keys::PublicKey> root_certificate_for(const keys::PrivateKey& key, const RootKeyChoice& c,
                                             const std::string& gun) {
  if (!c.certificate) return tuf::make_root_certificate(key, gun);
  if (!c.certificate->is_x509() || c.certificate->public_der() != key.public_key().public_der())
    return make_error(Fault::user, "bad_key",
                      "the root certificate given is not for root key " +
                          key.public_key().canonical_key_id() + " (its public key differs)");
  return *c.certificate;
}
}  // namespace

Result<PublishResult> Repository::publish(const InitOptions& init) {
  Impl& im = *impl_;
  auto exists = refresh();
  if (!exists) return std::unexpected(exists.error());
  auto names = changelist_.list();
  if (!names) return std::unexpected(names.error());
  const std::vector<tuf::Change>& changes = *names;
  PublishResult out;

  std::optional<tuf::Editor> ed;
  if (!*exists) {
    // Initialise: root key reused (first by ID, as docker does) or generated. A pinned GUN
    // is only created with a pinned root key: with a pin, that key is used, and without one
    // in the key store nothing is created.
    auto pins = verifier::load_trust_pins(cfg_.trust_dir, cfg_.gun);
    if (!pins) return std::unexpected(pins.error());
    std::optional<keys::PrivateKey> root_key;
    auto roots = store_.find("root");
    if (!roots) return std::unexpected(roots.error());
    if (init.root.key_id) {
      std::erase_if(*roots, [&](const keys::KeyInfo& k) { return k.id != *init.root.key_id; });
      if (roots->empty())
        return make_error(Fault::user, "not_found",
                          "no root key " + *init.root.key_id + " in " + store_.location());
    }
    if (!pins->key_ids.empty()) {
      std::erase_if(*roots,
                    [&](const keys::KeyInfo& k) { return !verifier::pin_matches(*pins, {k.id}); });
      if (roots->empty())
        return make_error(Fault::user, "pin_mismatch",
                          cfg_.gun + " is pinned to root key " + pins->key_ids.front() + " in " +
                              (cfg_.trust_dir / verifier::kTrustPinningFile).string() +
                              " but that key is not in " + store_.location() +
                              ": not creating the repository with another root");
    }
    if (!roots->empty()) {
      std::sort(roots->begin(), roots->end(),
                [](const keys::KeyInfo& a, const keys::KeyInfo& b) { return a.id < b.id; });
      auto k = store_.get(roots->front().id);
      if (!k) return std::unexpected(with_context(k.error(), "root key " + roots->front().id));
      root_key = k->key;
    } else {
      auto k = keys::PrivateKey::generate(keys::Algorithm::ecdsa_p256);
      if (!k) return std::unexpected(k.error());
      if (auto id = store_.add(*k, "root", ""); !id) return std::unexpected(id.error());
      root_key = *k;
    }
    std::optional<keys::PrivateKey> targets_key;
    auto tks = store_.find("targets", cfg_.gun);
    if (!tks) return std::unexpected(tks.error());
    if (!tks->empty()) {
      auto k = store_.get(tks->front().id);
      if (!k) return std::unexpected(with_context(k.error(), "targets key " + tks->front().id));
      targets_key = k->key;
    } else {
      auto k = keys::PrivateKey::generate(keys::Algorithm::ecdsa_p256);
      if (!k) return std::unexpected(k.error());
      if (auto id = store_.add(*k, "targets", cfg_.gun); !id) return std::unexpected(id.error());
      targets_key = *k;
    }
    im.ring.add(*root_key);
    im.ring.add(*targets_key);
    tuf::CreateOptions co;
    co.gun = cfg_.gun;
    auto cert = root_certificate_for(*root_key, init.root, cfg_.gun);
    if (!cert) return std::unexpected(cert.error());
    co.root.keys = {*cert};
    co.targets.keys = {targets_key->public_key()};
    if (init.server_managed_snapshot) {
      auto sk = tuf::fetch_server_key(im.send, cfg_.server_url, cfg_.gun, "snapshot");
      if (!sk) return std::unexpected(sk.error());
      co.snapshot.keys = {*sk};
    } else {
      auto k = keys::PrivateKey::generate(keys::Algorithm::ecdsa_p256);
      if (!k) return std::unexpected(k.error());
      if (auto id = store_.add(*k, "snapshot", cfg_.gun); !id) return std::unexpected(id.error());
      im.ring.add(*k);
      co.snapshot.keys = {k->public_key()};
    }
    auto tk = tuf::fetch_server_key(im.send, cfg_.server_url, cfg_.gun, "timestamp");
    if (!tk) return std::unexpected(tk.error());
    co.timestamp.keys = {*tk};
    auto e = tuf::Editor::create(co, im.ring);
    if (!e) return std::unexpected(e.error());
    ed.emplace(std::move(*e));
    out.initialized = true;
  } else {
    // Decrypt only the keys of roles these changes make us sign (plus a local snapshot key).
    std::set<std::string> touched;
    for (const auto& c : changes) roles_touched(c, touched);
    std::set<std::string> ids;
    auto add_role = [&](const RoleView& r) {
      ids.insert(r.canonical_key_ids.begin(), r.canonical_key_ids.end());
    };
    for (const auto& r : view_.roles)
      if (touched.contains(r.name) || touched.contains("*")) add_role(r);
    if (touched.contains("root"))
      ids.insert(view_.root_canonical_ids.begin(), view_.root_canonical_ids.end());
    // Keys of delegations created in this publish (their first targets may follow).
    for (const auto& c : changes)
      if (c.type == tuf::change::kTypeDelegation && !c.data_null && touched.contains(c.role)) {
        auto d = tuf::DelegationChange::parse(c.data, c.file_name);
        if (!d) return std::unexpected(d.error());
        for (const auto& kj : d->add_keys)
          if (auto k = keys::PublicKey::from_json(kj, Fault::local))
            ids.insert(k->canonical_key_id());
      }
    if (auto s =
            load_keys_and_snapshot(store_, im.ring, im.loaded, im.root->signed_, std::move(ids));
        !s)
      return std::unexpected(s.error());
    auto e = tuf::Editor::load(im.files, cfg_.gun, im.ring);
    if (!e) return std::unexpected(e.error());
    ed.emplace(std::move(*e));
  }

  if (auto s = ed->apply(changes); !s) return std::unexpected(s.error());
  auto signed_roles = sign_allowing_partial(*ed);
  if (!signed_roles) return std::unexpected(signed_roles.error());
  if (auto s = check_root_meets_ca_pin(*signed_roles); !s) return std::unexpected(s.error());
  std::vector<std::string> applied;
  for (const auto& c : changes) applied.push_back(c.file_name);
  bool complete = std::all_of(signed_roles->begin(), signed_roles->end(),
                              [](const tuf::SignedRole& r) { return r.complete; });
  for (const auto& r : *signed_roles)
    if (!r.complete && count_signatures(r.bytes) == 0)
      return make_error(Fault::user, "no_signing_key",
                        "no key for " + r.role + " of " + cfg_.gun + " in " + store_.location() +
                            ": only its key holders can sign it (the change stays staged; "
                            "`docket trust reset` drops it)");
  if (!complete) {
    Error e = partial_error(partial_dir(), cfg_.gun, *signed_roles, thresholds_of(*ed));
    if (e.code == "threshold_not_met") {
      // The staged changes now live in the partial metadata.
      if (auto s = changelist_.remove(applied); !s) return std::unexpected(s.error());
    }
    return std::unexpected(e);
  }
  if (signed_roles->empty()) {
    if (auto s = changelist_.remove(applied); !s) return std::unexpected(s.error());
    out.applied_changes = applied.size();
    return out;
  }
  if (auto s = tuf::publish_to_notary(im.send, cfg_.server_url, cfg_.gun, *signed_roles); !s)
    return std::unexpected(s.error());
  if (auto s = changelist_.remove(applied); !s) return std::unexpected(s.error());
  out.applied_changes = applied.size();
  out.published = *signed_roles;
  if (auto s = cache_published_root(*signed_roles); !s) return std::unexpected(s.error());
  std::error_code ec;
  fs::remove_all(partial_dir(), ec);
  return out;
}

Result<std::vector<tuf::SignedRole>> Repository::sign_allowing_partial(tuf::Editor& ed) const {
  tuf::SignOptions so;
  so.allow_partial = true;
  so.now = cfg_.clock();
  auto signed_roles = ed.sign(so);
  if (!signed_roles)
    return std::unexpected(with_context(signed_roles.error(), "signing " + cfg_.gun));
  return signed_roles;
}

Status Repository::publish_if_complete(const std::vector<tuf::SignedRole>& roles,
                                       const tuf::Editor& ed) {
  if (auto s = check_root_meets_ca_pin(roles); !s) return s;
  if (!std::all_of(roles.begin(), roles.end(), [](const tuf::SignedRole& r) { return r.complete; }))
    return std::unexpected(partial_error(partial_dir(), cfg_.gun, roles, thresholds_of(ed)));
  if (auto s = tuf::publish_to_notary(impl_->send, cfg_.server_url, cfg_.gun, roles); !s)
    return std::unexpected(s.error());
  return cache_published_root(roles);
}

Status Repository::check_root_meets_ca_pin(const std::vector<tuf::SignedRole>& roles) const {
  auto root = std::find_if(roles.begin(), roles.end(),
                           [](const tuf::SignedRole& r) { return r.role == "root"; });
  // A partially signed root is checked when its last signer completes it (cosign).
  if (root == roles.end() || !root->complete) return {};
  auto pins = verifier::load_trust_pins(cfg_.trust_dir, cfg_.gun);
  if (!pins) return std::unexpected(pins.error());
  if (!pins->ca_prefix) return {};
  tuf::ParseOptions po;
  po.fault = Fault::bug;  // we just signed it
  auto md = tuf::parse_root(root->bytes, po);
  if (!md) return std::unexpected(md.error());
  auto s = verifier::check_root_chains_to_ca(
      *md, pins->ca_certs_der, cfg_.gun, cfg_.clock(),
      "the CA pinned for \"" + *pins->ca_prefix + "\" (" + pins->ca_file.string() + ")");
  if (!s)
    return make_error(Fault::user, "pin_mismatch",
                      "not publishing root v" + std::to_string(root->version) + " of " + cfg_.gun +
                          ": clients using " +
                          (cfg_.trust_dir / verifier::kTrustPinningFile).string() +
                          " would refuse it: " + s.error().message +
                          " (give the root key a certificate that CA issued: `docket trust "
                          "init` and `docket trust key rotate root` take --root-key and "
                          "--root-cert)");
  return {};
}

Result<std::set<std::string>> Repository::held_key_ids() const {
  auto listed = store_.list();
  if (!listed) return std::unexpected(listed.error());
  std::set<std::string> held;
  for (const auto& k : *listed) held.insert(k.id);
  return held;
}

Result<std::vector<std::string>> Repository::signable_roles(const std::string& tag) {
  if (!impl_->exists) return std::vector<std::string>{"targets"};
  std::vector<const RoleView*> delegations;
  for (const auto& r : view_.roles)
    if (r.name != "targets") delegations.push_back(&r);
  if (delegations.empty()) return std::vector<std::string>{"targets"};
  auto listed = store_.list();
  if (!listed) return std::unexpected(listed.error());
  std::set<std::string> held;
  for (const auto& k : *listed) held.insert(k.id);
  std::vector<std::string> out;
  for (const auto* r : delegations) {
    if (parent_of(r->name) != "targets") continue;  // direct children only, as docker does
    bool path_ok = false;
    for (const auto& p : r->paths) path_ok = path_ok || tag.starts_with(p);
    if (!path_ok) continue;
    for (const auto& id : r->canonical_key_ids)
      if (held.contains(id)) {
        out.push_back(r->name);
        break;
      }
  }
  if (out.empty())
    return make_error(Fault::user, "no_signing_key",
                      cfg_.gun + " has delegations but none of their keys is in " +
                          store_.location() + " (load a signer key with `docket trust key load`)");
  return out;
}

Result<std::string> Repository::rotate_key(const std::string& role, bool server_managed,
                                           const RootKeyChoice& root_choice) {
  Impl& im = *impl_;
  if (role != "root" && role != "targets" && role != "snapshot" && role != "timestamp")
    return make_error(
        Fault::user, "usage",
        "key rotate takes root, targets, snapshot or timestamp, not \"" + role + "\"");
  if (role == "timestamp" && !server_managed)
    return make_error(Fault::user, "usage",
                      "the trust server always holds the timestamp key: pass --server-managed");
  if ((role == "root" || role == "targets") && server_managed)
    return make_error(Fault::user, "usage", "the " + role + " key is never server-managed");
  if (role != "root" && (root_choice.key_id || root_choice.certificate))
    return make_error(Fault::user, "usage", "a root key or certificate is for rotating root only");
  auto exists = refresh();
  if (!exists) return std::unexpected(exists.error());
  if (!*exists)
    return make_error(Fault::user, "not_found",
                      "no trust data for " + cfg_.gun + " on " + cfg_.server_url +
                          ": nothing to rotate (push or sign something first)");
  // The root signs every rotation (new root listing the new key); the old root keys sign
  // it too, so clients that trust the old root follow.
  std::set<std::string> ids(view_.root_canonical_ids.begin(), view_.root_canonical_ids.end());
  if (auto s = load_keys_and_snapshot(store_, im.ring, im.loaded, im.root->signed_, std::move(ids));
      !s)
    return std::unexpected(s.error());
  if (im.loaded.empty() ||
      std::none_of(view_.root_canonical_ids.begin(), view_.root_canonical_ids.end(),
                   [&](const std::string& id) { return im.loaded.contains(id); }))
    return make_error(Fault::user, "no_signing_key",
                      "rotating a key of " + cfg_.gun + " needs its root key, which is not in " +
                          store_.location());
  auto e = tuf::Editor::load(im.files, cfg_.gun, im.ring);
  if (!e) return std::unexpected(e.error());
  tuf::Editor ed = std::move(*e);
  std::vector<keys::PublicKey> new_keys;
  std::string new_id;
  if (server_managed) {
    auto k = tuf::fetch_server_key(im.send, cfg_.server_url, cfg_.gun, role, /*rotate=*/true);
    if (!k) return std::unexpected(k.error());
    new_keys.push_back(*k);
    new_id = k->canonical_key_id();
  } else if (root_choice.key_id) {
    // A root key already in the store (e.g. imported with the certificate a CA issued).
    auto stored = store_.get(*root_choice.key_id);
    if (!stored) return std::unexpected(stored.error());
    if (stored->role != "root")
      return make_error(
          Fault::user, "usage",
          "key " + *root_choice.key_id + " is a " + stored->role + " key, not a root key");
    new_id = stored->key.public_key().canonical_key_id();
    if (std::find(view_.root_canonical_ids.begin(), view_.root_canonical_ids.end(), new_id) !=
        view_.root_canonical_ids.end())
      return make_error(Fault::user, "usage",
                        "key " + new_id + " is already the root key of " + cfg_.gun);
    im.ring.add(stored->key);
    im.loaded.insert(new_id);
    auto cert = root_certificate_for(stored->key, root_choice, cfg_.gun);
    if (!cert) return std::unexpected(cert.error());
    new_keys.push_back(*cert);
  } else {
    if (root_choice.certificate)
      return make_error(Fault::user, "usage",
                        "a root certificate needs the root key it was issued for");
    auto k = keys::PrivateKey::generate(keys::Algorithm::ecdsa_p256);
    if (!k) return std::unexpected(k.error());
    auto id = store_.add(*k, role, role == "root" ? std::string() : cfg_.gun);
    if (!id) return std::unexpected(id.error());
    new_id = *id;
    im.ring.add(*k);
    im.loaded.insert(*id);
    if (role == "root") {
      auto cert = tuf::make_root_certificate(*k, cfg_.gun);
      if (!cert) return std::unexpected(cert.error());
      new_keys.push_back(*cert);
    } else {
      new_keys.push_back(k->public_key());
    }
  }
  if (auto s = ed.rotate_keys(role, new_keys); !s) return std::unexpected(s.error());
  // The new targets key must sign targets at once: the server checks that the new root
  // still vouches for the stored targets.
  if (role == "targets")
    if (auto s = ed.touch("targets"); !s) return std::unexpected(s.error());
  auto signed_roles = sign_allowing_partial(ed);
  if (!signed_roles) return std::unexpected(signed_roles.error());
  if (auto s = publish_if_complete(*signed_roles, ed); !s) return std::unexpected(s.error());
  return new_id;
}

Result<std::vector<tuf::SignedRole>> Repository::set_threshold(
    const std::string& role, int n, const std::vector<keys::PublicKey>& add_keys) {
  Impl& im = *impl_;
  if (n < 1 || n > static_cast<int>(kMaxThreshold))
    return make_error(
        Fault::user, "usage",
        "a threshold is 1.." + std::to_string(kMaxThreshold) + ", not " + std::to_string(n));
  const bool base = role == "root" || role == "targets";
  if (role == "snapshot" || role == "timestamp")
    return make_error(Fault::user, "usage",
                      "the " + role +
                          " role is signed by one key (the trust server's for a "
                          "server-managed role): its threshold stays 1");
  if (!base && !role.starts_with("targets/"))
    return make_error(
        Fault::user, "usage",
        "threshold set takes root, targets or a delegation (targets/NAME), not \"" + role + "\"");
  auto exists = refresh();
  if (!exists) return std::unexpected(exists.error());
  if (!*exists)
    return make_error(Fault::user, "not_found",
                      "no trust data for " + cfg_.gun + " on " + cfg_.server_url +
                          " (push or sign something first)");
  const RoleView* rv = role == "root" ? nullptr : view_.find(role);
  if (role != "root" && !rv)
    return make_error(Fault::user, "not_found", "no role " + role + " in " + cfg_.gun);
  // Keys to decrypt: root (signs root and every base-role change), the role itself (it is
  // re-signed), its delegator for a delegation, and a local snapshot key.
  std::set<std::string> ids(view_.root_canonical_ids.begin(), view_.root_canonical_ids.end());
  if (rv) ids.insert(rv->canonical_key_ids.begin(), rv->canonical_key_ids.end());
  if (!base)
    if (const RoleView* parent = view_.find(parent_of(role)))
      ids.insert(parent->canonical_key_ids.begin(), parent->canonical_key_ids.end());
  if (auto s = load_keys_and_snapshot(store_, im.ring, im.loaded, im.root->signed_, std::move(ids));
      !s)
    return std::unexpected(s.error());
  auto e = tuf::Editor::load(im.files, cfg_.gun, im.ring);
  if (!e) return std::unexpected(e.error());
  tuf::Editor ed = std::move(*e);
  if (base) {
    if (add_keys.empty()) {
      if (auto s = ed.set_threshold(role, n); !s) return std::unexpected(s.error());
    } else {
      // The role's current keys plus the new ones (an already listed key is not doubled).
      const auto& root = ed.root().signed_;
      const auto& rk = root.roles.at(role);
      std::vector<keys::PublicKey> all;
      std::set<std::string> have;
      for (const auto& id : rk.keyids) {
        auto it = root.keys.find(id);
        if (it == root.keys.end()) continue;
        auto k = keys::PublicKey::from_json(it->second, Fault::remote);
        if (!k) return std::unexpected(k.error());
        have.insert(k->canonical_key_id());
        all.push_back(*k);
      }
      for (const auto& k : add_keys)
        if (have.insert(k.canonical_key_id()).second) all.push_back(k);
      if (auto s = ed.rotate_keys(role, all, n); !s) return std::unexpected(s.error());
    }
    if (role == "targets")
      if (auto s = ed.touch("targets"); !s) return std::unexpected(s.error());
  } else {
    if (auto s = ed.update_delegation(role, add_keys, {}, n, {}, {}, false); !s)
      return std::unexpected(s.error());
  }
  auto signed_roles = sign_allowing_partial(ed);
  if (!signed_roles) return std::unexpected(signed_roles.error());
  for (const auto& r : *signed_roles)
    if (!r.complete && count_signatures(r.bytes) == 0)
      return make_error(Fault::user, "no_signing_key",
                        "no key for " + r.role + " of " + cfg_.gun + " in " + store_.location() +
                            ": changing a threshold needs the keys that sign " + r.role);
  if (auto s = publish_if_complete(*signed_roles, ed); !s) return std::unexpected(s.error());
  std::error_code ec;
  fs::remove_all(partial_dir(), ec);
  return *signed_roles;
}

Result<std::vector<tuf::SignedRole>> Repository::cosign(const fs::path& dir) {
  Impl& im = *impl_;
  auto text = read_file(dir / "partial.json", 1 << 20);
  if (!text) return std::unexpected(text.error());
  auto manifest = parse_json(*text, (dir / "partial.json").string(), Fault::user);
  if (!manifest) return std::unexpected(manifest.error());
  if (!manifest->is_object() || !(*manifest)["gun"].is_string() ||
      (*manifest)["gun"].get<std::string>() != cfg_.gun || !(*manifest)["roles"].is_array())
    return make_error(Fault::user, "usage",
                      (dir / "partial.json").string() + " is not partial metadata of " + cfg_.gun);
  auto exists = refresh();
  if (!exists) return std::unexpected(exists.error());
  if (!*exists)
    return make_error(Fault::user, "not_found", "no trust data for " + cfg_.gun + " to co-sign");
  tuf::RepoFiles files = im.files;
  std::vector<std::string> roles;
  for (const auto& r : (*manifest)["roles"]) {
    if (!r.is_string()) return make_error(Fault::user, "usage", "bad role list in partial.json");
    std::string role = r.get<std::string>();
    auto name = tuf::RoleName::make(role, Fault::user);
    if (!name) return std::unexpected(name.error());
    auto bytes = read_file(dir / name->file_name(), tuf::kMaxStoredMetadataBytes);
    if (!bytes) return std::unexpected(bytes.error());
    if (role == "root") {
      files.trusted_root = files.root;
      files.root = *bytes;
    } else if (role == "snapshot") {
      files.snapshot = *bytes;
    } else if (role == "timestamp") {
      continue;
    } else {
      files.targets[role] = *bytes;
    }
    roles.push_back(role);
  }
  // Our keys for every role being co-signed (root: the old and new root keys).
  auto pe = tuf::Editor::load(files, cfg_.gun, im.ring);
  if (!pe) return std::unexpected(pe.error());
  std::set<std::string> ids;
  auto add_ids = [&](const std::map<std::string, Json>& keys,
                     const std::vector<std::string>& kids) -> Status {
    auto c = canonical_ids(keys, kids);
    if (!c) return std::unexpected(c.error());
    ids.insert(c->begin(), c->end());
    return {};
  };
  for (const auto& role : roles) {
    if (role == "root" || role == "snapshot") {
      const auto& root = pe->root().signed_;
      if (auto s = add_ids(
              root.keys,
              root.role(role == "root" ? tuf::RoleType::root : tuf::RoleType::snapshot).keyids);
          !s)
        return std::unexpected(s.error());
      if (role == "root" && im.root)
        if (auto s =
                add_ids(im.root->signed_.keys, im.root->signed_.role(tuf::RoleType::root).keyids);
            !s)
          return std::unexpected(s.error());
    } else if (role == "targets") {
      const auto& root = pe->root().signed_;
      if (auto s = add_ids(root.keys, root.role(tuf::RoleType::targets).keyids); !s)
        return std::unexpected(s.error());
    } else {
      const auto* parent = pe->targets(parent_of(role));
      if (parent && parent->signed_.delegations)
        for (const auto& dr : parent->signed_.delegations->roles)
          if (dr.name.str() == role)
            if (auto s = add_ids(parent->signed_.delegations->keys, dr.keys.keyids); !s)
              return std::unexpected(s.error());
    }
  }
  if (auto s = load_keys(store_, im.ring, im.loaded, ids); !s) return std::unexpected(s.error());
  auto e = tuf::Editor::load(files, cfg_.gun, im.ring);
  if (!e) return std::unexpected(e.error());
  std::vector<tuf::SignedRole> out;
  for (const auto& role : roles) {
    auto r = e->add_signatures(role);
    if (!r) return std::unexpected(with_context(r.error(), "co-signing " + role));
    out.push_back(*r);
  }
  if (auto s = publish_if_complete(out, *e); !s) return std::unexpected(s.error());
  std::error_code ec;
  fs::remove_all(partial_dir(), ec);
  return out;
}

}  // namespace docket::trustclient
