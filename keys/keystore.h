// Private key stores. Keys are named by their canonical key ID (for ECDSA/RSA the ID of
// the bare public key, which is also what Notary names key files by, even for root keys
// that appear in root.json as x509 certificates) and carry the role they sign for and,
// for targets/snapshot keys, the GUN.
//
// Implementations: TrustDirKeyStore (Notary's and Docker's ~/.docker/trust/private layout,
// encrypted PEM files) and MemoryKeyStore (process memory, for tests and servers that hold
// keys only transiently). Both pass the same conformance suite (keys/tests/keystore_test.cpp).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "keys/key.h"
#include "keys/keyfile.h"
#include "keys/passphrase.h"

namespace docket::keys {

// Longest role or GUN accepted in a key store (Notary's GUN limit is 255 too).
inline constexpr std::size_t kMaxRoleBytes = 255;
inline constexpr std::size_t kMaxGunBytes = 255;
// Largest key file read.
inline constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;

// Validates a role name: root, targets, snapshot, timestamp or a delegation
// ("targets/releases"); letters, digits, '-', '_', '.', '/' only, no empty or dot-dot
// segments. Error: Fault::user, "usage".
Status validate_role(std::string_view role);
// A GUN: 1..255 printable ASCII characters, no whitespace.
Status validate_gun(std::string_view gun);
// 64 lower-case hex characters. Guards file names built from IDs.
Status validate_key_id(std::string_view id, Fault fault = Fault::user);
// Whether a key for `role` records a GUN (Notary: only targets and snapshot keys do).
bool role_has_gun(std::string_view role);

struct KeyInfo {
  std::string id;  // canonical key ID
  std::string role;
  std::string gun;       // "" for root and delegation keys
  std::string location;  // where the key lives ("/home/me/.docker/trust/private", "memory")
};

struct StoredKey {
  PrivateKey key;
  std::string role;
  std::string gun;
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;

  // Where keys live, for listings and messages.
  virtual std::string location() const = 0;
  // Stores `key` for `role` (and `gun`, optional, where role_has_gun(role); ignored otherwise)
  // under its canonical ID, which is returned. A key already stored: Error{user, "key_exists"}.
  virtual Result<std::string> add(const PrivateKey& key, std::string_view role,
                                  std::string_view gun) = 0;
  // The key with this ID; Error{user, "not_found"} if there is none.
  virtual Result<StoredKey> get(std::string_view id) = 0;
  // Every key, sorted by role then GUN then ID, without decrypting anything.
  virtual Result<std::vector<KeyInfo>> list() = 0;
  virtual Status remove(std::string_view id) = 0;
  // The key as one PEM block `notary key import` accepts: ENCRYPTED PRIVATE KEY with
  // "path: <id>", "role" and (targets/snapshot) "gun" headers.
  virtual Result<std::string> export_pem(std::string_view id) = 0;

  // Imports every private key block of `pem_text` (encrypted or not, with or without
  // role/gun/path headers, as `notary key export` and `openssl` write them). Blocks
  // without a role header get `fallback_role`; targets/snapshot keys without a gun
  // header get `fallback_gun`. An encrypted block is decrypted with the passphrase for
  // its role and stored re-encrypted. Returns the imported keys.
  Result<std::vector<KeyInfo>> import_pem(std::string_view pem_text, std::string_view fallback_role,
                                          std::string_view fallback_gun);

  // Keys in the store for `role` (and `gun` if non-empty).
  Result<std::vector<KeyInfo>> find(std::string_view role, std::string_view gun = {});

 protected:
  // The passphrase source import and export use.
  virtual PassphraseSource* passphrases() = 0;
};

struct TrustDirOptions {
  // PBKDF2 iterations for newly written key files (see keys/keyfile.h).
  int pbkdf2_iterations = kDefaultPbkdf2Iterations;
};

// <trust_dir>/private/<id>.key, files 0600, directories 0700, written atomically.
class TrustDirKeyStore final : public KeyStore {
 public:
  // Creates <trust_dir>/private (0700) on first write, not before.
  TrustDirKeyStore(std::filesystem::path trust_dir, PassphraseSource& passphrases,
                   TrustDirOptions options = {});
  std::string location() const override;
  Result<std::string> add(const PrivateKey& key, std::string_view role,
                          std::string_view gun) override;
  Result<StoredKey> get(std::string_view id) override;
  Result<std::vector<KeyInfo>> list() override;
  Status remove(std::string_view id) override;
  Result<std::string> export_pem(std::string_view id) override;

  std::filesystem::path key_path(std::string_view id) const;

 protected:
  PassphraseSource* passphrases() override { return &passphrases_; }

 private:
  Result<PemBlock> read_block(std::string_view id);
  std::filesystem::path dir_;
  PassphraseSource& passphrases_;
  TrustDirOptions options_;
};

// Keys in process memory (unencrypted PKCS#8). export_pem() encrypts with a passphrase
// from `passphrases` (asked with create = true).
class MemoryKeyStore final : public KeyStore {
 public:
  explicit MemoryKeyStore(PassphraseSource* passphrases = nullptr,
                          int export_pbkdf2_iterations = kDefaultPbkdf2Iterations)
      : passphrases_(passphrases), export_iterations_(export_pbkdf2_iterations) {}
  std::string location() const override { return "memory"; }
  Result<std::string> add(const PrivateKey& key, std::string_view role,
                          std::string_view gun) override;
  Result<StoredKey> get(std::string_view id) override;
  Result<std::vector<KeyInfo>> list() override;
  Status remove(std::string_view id) override;
  Result<std::string> export_pem(std::string_view id) override;

 protected:
  PassphraseSource* passphrases() override { return passphrases_; }

 private:
  struct Entry {
    PrivateKey key;
    std::string role;
    std::string gun;
  };
  std::mutex mu_;
  std::map<std::string, Entry> keys_;
  PassphraseSource* passphrases_;
  int export_iterations_;
};

// Asks `source` for the passphrase of an existing key and decrypts `der` with it, asking
// again after a wrong passphrase up to kMaxPassphraseAttempts times.
Result<PrivateKey> decrypt_with(PassphraseSource& source, std::string_view der,
                                PassphraseRequest req, Fault fault = Fault::local);

}  // namespace docket::keys
