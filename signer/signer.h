// The signing service for server-managed keys (the timestamp key of every GUN and, when the
// repository owner delegates it, the snapshot key). The trust server never sees a private
// key: it asks a Signer to create keys and to sign canonical bytes.
//
// Two implementations of one interface, sharing one conformance suite
// (signer/tests/signer_conformance_test.cpp):
//   LocalSigner  - in process (docket-server serve / trust), keys in an encrypted key store;
//   RemoteSigner - a client of `docket-server signer` over mutual TLS (signer/remote.h).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/time.h"
#include "keys/key.h"

namespace docket::signer {

// What is public about a managed key.
struct KeyInfo {
  std::string key_id;  // Notary key ID of public_json
  std::string gun;
  std::string role;  // "timestamp" / "snapshot"
  keys::Algorithm algorithm = keys::Algorithm::ed25519;
  std::string public_json;  // canonical {"keytype":..,"keyval":{"private":null,"public":..}}
  std::string method;       // the signature method sign() produces ("eddsa", "ecdsa", ...)
  TimePoint created{};
};

// Algorithm names are keys::algorithm_name / keys::parse_algorithm ("ed25519", "ecdsa", "rsa").

class Signer {
 public:
  virtual ~Signer() = default;

  // Creates a new key for (gun, role). Rotation is creating another key: older keys stay
  // usable until the trust server stops naming them (a root that lists the new key).
  virtual Result<KeyInfo> create_key(std::string_view gun, std::string_view role,
                                     keys::Algorithm a) = 0;
  // Public information of a key. Error "not_found" when this signer does not hold it.
  virtual Result<KeyInfo> get_key(std::string_view key_id) = 0;
  // Every key held for (gun, role), oldest first.
  virtual Result<std::vector<KeyInfo>> list_keys(std::string_view gun, std::string_view role) = 0;
  // Raw signature bytes over `message` with the key's Notary method (KeyInfo::method).
  virtual Result<std::string> sign(std::string_view key_id, std::string_view message) = 0;
  virtual Status delete_key(std::string_view key_id) = 0;
  virtual Status check_health() = 0;
};

// Where a passphrase comes from: DOCKET_SIGNER_PASSPHRASE_<ALIAS> (alias upper-cased,
// non-alphanumerics turned into '_'). Error "passphrase" (user fault) when unset or empty.
Result<std::string> passphrase_from_env(std::string_view alias);
std::string passphrase_env_name(std::string_view alias);

struct LocalSignerOptions {
  // Directory of encrypted key records (created 0700 if missing).
  std::string directory;
  // Alias of the passphrase new keys are encrypted with; records remember their alias so
  // older keys keep working after the default alias changes.
  std::string default_alias = "default";
  // Argon2id cost for deriving the record key from the passphrase (libsodium limits).
  unsigned long long kdf_opslimit = 2;          // crypto_pwhash_OPSLIMIT_INTERACTIVE
  std::size_t kdf_memlimit = 64 * 1024 * 1024;  // crypto_pwhash_MEMLIMIT_INTERACTIVE
  // For tests: where passphrases come from (default: passphrase_from_env).
  std::function<Result<std::string>(std::string_view alias)> passphrase;
};

// Key records at rest: one file per key, <directory>/<key_id>.json, mode 0600, written
// atomically:
//   {"format":"docket-signer-key/1","key_id":..,"gun":..,"role":..,"algorithm":..,
//    "public":<key JSON>,"created":RFC3339,"alias":..,
//    "kdf":{"name":"argon2id13","opslimit":N,"memlimit":N,"salt":b64},
//    "cipher":"xchacha20poly1305-ietf","nonce":b64,"ciphertext":b64}
// ciphertext = AEAD(PKCS#8 DER of the private key), associated data = key_id|gun|role|alg,
// so a record cannot be re-labelled to another GUN or role without detection. Decrypted
// keys are cached in memory (locked pages are not attempted).
Result<std::unique_ptr<Signer>> open_local_signer(LocalSignerOptions o);

}  // namespace docket::signer
