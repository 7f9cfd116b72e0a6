// Compact JWS (RFC 7515) with ES256 and RS256 only, as the Docker token spec uses them.
// Signing keys carry a Docker libtrust key ID ("kid") and optionally a certificate chain
// ("x5c"); verification trusts a PEM certificate bundle (distribution's "rootcertbundle"):
// a token is accepted when its x5c chain leads to a bundle certificate, or — without x5c —
// when its kid names the public key of a bundle certificate.
//
// Refused always: alg "none", HMAC algorithms (alg confusion), an alg that does not match the
// key type, a "crit" header, non-canonical base64url, duplicate JSON keys, tokens over
// kMaxJwtBytes.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "common/time.h"

namespace docket::net {

inline constexpr std::size_t kMaxJwtBytes = 64 * 1024;
inline constexpr std::size_t kMinRsaBits = 2048;

enum class JwsAlg { es256, rs256 };
std::string_view jws_alg_name(JwsAlg a);  // "ES256", "RS256"

// Docker libtrust key ID of a public key: SHA-256 of the DER SubjectPublicKeyInfo, first 240
// bits, base32 without padding, in 12 colon-separated groups of 4 ("ABCD:EFGH:...").
// Input: PEM public key, private key or certificate.
Result<std::string> libtrust_key_id(std::string_view pem);

class JwsSigningKey {
 public:
  // PEM private key: EC P-256 (ES256) or RSA >= 2048 bits (RS256). With a certificate
  // chain (PEM, leaf first, the leaf matching the key), tokens carry it in "x5c".
  static Result<JwsSigningKey> from_pem(std::string_view key_pem,
                                        std::string_view cert_chain_pem = "");
  static Result<JwsSigningKey> load(const std::filesystem::path& key_file,
                                    const std::optional<std::filesystem::path>& cert_file = {});

  JwsAlg alg() const;
  const std::string& key_id() const;
  const std::vector<std::string>& x5c() const;  // base64 DER certificates, leaf first

  // Compact serialisation of `claims` with header {"alg","typ":"JWT","kid"[,"x5c"]}.
  Result<std::string> sign(const Json& claims, bool include_x5c = true) const;
  // Signs with `header` taken as given (no checks): for tests that forge tokens and for tools.
  Result<std::string> sign_with_header(const Json& header, const Json& claims) const;
  // The public key, PEM SPKI (what a verifier's trust needs without a certificate).
  std::string public_key_pem() const;

  struct State;

 private:
  std::shared_ptr<const State> s_;
};

struct VerifiedJws;
class JwsTrust;
Result<VerifiedJws> verify_jws(std::string_view token, const JwsTrust& trust, TimePoint now);

class JwsTrust {
 public:
  // Every certificate in the PEM bundle is a trust anchor for x5c chains and its public key
  // is trusted under its libtrust kid. Error{user, "config"} for an empty/bad bundle.
  static Result<JwsTrust> from_pem_bundle(std::string_view pem);
  static Result<JwsTrust> load(const std::filesystem::path& bundle);
  // Trusts a bare public key (PEM SPKI) under its libtrust kid (no x5c anchoring).
  Status add_public_key(std::string_view pem);
  std::vector<std::string> key_ids() const;

  struct State;

 private:
  friend Result<VerifiedJws> verify_jws(std::string_view, const JwsTrust&, TimePoint);
  std::shared_ptr<State> s_;
};

struct VerifiedJws {
  Json header;
  Json claims;
  std::string key_id;  // kid of the key that verified (libtrust form)
};

// Signature verification only (claims are the caller's business): Error{remote,
// "invalid_token"} naming what is wrong. `now` is used to check x5c certificate validity.
Result<VerifiedJws> verify_jws(std::string_view token, const JwsTrust& trust, TimePoint now);

}  // namespace docket::net
