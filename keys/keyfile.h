// Private key files as Notary and Docker Content Trust keep them in the trust directory:
//
//   -----BEGIN ENCRYPTED PRIVATE KEY-----
//   gun: example.com/app        (targets and snapshot keys only)
//   role: targets
//
//   <base64 of PKCS#8 EncryptedPrivateKeyInfo>
//   -----END ENCRYPTED PRIVATE KEY-----
//
// Encryption is PKCS#5 v2 PBES2: PBKDF2 with HMAC-SHA1 (the default PRF, written without a
// PRF parameter, because Notary ignores the PRF field and always derives with SHA-1), an
// 8-byte random salt, and AES-256-CBC. Notary writes 2048 PBKDF2 iterations; docket writes
// kDefaultPbkdf2Iterations, which Notary reads back fine (it takes the count from the
// file). Reading accepts any PBES2/PBKDF2 parameters OpenSSL supports (HMAC-SHA1/SHA-2
// PRFs, AES-128/192/256-CBC, 3DES) up to kMaxPbkdf2Iterations.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "keys/key.h"
#include "keys/pem.h"

namespace docket::keys {

// What docket writes. About 0.1 s of PBKDF2-HMAC-SHA1 on one core of a 2020s CPU: slow for
// a guesser, tolerable when a command decrypts two or three keys.
inline constexpr int kDefaultPbkdf2Iterations = 200'000;
// What Notary 0.7 writes (tuf/utils/pkcs8.go); the floor accepted when reading.
inline constexpr int kNotaryPbkdf2Iterations = 2048;
inline constexpr int kMinPbkdf2Iterations = 1000;
// Above this a file is refused before any work: it would stall every command.
inline constexpr int kMaxPbkdf2Iterations = 10'000'000;
// Longest passphrase accepted.
inline constexpr std::size_t kMaxPassphraseBytes = 1024;

// PKCS#8 EncryptedPrivateKeyInfo (DER) of `key` under `passphrase`, PBES2 as above. The
// inner PKCS#8 is to_notary_pkcs8_der(), so Notary can read every key type.
Result<std::string> encrypt_pkcs8(const PrivateKey& key, std::string_view passphrase,
                                  int iterations = kDefaultPbkdf2Iterations);
// Decrypts an EncryptedPrivateKeyInfo. A wrong passphrase (or a corrupted ciphertext, which
// cannot be told apart) is Error{Fault::user, "passphrase"}; a structurally bad or
// unsupported file is Error{fault, "bad_key"}.
Result<PrivateKey> decrypt_pkcs8(std::string_view der, std::string_view passphrase,
                                 Fault fault = Fault::local);
// The PBKDF2 iteration count of an EncryptedPrivateKeyInfo, or bad_key.
Result<int> pkcs8_iterations(std::string_view der, Fault fault = Fault::local);

// PEM types of private keys docket reads.
inline constexpr std::string_view kEncryptedKeyPemType = "ENCRYPTED PRIVATE KEY";
inline constexpr std::string_view kPrivateKeyPemType = "PRIVATE KEY";         // PKCS#8
inline constexpr std::string_view kEcPrivateKeyPemType = "EC PRIVATE KEY";    // SEC1
inline constexpr std::string_view kRsaPrivateKeyPemType = "RSA PRIVATE KEY";  // PKCS#1

bool is_private_key_pem_type(std::string_view type);
// Parses an unencrypted private key block of any type above.
Result<PrivateKey> private_key_from_block(const PemBlock& block, Fault fault = Fault::local);

}  // namespace docket::keys
