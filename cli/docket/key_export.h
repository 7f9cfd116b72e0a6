// Key export shared by `docket key export` and `docket trust key export`: the stored,
// encrypted PEM blocks (same passphrase, notary's "path"/"role"/"gun" headers), as
// `notary key export` writes them and `notary key import` / `docket trust key load` read
// them. Nothing is ever decrypted for export (a legacy unencrypted key file is encrypted on
// the way out, asking for a passphrase).
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "keys/keystore.h"

namespace docket::cli {

struct KeySelection {
  std::vector<std::string> ids;  // exact canonical IDs; empty: every key matching role/gun
  std::string role;              // "" any
  std::string gun;               // "" any
};

// IDs of the keys `sel` names, in the store's order. user/not_found when none match or a
// named ID is not in the store.
Result<std::vector<std::string>> select_keys(keys::KeyStore& store, const KeySelection& sel);

// `docket trust key export NAME|KEYID`: the keys of signer NAME (role NAME, as `docket trust
// key generate NAME` stores them, or delegation role targets/NAME), else the key whose ID is
// KEYID or starts with it (at least kMinKeyIdPrefix characters, and unique).
inline constexpr std::size_t kMinKeyIdPrefix = 7;
Result<std::vector<std::string>> select_signer_keys(keys::KeyStore& store,
                                                    const std::string& name_or_id);

// Writes the encrypted PEM of `ids` to `output` (mode 0600, atomically) or, when `output` is
// empty, to stdout. Returns the number of keys written.
Result<std::size_t> write_key_export(keys::KeyStore& store, const std::vector<std::string>& ids,
                                     const std::string& output);

}  // namespace docket::cli
