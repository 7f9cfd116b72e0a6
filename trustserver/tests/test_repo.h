// Builds signed Notary-dialect metadata for trust server tests, the way the notary client
// does: an ecdsa-x509 root certificate with CN = GUN, ecdsa targets (and optionally
// snapshot) keys, the server's timestamp key from GET timestamp.key.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/json.h"
#include "common/time.h"
#include "keys/key.h"
#include "signer/signer.h"

namespace docket::trustserver::testing {

// A local signer keeping its keys under `dir`, with the cheapest key-derivation settings
// (tests only: the at-rest encryption is not what they check).
inline std::unique_ptr<signer::Signer> open_test_signer(const std::filesystem::path& dir) {
  signer::LocalSignerOptions so;
  so.directory = dir.string();
  so.kdf_opslimit = 1;
  so.kdf_memlimit = 8192;
  so.passphrase = [](std::string_view) -> Result<std::string> { return std::string("pw"); };
  return value_or_raise(signer::open_local_signer(so));
}

struct Key {
  keys::PrivateKey priv;
  Json pub;  // metadata key object
  std::string id;
};

inline Key make_key(keys::Algorithm a = keys::Algorithm::ecdsa_p256) {
  auto k = value_or_raise(keys::PrivateKey::generate(a));
  auto pub = k.public_key(keys::Dialect::notary);
  return Key{k, pub.json(), pub.key_id()};
}

inline Key make_root_key(const std::string& cn,
                         std::chrono::seconds validity = std::chrono::hours(24 * 3650)) {
  auto k = value_or_raise(keys::PrivateKey::generate(keys::Algorithm::ecdsa_p256));
  auto cert = value_or_raise(k.self_signed_certificate(cn, validity));
  return Key{k, cert.json(), cert.key_id()};
}

inline Json public_json(std::string_view text) {
  return value_or_raise(parse_json(text, "key", Fault::bug));
}
inline std::string key_id_of(const Json& pub) {
  return value_or_raise(keys::PublicKey::from_json(pub)).key_id();
}

// {"signed":..,"signatures":[..]} signed by every key in `by`.
inline std::string sign(const Json& signed_obj, const std::vector<const Key*>& by) {
  auto canon = value_or_raise(canonical_json(signed_obj));
  Json sigs = Json::array();
  for (const auto* k : by) {
    auto sig = value_or_raise(k->priv.sign(canon, keys::Dialect::notary));
    sigs.push_back({{"keyid", k->id},
                    {"method", k->priv.method(keys::Dialect::notary)},
                    {"sig", base64_encode(sig)}});
  }
  return "{\"signed\":" + canon + ",\"signatures\":" + sigs.dump() + "}";
}

inline std::string expires_in(std::chrono::hours h) {
  return format_rfc3339_nano(now() + h);
}

inline Json meta_of(std::string_view data) {
  return {{"length", static_cast<std::int64_t>(data.size())},
          {"hashes",
           {{"sha256", base64_encode(sha256(data))}, {"sha512", base64_encode(sha512(data))}}}};
}

struct Repo {
  std::string gun;
  std::vector<Key> root_keys;  // the current root keys
  int root_threshold = 1;
  Key targets_key = make_key();
  std::optional<Key> snapshot_key = make_key();  // nullopt: server-managed snapshot
  Json timestamp_pub;                            // the server's key
  Json server_snapshot_pub;                      // when server-managed

  std::int64_t root_version = 0, targets_version = 0, snapshot_version = 0;
  std::string root, targets, snapshot;  // last built bytes
  std::map<std::string, Json> target_entries;
  Json delegations = {{"keys", Json::object()}, {"roles", Json::array()}};

  explicit Repo(std::string g) : gun(std::move(g)) { root_keys.push_back(make_root_key(gun)); }

  Json root_signed(std::int64_t version, std::string expires = "") const {
    Json keys = Json::object();
    Json root_ids = Json::array();
    for (const auto& k : root_keys) {
      keys[k.id] = k.pub;
      root_ids.push_back(k.id);
    }
    keys[targets_key.id] = targets_key.pub;
    std::string snap_id;
    if (snapshot_key) {
      keys[snapshot_key->id] = snapshot_key->pub;
      snap_id = snapshot_key->id;
    } else {
      snap_id = key_id_of(server_snapshot_pub);
      keys[snap_id] = server_snapshot_pub;
    }
    auto ts_id = key_id_of(timestamp_pub);
    keys[ts_id] = timestamp_pub;
    return {{"_type", "Root"},
            {"consistent_snapshot", false},
            {"expires", expires.empty() ? expires_in(std::chrono::hours(24 * 3650)) : expires},
            {"keys", keys},
            {"roles",
             {{"root", {{"keyids", root_ids}, {"threshold", root_threshold}}},
              {"targets", {{"keyids", {targets_key.id}}, {"threshold", 1}}},
              {"snapshot", {{"keyids", {snap_id}}, {"threshold", 1}}},
              {"timestamp", {{"keyids", {ts_id}}, {"threshold", 1}}}}},
            {"version", version}};
  }

  // Builds the next root signed by the current root keys (and `extra` signers).
  std::string next_root(const std::vector<const Key*>& signers) {
    root = sign(root_signed(++root_version), signers);
    return root;
  }
  std::string next_root() {
    std::vector<const Key*> s;
    for (const auto& k : root_keys) s.push_back(&k);
    return next_root(s);
  }

  Json targets_signed(std::int64_t version, std::string expires = "") const {
    Json t = Json::object();
    for (const auto& [k, v] : target_entries) t[k] = v;
    return {{"_type", "Targets"},
            {"delegations", delegations},
            {"expires", expires.empty() ? expires_in(std::chrono::hours(24 * 365)) : expires},
            {"targets", t},
            {"version", version}};
  }
  std::string next_targets() {
    targets = sign(targets_signed(++targets_version), {&targets_key});
    return targets;
  }

  void add_target(const std::string& name, std::string_view content) {
    target_entries[name] = meta_of(content);
  }

  // Snapshot over root, targets and `extra` delegation bytes.
  std::string next_snapshot(const std::map<std::string, std::string>& extra = {}) {
    Json meta = {{"root", meta_of(root)}, {"targets", meta_of(targets)}};
    for (const auto& [r, b] : extra) meta[r] = meta_of(b);
    snapshot = sign({{"_type", "Snapshot"},
                     {"expires", expires_in(std::chrono::hours(24 * 365))},
                     {"meta", meta},
                     {"version", ++snapshot_version}},
                    {&*snapshot_key});
    return snapshot;
  }
};

}  // namespace docket::trustserver::testing
