#include "tuf/verify.h"

#include <atomic>
#include <mutex>
#include <set>
#include <unordered_map>

#include "common/encoding.h"
#include "keys/key.h"

namespace docket::tuf {
namespace {
std::atomic<std::uint64_t> g_checks{0};

// Parsed public keys by their JSON text. Turning a key object into an OpenSSL key (DER or
// x509 decode through the provider machinery) cost more than the signature check itself,
// and a server or client sees the same few keys over and over. A key that fails to parse is
// not cached. PublicKey is immutable and shares its OpenSSL handle, so copies are cheap and
// safe to use from several threads. Bounded: when full, the cache starts over.
constexpr std::size_t kMaxCachedKeys = 4096;

}  // namespace

Result<keys::PublicKey> parsed_key(const Json& key) {
  static std::mutex mu;
  static std::unordered_map<std::string, keys::PublicKey> cache;
  std::string text;
  try {
    text = key.dump();  // strict: text that is not UTF-8 is not cached (no lossy keys)
  } catch (const Json::exception&) {
    return keys::PublicKey::from_json(key, Fault::remote);
  }
  {
    std::lock_guard lk(mu);
    if (auto it = cache.find(text); it != cache.end()) return it->second;
  }
  auto k = keys::PublicKey::from_json(key, Fault::remote);
  if (!k) return k;
  std::lock_guard lk(mu);
  if (cache.size() >= kMaxCachedKeys) cache.clear();
  cache.emplace(std::move(text), *k);
  return k;
}

std::uint64_t signature_checks_performed() {
  return g_checks.load();
}

std::string label(std::string_view role, std::int64_t version) {
  return std::string(role) + " v" + std::to_string(version);
}

SignatureCount count_signatures(std::string_view canonical, const std::vector<Signature>& sigs,
                                Dialect d, const std::map<std::string, Json>& keys,
                                const RoleKeys& role, bool count_all) {
  SignatureCount c;
  std::set<std::string_view> distinct(role.keyids.begin(), role.keyids.end());
  c.role_keys = distinct.size();
  std::map<std::string_view, const Signature*> by_id;
  for (const auto& s : sigs) by_id.emplace(s.keyid, &s);
  for (auto id : distinct) {
    if (!count_all && static_cast<std::int64_t>(c.valid) >= role.threshold) break;
    auto sit = by_id.find(id);
    if (sit == by_id.end()) continue;
    auto kit = keys.find(std::string(id));
    if (kit == keys.end()) continue;
    auto key = parsed_key(kit->second);
    if (!key) continue;  // unsupported or malformed key: its signatures do not count
    const Signature& s = *sit->second;
    auto raw = d == Dialect::notary ? base64_decode(s.sig) : hex_decode(s.sig);
    if (!raw || raw->empty()) continue;
    std::string method = key->dialect() == keys::Dialect::tuf ? key->scheme() : s.method;
    ++g_checks;
    if (key->verify(method, canonical, *raw)) ++c.valid;
  }
  return c;
}

Status verify_delegate(std::string_view what, std::string_view delegator,
                       std::string_view canonical, const std::vector<Signature>& sigs, Dialect d,
                       const std::map<std::string, Json>& keys, const RoleKeys& role) {
  auto c = count_signatures(canonical, sigs, d, keys, role);
  if (static_cast<std::int64_t>(c.valid) >= role.threshold) return {};
  return make_error(Fault::remote, "bad_signature",
                    std::string(what) + ": threshold " + std::to_string(role.threshold) + " of " +
                        std::string(delegator) + " not met: " + std::to_string(c.valid) +
                        " valid signature" + (c.valid == 1 ? "" : "s") + " from " +
                        std::to_string(c.role_keys) + " key" + (c.role_keys == 1 ? "" : "s"));
}

}  // namespace docket::tuf
