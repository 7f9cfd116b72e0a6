// Threshold signature verification, the one function every delegator goes through (root
// for the top-level roles and for itself, a targets role for its delegations).
//
// Rules (TUF spec §5.3.4 / §5.4.3 / §5.5.3 / §5.6.3 and tuf-conformance):
//  * the signed bytes are Metadata::canonical_signed (canonical JSON of `signed` as received);
//  * only distinct keyids listed in the role count; a keyid listed twice counts once;
//  * a signature that does not verify (bad bytes, empty sig, unknown keyid, key not in the
//    role, unsupported key type or scheme) simply does not count;
//  * duplicate keyids in `signatures` were already rejected by the parser;
//  * keyid == sha256(canonical(key)) is NOT required (real repositories violate it).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "keys/key.h"
#include "tuf/metadata.h"

namespace docket::tuf {

struct SignatureCount {
  std::size_t valid = 0;      // distinct authorised keys with a valid signature
  std::size_t role_keys = 0;  // distinct keyids in the role
};

// keys::PublicKey::from_json(key, Fault::remote) through a process-wide cache keyed by the
// key object's JSON text: every check of the same key reuses one parsed key.
Result<keys::PublicKey> parsed_key(const Json& key);

// Counts valid signatures over `canonical` by keys of `role` (looked up in `keys`). Stops
// counting once `role.threshold` is reached unless `count_all`.
SignatureCount count_signatures(std::string_view canonical, const std::vector<Signature>& sigs,
                                Dialect d, const std::map<std::string, Json>& keys,
                                const RoleKeys& role, bool count_all = false);

// Fails with bad_signature "<what>: threshold 2 not met: 1 valid signature from 3 keys"
// unless a threshold of `role`'s keys signed. `what` names the metadata ("targets v3"),
// `delegator` names who delegated ("root v4", "targets v7").
Status verify_delegate(std::string_view what, std::string_view delegator,
                       std::string_view canonical, const std::vector<Signature>& sigs, Dialect d,
                       const std::map<std::string, Json>& keys, const RoleKeys& role);

template <class T>
Status verify_delegate(std::string_view what, std::string_view delegator, const Metadata<T>& m,
                       const std::map<std::string, Json>& keys, const RoleKeys& role) {
  return verify_delegate(what, delegator, m.canonical_signed, m.signatures, m.signed_.dialect, keys,
                         role);
}

// Number of individual signature verifications performed so far in this process (for the
// benchmark's "signature checks per refresh").
std::uint64_t signature_checks_performed();

// "targets v3" style label.
std::string label(std::string_view role, std::int64_t version);

}  // namespace docket::tuf
