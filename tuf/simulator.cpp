#include "tuf/simulator.h"

#include <fstream>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/file.h"

namespace docket::tuf {
namespace {
std::string hex_sha256_of(const std::string& b) {
  return sha256_hex(b);
}
}  // namespace

Simulator::Simulator(Options o) : opts(o) {
  init_common(root, RoleType::root);
  root.consistent_snapshot = opts.dialect == Dialect::tuf ? opts.consistent_snapshot : false;
  for (auto t : {RoleType::root, RoleType::timestamp, RoleType::snapshot, RoleType::targets}) {
    root.roles[std::string(role_type_name(t))] = RoleKeys{};
    rotate_keys(t, 1, 1);
  }
  init_common(timestamp, RoleType::timestamp);
  init_common(snapshot, RoleType::snapshot);
  Targets top;
  init_common(top, RoleType::targets);
  targets["targets"] = top;
  publish_root();
  publish();
}

void Simulator::init_common(Common& c, RoleType t) {
  c.dialect = opts.dialect;
  c.type = t;
  c.version = 1;
  c.expires = std::chrono::floor<std::chrono::seconds>(docket::now()) + opts.validity;
  c.spec_version = opts.dialect == Dialect::tuf ? "1.0.31" : "";
}

keys::PrivateKey Simulator::new_key() const {
  return value_or_raise(keys::PrivateKey::generate(opts.algorithm));
}

std::string Simulator::key_id(const keys::PrivateKey& k) const {
  if (!keyid_by_der_.empty())
    if (auto it = keyid_by_der_.find(k.to_pkcs8_der()); it != keyid_by_der_.end())
      return it->second;
  return k.public_key(opts.dialect).key_id();
}

Json Simulator::key_json(const keys::PrivateKey& k) const {
  if (!json_by_der_.empty())
    if (auto it = json_by_der_.find(k.to_pkcs8_der()); it != json_by_der_.end()) return it->second;
  return k.public_key(opts.dialect).json();
}

void Simulator::add_key(RoleType role, const keys::PrivateKey& k) {
  auto name = std::string(role_type_name(role));
  if (role == RoleType::root && opts.dialect == Dialect::notary &&
      !opts.root_certificate_cn.empty()) {
    auto cert = value_or_raise(
        k.self_signed_certificate(opts.root_certificate_cn, std::chrono::hours(24 * 365 * 10)));
    keyid_by_der_[k.to_pkcs8_der()] = cert.key_id();
    json_by_der_[k.to_pkcs8_der()] = cert.json();
  }
  root.keys[key_id(k)] = key_json(k);
  root.roles[name].keyids.push_back(key_id(k));
  signers[name].push_back(k);
}

void Simulator::rotate_keys(RoleType role, int count, std::int64_t threshold) {
  auto name = std::string(role_type_name(role));
  root.roles[name].keyids.clear();
  root.roles[name].threshold = threshold;
  signers[name].clear();
  for (int i = 0; i < count; ++i) add_key(role, new_key());
}

std::string Simulator::sign(const Json& signed_json,
                            const std::vector<keys::PrivateKey>& ks) const {
  std::string canonical = value_or_raise(canonical_json(signed_json, Fault::bug));
  Json sigs = Json::array();
  for (const auto& k : ks) {
    std::string raw = value_or_raise(k.sign(canonical, opts.dialect));
    Json s{{"keyid", key_id(k)}};
    if (opts.dialect == Dialect::notary) {
      s["method"] = k.method(opts.dialect);
      s["sig"] = base64_encode(raw);
    } else {
      s["sig"] = hex_encode(raw);
    }
    sigs.push_back(std::move(s));
  }
  Json doc{{"signed", signed_json}, {"signatures", sigs}};
  return value_or_raise(write_json(doc));
}

void Simulator::publish_root(const std::vector<keys::PrivateKey>& extra) {
  auto ks = signers["root"];
  for (const auto& k : extra) ks.push_back(k);
  signed_roots.resize(static_cast<std::size_t>(root.version));
  signed_roots[static_cast<std::size_t>(root.version - 1)] = sign(to_json(root), ks);
}

void Simulator::bump_root(const std::vector<keys::PrivateKey>& extra) {
  ++root.version;
  publish_root(extra);
}

std::string Simulator::sign_root() const {
  return signed_roots.back();
}
std::string Simulator::sign_timestamp() const {
  return sign(to_json(timestamp), signers.at("timestamp"));
}
std::string Simulator::sign_snapshot() const {
  return sign(to_json(snapshot), signers.at("snapshot"));
}
std::string Simulator::sign_targets(const std::string& role) const {
  auto it = signers.find(role);
  static const std::vector<keys::PrivateKey> none;
  return sign(to_json(targets.at(role)), it == signers.end() ? none : it->second);
}

void Simulator::publish() {
  bool hashes = opts.meta_hashes || opts.dialect == Dialect::notary;
  auto entry = [&](const std::string& bytes, std::int64_t version) {
    MetaFile m;
    if (opts.dialect == Dialect::tuf) m.version = version;
    if (hashes) {
      m.length = static_cast<std::int64_t>(bytes.size());
      m.hashes["sha256"] = encode_hash(opts.dialect, sha256(bytes));
      if (opts.dialect == Dialect::notary)
        m.hashes["sha512"] = encode_hash(opts.dialect, sha512(bytes));
    }
    return m;
  };
  for (const auto& [name, t] : targets) {
    published[name] = sign_targets(name);
    auto rn = value_or_raise(RoleName::make(name));
    snapshot.meta[meta_key(rn, opts.dialect)] = entry(published[name], t.version);
  }
  if (opts.dialect == Dialect::notary)
    snapshot.meta["root"] = entry(signed_roots.back(), root.version);
  published["snapshot"] = sign_snapshot();
  timestamp.meta.clear();
  timestamp.meta[meta_key(RoleName::snapshot(), opts.dialect)] =
      entry(published["snapshot"], snapshot.version);
  published["timestamp"] = sign_timestamp();
}

void Simulator::bump_timestamp() {
  ++timestamp.version;
  publish();
}
void Simulator::bump_snapshot() {
  ++snapshot.version;
  ++timestamp.version;
  publish();
}
void Simulator::bump_targets(const std::string& role) {
  ++targets.at(role).version;
  ++snapshot.version;
  ++timestamp.version;
  publish();
}

void Simulator::add_target(const std::string& role, const std::string& path,
                           const std::string& content) {
  TargetFile f;
  f.length = static_cast<std::int64_t>(content.size());
  f.hashes["sha256"] = encode_hash(opts.dialect, sha256(content));
  if (opts.dialect == Dialect::notary)
    f.hashes["sha512"] = encode_hash(opts.dialect, sha512(content));
  targets.at(role).targets[path] = f;
  artifacts[path] = content;
}

DelegatedRole& Simulator::add_delegation(const std::string& delegator, const std::string& name,
                                         std::vector<std::string> paths, bool terminating) {
  Targets& d = targets.at(delegator);
  if (!d.delegations) {
    d.delegations = Delegations{};
    d.delegations->dialect = opts.dialect;
  }
  auto k = new_key();
  d.delegations->keys[key_id(k)] = key_json(k);
  DelegatedRole r;
  r.name = value_or_raise(RoleName::make(name));
  r.keys.keyids = {key_id(k)};
  r.keys.threshold = 1;
  r.terminating = terminating;
  r.paths = std::move(paths);
  d.delegations->roles.push_back(r);
  signers[name] = {k};
  Targets t;
  init_common(t, RoleType::targets);
  targets[name] = t;
  return d.delegations->roles.back();
}

std::string Simulator::meta_name(const std::string& role) const {
  auto rn = value_or_raise(RoleName::make(role));
  if (opts.dialect == Dialect::notary) {
    auto it = published.find(role);
    return role + "." + hex_sha256_of(it->second) + ".json";
  }
  if (root.consistent_snapshot)
    return std::to_string(targets.at(role).version) + "." + rn.encoded() + ".json";
  return rn.encoded() + ".json";
}

std::optional<std::string> Simulator::serve_metadata(const std::string& name) {
  requests.push_back(name);
  if (missing.contains(name)) return std::nullopt;
  if (auto it = overrides.find(name); it != overrides.end()) return it->second;
  // N.root.json
  auto dot = name.find('.');
  if (dot != std::string::npos && name.substr(dot) == ".root.json") {
    auto v = name.substr(0, dot);
    if (!v.empty() && v.find_first_not_of("0123456789") == std::string::npos && v.size() < 9) {
      auto n = std::stoul(v);
      if (n >= 1 && n <= signed_roots.size()) return signed_roots[n - 1];
    }
    return std::nullopt;
  }
  if (name == "timestamp.json") return published.at("timestamp");
  if (opts.dialect == Dialect::notary) {
    if (name == "root.json") return signed_roots.back();
    for (std::size_t i = 0; i < signed_roots.size(); ++i)
      if (name == "root." + hex_sha256_of(signed_roots[i]) + ".json") return signed_roots[i];
    if (name == "snapshot." + hex_sha256_of(published.at("snapshot")) + ".json")
      return published.at("snapshot");
    for (const auto& [role, t] : targets)
      if (name == meta_name(role)) return published.at(role);
    return std::nullopt;
  }
  std::string snap = root.consistent_snapshot ? std::to_string(snapshot.version) + ".snapshot.json"
                                              : "snapshot.json";
  if (name == snap) return published.at("snapshot");
  for (const auto& [role, t] : targets)
    if (name == meta_name(role)) return published.at(role);
  return std::nullopt;
}

std::optional<std::string> Simulator::serve_target(const std::string& name) const {
  for (const auto& [path, content] : artifacts) {
    auto tp = value_or_raise(TargetPath::make(path));
    if (!root.consistent_snapshot && name == path) return content;
    if (root.consistent_snapshot) {
      if (name == tp.with_hash_prefix(sha256_hex(content))) return content;
      if (name == tp.with_hash_prefix(hex_encode(sha512(content)))) return content;
    }
  }
  return std::nullopt;
}

void Simulator::install(MemoryFetcher& f, const std::string& metadata_url,
                        const std::string& targets_url) {
  f.set_hook([this, metadata_url,
              targets_url](const std::string& url) -> std::optional<Result<std::string>> {
    if (url.rfind(metadata_url, 0) == 0) {
      auto r = serve_metadata(url.substr(metadata_url.size()));
      if (r) return Result<std::string>(*r);
      return Result<std::string>(make_error(Fault::remote, "not_found", "GET " + url + ": 404"));
    }
    if (url.rfind(targets_url, 0) == 0) {
      auto r = serve_target(url.substr(targets_url.size()));
      if (r) return Result<std::string>(*r);
    }
    return Result<std::string>(make_error(Fault::remote, "not_found", "GET " + url + ": 404"));
  });
}

void Simulator::write_to(const std::filesystem::path& mdir, const std::filesystem::path& tdir) {
  std::filesystem::create_directories(mdir);
  std::filesystem::create_directories(tdir);
  auto put = [](const std::filesystem::path& p, const std::string& b) {
    std::filesystem::create_directories(p.parent_path());
    value_or_raise(atomic_write_file(p, b));
  };
  for (std::size_t i = 0; i < signed_roots.size(); ++i)
    put(mdir / (std::to_string(i + 1) + ".root.json"), signed_roots[i]);
  put(mdir / "timestamp.json", published.at("timestamp"));
  if (opts.dialect == Dialect::notary) {
    put(mdir / "root.json", signed_roots.back());
    put(mdir / ("snapshot." + hex_sha256_of(published.at("snapshot")) + ".json"),
        published.at("snapshot"));
  } else {
    put(mdir / (root.consistent_snapshot ? std::to_string(snapshot.version) + ".snapshot.json"
                                         : "snapshot.json"),
        published.at("snapshot"));
  }
  for (const auto& [role, t] : targets) put(mdir / meta_name(role), published.at(role));
  for (const auto& [path, content] : artifacts) {
    auto tp = value_or_raise(TargetPath::make(path));
    put(tdir / (root.consistent_snapshot ? tp.with_hash_prefix(sha256_hex(content)) : path),
        content);
  }
}

}  // namespace docket::tuf
