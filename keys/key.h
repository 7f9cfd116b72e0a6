// Keys and signatures in both metadata dialects.
//
// Notary dialect: {"keytype":T,"keyval":{"private":null,"public":"<base64>"}}
//   keytype ed25519 (32 raw bytes; method "eddsa"), ecdsa (DER SPKI P-256; method "ecdsa",
//   signature raw r||s, 64 bytes, over SHA-256), ecdsa-x509 (PEM certificate text; method
//   "ecdsa"), rsa (DER SPKI; methods "rsapss" = PSS/SHA-256/MGF1-SHA256, "rsapkcs1v15",
//   "pycrypto-pkcs#1 pss"), rsa-x509 (PEM certificate; same methods). Methods are matched
//   case-insensitively. Signatures travel base64 in metadata.
// TUF-spec dialect: {"keytype":T,"scheme":S,"keyval":{"public":"..."}} (unknown fields,
//   e.g. keyid_hash_algorithms, are kept and ignored): ed25519/ed25519 (64 hex chars),
//   ecdsa|ecdsa-sha2-nistp256 / ecdsa-sha2-nistp256|384|521 (PEM SPKI; DER ECDSA-Sig),
//   rsa/rsassa-pss-sha256 (PEM SPKI; PSS with any salt length), rsa/rsa-pkcs1v15-sha256.
//   Signatures travel hex in metadata.
//
// This layer works on raw signature bytes; hex/base64 is the metadata layer's business.
// Verification never throws: a key or signature it cannot use simply does not verify.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "common/time.h"

namespace docket::keys {

enum class Dialect { notary, tuf };

enum class Algorithm { ed25519, ecdsa_p256, rsa };

std::string_view algorithm_name(Algorithm a);  // "ed25519", "ecdsa", "rsa"
// Accepts the names above (case-insensitive), plus "ecdsa-p256" / "p256".
Result<Algorithm> parse_algorithm(std::string_view name, Fault fault = Fault::user);

// RSA moduli accepted in public keys and for generation. Smaller keys are too weak; larger
// ones make verification a denial-of-service vector.
inline constexpr int kMinRsaBits = 2048;
inline constexpr int kMaxRsaBits = 8192;
inline constexpr int kDefaultRsaBits = 3072;
// Signatures longer than this never verify (the largest legitimate one is an 8192-bit
// RSA signature, 1024 bytes).
inline constexpr std::size_t kMaxSignatureBytes = 1024;
// Largest base64/hex/PEM "public" value accepted in a key object (a PEM certificate of an
// 8192-bit RSA key is about 3 KiB; x509 extensions can add some).
inline constexpr std::size_t kMaxPublicValueBytes = 32 * 1024;

class PublicKey {
 public:
  // Parses a key object as found in root.json "keys" or delegations "keys". The dialect is
  // told by the presence of "scheme" (TUF) or its absence (Notary). Errors are Fault given
  // (remote for fetched metadata) with code "bad_key" and a message naming what is wrong.
  static Result<PublicKey> from_json(const Json& key, Fault fault = Fault::remote);

  Dialect dialect() const;
  const std::string& keytype() const;  // as written ("ecdsa-x509", "ed25519", ...)
  const std::string& scheme() const;   // TUF scheme, or "" for Notary keys
  // The key object exactly as parsed (unknown fields included); serialise with
  // canonical_json() to write it back.
  const Json& json() const;

  // Notary's key ID: hex SHA-256 of the canonical JSON of the key object (for Notary keys
  // {"keytype","keyval":{"private":null,"public"}}; for TUF keys the whole object as parsed).
  std::string key_id() const;
  // For x509 keys, the ID of the bare public key in the certificate (keytype ecdsa / rsa,
  // public = base64 DER SPKI), which Notary uses for private key file names. Otherwise
  // equal to key_id().
  std::string canonical_key_id() const;

  // For x509 keys: the certificate's subject CN, validity window and whether it is a CA.
  bool is_x509() const;
  Result<std::string> certificate_common_name() const;
  Result<TimePoint> certificate_not_after() const;
  Result<TimePoint> certificate_not_before() const;
  Result<bool> certificate_is_ca() const;
  // The certificate itself, DER-encoded (x509 keys only).
  Result<std::string> certificate_der() const;
  // The CA certificates that followed the leaf when the key's PEM is a bundle, DER-encoded
  // in bundle order (empty for one certificate). They are untrusted: only a trust pin's CA
  // file makes anything a trust anchor.
  Result<std::vector<std::string>> certificate_chain_der() const;
  // Whether the certificate's own signature uses SHA-1 (RSA, ECDSA or DSA), which Notary
  // refuses in root certificates.
  Result<bool> certificate_signed_with_sha1() const;

  // Verifies `signature` (raw bytes) over `message` with signing method/scheme `method`.
  // For Notary keys `method` is the signature entry's "method"; for TUF keys pass the
  // key's scheme(). A method that does not fit the key type returns false.
  bool verify(std::string_view method, std::string_view message, std::string_view signature) const;

  // The bare public key: DER SubjectPublicKeyInfo (ed25519: the 32 raw bytes). For x509
  // keys, the certificate's key.
  std::string public_der() const;
  // The kind of the underlying key, whatever the keytype (ecdsa_p256 stands for any ECDSA
  // key here; bits() tells the curve: 256, 384 or 521).
  Algorithm algorithm() const;
  // The key's size in bits (256 for ed25519 and P-256, the modulus size for RSA).
  int bits() const;

  struct Impl;
  explicit PublicKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

class PrivateKey {
 public:
  // rsa_bits applies to Algorithm::rsa only (kMinRsaBits..kMaxRsaBits, multiple of 8).
  static Result<PrivateKey> generate(Algorithm a, int rsa_bits = kDefaultRsaBits);
  // Unencrypted PKCS#8 DER (for the key store) and back. Ed25519 keys use the RFC 8410
  // PKCS#8 encoding. Reading also accepts Notary's ed25519 encoding (below).
  static Result<PrivateKey> from_pkcs8_der(std::string_view der, Fault fault = Fault::local);
  std::string to_pkcs8_der() const;
  // PKCS#8 as Notary's key files hold it: ed25519 under OID 1.3.6.1.4.1.11591.15.1 with the
  // 96 bytes public, seed, public as the private key (Notary cannot read RFC 8410 keys);
  // ECDSA and RSA exactly as to_pkcs8_der().
  std::string to_notary_pkcs8_der() const;

  Algorithm algorithm() const;
  // Signs `message`: Notary methods (eddsa, ecdsa raw r||s, rsapss) for Dialect::notary;
  // TUF schemes (ed25519, ecdsa-sha2-nistp256 DER, rsassa-pss-sha256 salt 32) for tuf.
  Result<std::string> sign(std::string_view message, Dialect d = Dialect::notary) const;
  // The method (Notary) or scheme (TUF) sign() uses for this key in dialect d.
  std::string method(Dialect d = Dialect::notary) const;

  // The public half as a metadata key object: Notary ed25519/ecdsa/rsa, or TUF
  // ed25519/ecdsa/rsa with scheme.
  PublicKey public_key(Dialect d = Dialect::notary) const;
  // A self-signed certificate as Notary's root keys use (keytype ecdsa-x509 / rsa-x509):
  // CN = common_name, valid from now for `validity`, KU digitalSignature+keyEncipherment,
  // EKU codeSigning, not a CA. Ed25519 keys cannot be wrapped (error).
  Result<PublicKey> self_signed_certificate(std::string_view common_name,
                                            std::chrono::seconds validity) const;

  struct Impl;
  explicit PrivateKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

}  // namespace docket::keys
