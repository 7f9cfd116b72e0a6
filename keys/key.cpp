#include "keys/key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <optional>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/file.h"
#include "common/openssl_errors.h"
#include "keys/pem.h"

namespace docket::keys {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct P8Free {
  void operator()(PKCS8_PRIV_KEY_INFO* p) const { PKCS8_PRIV_KEY_INFO_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using P8Ptr = std::unique_ptr<PKCS8_PRIV_KEY_INFO, P8Free>;

constexpr std::size_t kEd25519PublicBytes = 32;
constexpr std::size_t kEd25519SignatureBytes = 64;

// The OpenSSL error queue as text, emptied so the next operation starts clean.
std::string openssl_errors() {
  std::string out = take_openssl_errors();
  return out.empty() ? "unknown OpenSSL error" : out;
}

std::unexpected<Error> openssl_error(std::string_view what) {
  return make_error(Fault::bug, "openssl", std::string(what) + ": " + openssl_errors());
}

void init_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) raise(Fault::local, "openssl", "libsodium failed to initialise");
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Fetched once: the implicit fetch behind EVP_sha256() costs a lock per call.
const EVP_MD* md_by_name(const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) raise(Fault::bug, "openssl", std::string("no digest ") + name);
  return md;
}
const EVP_MD* md_sha256() {
  static const EVP_MD* md = md_by_name("SHA256");
  return md;
}
const EVP_MD* md_sha384() {
  static const EVP_MD* md = md_by_name("SHA384");
  return md;
}
const EVP_MD* md_sha512() {
  static const EVP_MD* md = md_by_name("SHA512");
  return md;
}

std::string to_der_spki(EVP_PKEY* k) {
  int n = i2d_PUBKEY(k, nullptr);
  if (n <= 0) return {};
  std::string out(static_cast<std::size_t>(n), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_PUBKEY(k, &p);
  return out;
}

// "prime256v1" etc., or "" if not an EC key.
std::string ec_group_name(EVP_PKEY* k) {
  char name[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1)
    return {};
  return std::string(name, len);
}

// Notary's key ID of a bare key: {"keytype":T,"keyval":{"private":null,"public":b64}}.
std::string notary_key_id(std::string_view keytype, std::string_view public_b64) {
  // Written by hand: this is exactly the canonical form, with no allocation of a tree.
  std::string canon = "{\"keytype\":\"" + std::string(keytype) +
                      "\",\"keyval\":{\"private\":null,\"public\":\"" + std::string(public_b64) +
                      "\"}}";
  return sha256_hex(canon);
}

struct ParsedKey {
  Algorithm alg = Algorithm::ed25519;
  int bits = 0;
  std::string ed25519_raw;
  std::shared_ptr<EVP_PKEY> pkey;
  std::shared_ptr<X509> cert;
  // The CA certificates that followed the leaf in a bundle (x509 keytypes), in order.
  std::vector<std::shared_ptr<X509>> chain;
  std::string spki;  // DER SPKI, or the 32 raw bytes for ed25519
};

// Accepts EC keys on P-256/384/521 and RSA keys within the size limits.
// `spki`: the key's DER SPKI if the caller already has it exactly as i2d_PUBKEY would write
// it (else it is encoded here).
Result<ParsedKey> classify(EVP_PKEY* raw, std::string_view what, Fault fault,
                           std::string spki = {}) {
  auto bad = [&](std::string msg) {
    return make_error(fault, "bad_key", std::string(what) + ": " + msg);
  };
  ParsedKey out;
  int id = EVP_PKEY_get_base_id(raw);
  if (id == EVP_PKEY_EC) {
    std::string group = ec_group_name(raw);
    if (group == "prime256v1") {
      out.bits = 256;
    } else if (group == "secp384r1") {
      out.bits = 384;
    } else if (group == "secp521r1") {
      out.bits = 521;
    } else {
      return bad("unsupported elliptic curve \"" + group + "\" (P-256, P-384, P-521 only)");
    }
    out.alg = Algorithm::ecdsa_p256;
  } else if (id == EVP_PKEY_RSA) {
    out.bits = EVP_PKEY_get_bits(raw);
    if (out.bits < kMinRsaBits || out.bits > kMaxRsaBits)
      return bad("RSA key of " + std::to_string(out.bits) + " bits is outside " +
                 std::to_string(kMinRsaBits) + ".." + std::to_string(kMaxRsaBits));
    out.alg = Algorithm::rsa;
  } else {
    return bad("unsupported public key algorithm (ECDSA or RSA expected)");
  }
  out.spki = spki.empty() ? to_der_spki(raw) : std::move(spki);
  if (out.spki.empty()) return bad("cannot re-encode the public key: " + openssl_errors());
  EVP_PKEY_up_ref(raw);
  out.pkey = std::shared_ptr<EVP_PKEY>(raw, PkeyFree{});
  return out;
}

// The exact DER of an EC SubjectPublicKeyInfo on a named curve with an uncompressed point
// (the form every Notary and TUF implementation writes), up to the point's 0x04 byte.
struct EcSpkiForm {
  std::string_view prefix;
  const char* group;
  int bits;
};
constexpr std::string_view kP256SpkiPrefix{
    "\x30\x59\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d"
    "\x03\x01\x07\x03\x42\x00\x04",
    27};
constexpr std::string_view kP384SpkiPrefix{
    "\x30\x76\x30\x10\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x05\x2b\x81\x04\x00\x22"
    "\x03\x62\x00\x04",
    24};
constexpr std::string_view kP521SpkiPrefix{
    "\x30\x81\x9b\x30\x10\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x05\x2b\x81\x04\x00"
    "\x23\x03\x81\x86\x00\x04",
    26};
constexpr EcSpkiForm kEcSpkiForms[] = {{kP256SpkiPrefix, "prime256v1", 256},
                                       {kP384SpkiPrefix, "secp384r1", 384},
                                       {kP521SpkiPrefix, "secp521r1", 521}};

// The point's byte length for a curve: 0x04 || X || Y.
constexpr std::size_t ec_point_bytes(int bits) {
  return 1 + 2 * ((static_cast<std::size_t>(bits) + 7) / 8);
}

// EC keys in exactly that form are imported from their curve and point (EVP_PKEY_fromdata)
// instead of through OpenSSL 3's decoder and encoder, which cost ~0.2 ms per key, more than
// a signature check. The checks are the same: the import rejects a point that is not on the
// curve, as d2i_PUBKEY does, and `der` is what i2d_PUBKEY would write back for such a key.
// nullopt: not in that form (the caller takes the general path).
std::optional<ParsedKey> canonical_ec_spki(std::string_view der) {
  for (const auto& f : kEcSpkiForms) {
    if (der.size() != f.prefix.size() - 1 + ec_point_bytes(f.bits) || !der.starts_with(f.prefix))
      continue;
    std::string_view point = der.substr(f.prefix.size() - 1);
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr), &EVP_PKEY_CTX_free);
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
      ERR_clear_error();
      return std::nullopt;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(f.group), 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<char*>(point.data()),
                                          point.size()),
        OSSL_PARAM_construct_end()};
    EVP_PKEY* raw = nullptr;
    if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1 || raw == nullptr) {
      ERR_clear_error();
      return std::nullopt;  // e.g. not on the curve: the general path gives the error
    }
    ParsedKey out;
    out.alg = Algorithm::ecdsa_p256;
    out.bits = f.bits;
    out.pkey = std::shared_ptr<EVP_PKEY>(raw, PkeyFree{});
    out.spki = std::string(der);
    return out;
  }
  return std::nullopt;
}

bool is_canonical_ec_spki(std::string_view der) {
  for (const auto& f : kEcSpkiForms)
    if (der.size() == f.prefix.size() - 1 + ec_point_bytes(f.bits) && der.starts_with(f.prefix))
      return true;
  return false;
}

Result<ParsedKey> parse_spki_der(std::string_view der, std::string_view what, Fault fault) {
  if (auto k = canonical_ec_spki(der)) return std::move(*k);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  PkeyPtr k(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!k || p != reinterpret_cast<const unsigned char*>(der.data() + der.size())) {
    ERR_clear_error();
    return make_error(
        fault, "bad_key",
        std::string(what) + ": not a DER SubjectPublicKeyInfo" + (k ? " (trailing bytes)" : ""));
  }
  return classify(k.get(), what, fault);
}

Result<X509Ptr> parse_cert_der(const PemBlock& block, std::string_view what, Fault fault) {
  if (block.type != "CERTIFICATE")
    return make_error(
        fault, "bad_key",
        std::string(what) + ": PEM block is \"" + block.type + "\", expected \"CERTIFICATE\"");
  const auto* p = reinterpret_cast<const unsigned char*>(block.bytes.data());
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(block.bytes.size())));
  if (!cert ||
      p != reinterpret_cast<const unsigned char*>(block.bytes.data() + block.bytes.size())) {
    ERR_clear_error();
    return make_error(fault, "bad_key", std::string(what) + ": malformed X.509 certificate");
  }
  return cert;
}

// One certificate, or a bundle as Notary writes for a CA-issued root: the leaf first, then
// the CA certificates that lead towards a trust anchor. The leaf is the key; the rest is
// only ever an untrusted chain for trust pinning (verifier/trust.cpp). Notary picks the one
// non-CA certificate wherever it is; we require it first, which is how every tool writes a
// chain, so signature checks (Notary's use the first certificate) and pinning agree.
Result<ParsedKey> parse_cert_pem(std::string_view pem, std::string_view what, Fault fault) {
  auto blocks = parse_pem(pem, what, fault);
  if (!blocks) return std::unexpected(blocks.error());
  if (blocks->empty())
    return make_error(fault, "bad_key", std::string(what) + ": no PEM certificate");
  auto leaf = parse_cert_der(blocks->front(), what, fault);
  if (!leaf) return std::unexpected(leaf.error());
  X509Ptr cert = std::move(*leaf);
  std::vector<std::shared_ptr<X509>> chain;
  for (std::size_t i = 1; i < blocks->size(); ++i) {
    const std::string where = std::string(what) + ": certificate " + std::to_string(i + 1) +
                              " of " + std::to_string(blocks->size());
    auto c = parse_cert_der((*blocks)[i], where, fault);
    if (!c) return std::unexpected(c.error());
    const uint32_t flags = X509_get_extension_flags(c->get());
    ERR_clear_error();
    if ((flags & EXFLAG_INVALID) || !(flags & EXFLAG_CA))
      return make_error(fault, "bad_key",
                        where +
                            " is not a CA certificate; a bundle is the leaf followed by "
                            "the CA certificates that issued it");
    chain.emplace_back(c->release(), X509Free{});
  }
  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  if (pub == nullptr) {
    ERR_clear_error();
    return make_error(fault, "bad_key",
                      std::string(what) + ": certificate public key cannot be decoded");
  }
  // The certificate's SPKI as it holds it, which for a key in the canonical EC form is what
  // the encoder would write; anything else is re-encoded by classify().
  std::string spki;
  if (int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), nullptr); n > 0) {
    spki.resize(static_cast<std::size_t>(n));
    auto* q = reinterpret_cast<unsigned char*>(spki.data());
    if (i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &q) != n || !is_canonical_ec_spki(spki))
      spki.clear();
  }
  ERR_clear_error();
  auto parsed = classify(pub, what, fault, std::move(spki));
  if (!parsed) return parsed;
  parsed->cert = std::shared_ptr<X509>(cert.release(), X509Free{});
  parsed->chain = std::move(chain);
  return parsed;
}

Result<ParsedKey> parse_spki_pem(std::string_view pem, std::string_view what, Fault fault) {
  auto block = parse_single_pem(pem, what, fault);
  if (!block) return std::unexpected(block.error());
  if (block->type != "PUBLIC KEY")
    return make_error(
        fault, "bad_key",
        std::string(what) + ": PEM block is \"" + block->type + "\", expected \"PUBLIC KEY\"");
  return parse_spki_der(block->bytes, what, fault);
}

Result<std::string> ed25519_from_bytes(std::string_view raw, std::string_view what, Fault fault) {
  if (raw.size() != kEd25519PublicBytes)
    return make_error(fault, "bad_key",
                      std::string(what) + ": ed25519 public key is " + std::to_string(raw.size()) +
                          " bytes, expected 32");
  return std::string(raw);
}

// --- signature primitives (false on any failure; the error queue is cleared) ---

bool ed25519_verify(std::string_view pub, std::string_view msg, std::string_view sig) {
  if (sig.size() != kEd25519SignatureBytes || pub.size() != kEd25519PublicBytes) return false;
  init_sodium();
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                     reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                                     reinterpret_cast<const unsigned char*>(pub.data())) == 0;
}

enum class RsaPadding { none, pss, pkcs1 };

bool evp_verify(EVP_PKEY* k, const EVP_MD* md, RsaPadding pad, std::string_view msg,
                std::string_view sig) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = ctx && EVP_DigestVerifyInit_ex(ctx.get(), &pctx, EVP_MD_get0_name(md), nullptr, nullptr,
                                           k, nullptr) == 1;
  if (ok && pad == RsaPadding::pss) {
    // Any salt length verifies: Notary signs with salt = hash length, securesystemslib
    // has used both the hash length and the maximum.
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1;
  } else if (ok && pad == RsaPadding::pkcs1) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
  }
  ok = ok &&
       EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                        reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

// Raw r||s (each half the curve's byte length, big-endian) to DER ECDSA-Sig-Value.
std::string ecdsa_raw_to_der(std::string_view raw) {
  std::size_t half = raw.size() / 2;
  EcdsaSigPtr s(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(half),
                        nullptr);
  BIGNUM* ss = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data() + half),
                         static_cast<int>(half), nullptr);
  if (!s || !r || !ss) {
    BN_free(r);
    BN_free(ss);
    return {};
  }
  ECDSA_SIG_set0(s.get(), r, ss);
  int n = i2d_ECDSA_SIG(s.get(), nullptr);
  if (n <= 0) return {};
  std::string der(static_cast<std::size_t>(n), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_ECDSA_SIG(s.get(), &p);
  return der;
}

std::size_t ec_field_bytes(int bits) {
  return static_cast<std::size_t>((bits + 7) / 8);
}

struct TufScheme {
  const char* name;
  Algorithm alg;
  int ec_bits;  // required curve for ECDSA schemes
  const EVP_MD* (*md)();
  RsaPadding pad;
};

constexpr TufScheme kTufSchemes[] = {
    {"ed25519", Algorithm::ed25519, 0, nullptr, RsaPadding::none},
    {"ecdsa-sha2-nistp256", Algorithm::ecdsa_p256, 256, md_sha256, RsaPadding::none},
    {"ecdsa-sha2-nistp384", Algorithm::ecdsa_p256, 384, md_sha384, RsaPadding::none},
    {"ecdsa-sha2-nistp521", Algorithm::ecdsa_p256, 521, md_sha512, RsaPadding::none},
    {"rsassa-pss-sha256", Algorithm::rsa, 0, md_sha256, RsaPadding::pss},
    {"rsassa-pss-sha384", Algorithm::rsa, 0, md_sha384, RsaPadding::pss},
    {"rsassa-pss-sha512", Algorithm::rsa, 0, md_sha512, RsaPadding::pss},
    {"rsa-pkcs1v15-sha256", Algorithm::rsa, 0, md_sha256, RsaPadding::pkcs1},
    {"rsa-pkcs1v15-sha384", Algorithm::rsa, 0, md_sha384, RsaPadding::pkcs1},
    {"rsa-pkcs1v15-sha512", Algorithm::rsa, 0, md_sha512, RsaPadding::pkcs1},
};

const TufScheme* find_tuf_scheme(std::string_view name) {
  std::string l = lower(name);
  for (const auto& s : kTufSchemes)
    if (l == s.name) return &s;
  return nullptr;
}

TimePoint asn1_time_to_timepoint(const ASN1_TIME* t, bool* ok) {
  std::tm tm{};
  *ok = t != nullptr && ASN1_TIME_to_tm(t, &tm) == 1;
  if (!*ok) return {};
  return TimePoint(std::chrono::seconds(timegm(&tm)));
}

}  // namespace

std::string_view algorithm_name(Algorithm a) {
  switch (a) {
    case Algorithm::ed25519:
      return "ed25519";
    case Algorithm::ecdsa_p256:
      return "ecdsa";
    case Algorithm::rsa:
      return "rsa";
  }
  return "unknown";
}

Result<Algorithm> parse_algorithm(std::string_view name, Fault fault) {
  std::string l = lower(name);
  if (l == "ed25519") return Algorithm::ed25519;
  if (l == "ecdsa" || l == "ecdsa-p256" || l == "p256" || l == "p-256")
    return Algorithm::ecdsa_p256;
  if (l == "rsa") return Algorithm::rsa;
  return make_error(
      fault, "usage",
      "unknown key algorithm \"" + std::string(name) + "\" (expected ed25519, ecdsa or rsa)");
}

// ---------------------------------------------------------------------------------------
// PublicKey

struct PublicKey::Impl {
  Dialect dialect = Dialect::notary;
  std::string keytype;
  std::string scheme;
  Json json;
  ParsedKey key;
  std::string id;
  std::string canonical_id;
};

Result<PublicKey> PublicKey::from_json(const Json& key, Fault fault) {
  const std::string what = "key object";
  auto bad = [&](std::string msg) { return make_error(fault, "bad_key", what + ": " + msg); };
  if (!key.is_object()) return bad("not a JSON object");
  auto as_bad_key = [&](Error e) {
    e.code = "bad_key";
    return std::unexpected(std::move(e));
  };
  auto keytype = json_string(key, "keytype", what, fault);
  if (!keytype) return as_bad_key(keytype.error());
  auto keyval = json_object(key, "keyval", what, fault);
  if (!keyval) return as_bad_key(keyval.error());
  auto pub = json_string(**keyval, "public", what + " keyval", fault);
  if (!pub) return as_bad_key(pub.error());
  if (pub->empty()) return bad("keyval.public is empty");
  if (pub->size() > kMaxPublicValueBytes)
    return bad("keyval.public is " + std::to_string(pub->size()) + " bytes, over the limit of " +
               std::to_string(kMaxPublicValueBytes));
  // Public metadata must never carry private key material.
  if (auto it = (*keyval)->find("private"); it != (*keyval)->end()) {
    bool empty = it->is_null() || (it->is_string() && it->get_ref<const std::string&>().empty());
    if (!empty)
      return bad("keyval.private is set: a public key object must not hold a private key");
  }

  auto impl = std::make_shared<Impl>();
  impl->keytype = *keytype;
  impl->json = key;
  const std::string& kt = *keytype;
  const std::string kwhat = what + " (keytype " + kt + ")";

  if (auto it = key.find("scheme"); it != key.end()) {
    // TUF-spec dialect.
    impl->dialect = Dialect::tuf;
    if (!it->is_string()) return bad("\"scheme\" is not a string");
    impl->scheme = it->get<std::string>();
    const TufScheme* scheme = find_tuf_scheme(impl->scheme);
    if (scheme == nullptr) return bad("unsupported signature scheme \"" + impl->scheme + "\"");
    if (kt == "ed25519") {
      if (scheme->alg != Algorithm::ed25519)
        return bad("scheme \"" + impl->scheme + "\" does not fit keytype ed25519");
      auto raw = hex_decode(*pub);
      if (!raw) return bad("ed25519 keyval.public is not hex");
      auto k = ed25519_from_bytes(*raw, kwhat, fault);
      if (!k) return std::unexpected(k.error());
      impl->key.alg = Algorithm::ed25519;
      impl->key.bits = 256;
      impl->key.ed25519_raw = *k;
      impl->key.spki = *k;
    } else if (kt == "ecdsa" || kt == "ecdsa-sha2-nistp256" || kt == "ecdsa-sha2-nistp384" ||
               kt == "ecdsa-sha2-nistp521") {
      if (scheme->alg != Algorithm::ecdsa_p256)
        return bad("scheme \"" + impl->scheme + "\" does not fit keytype " + kt);
      if (kt != "ecdsa" && lower(kt) != lower(impl->scheme))
        return bad("keytype " + kt + " and scheme \"" + impl->scheme + "\" disagree");
      auto k = parse_spki_pem(*pub, kwhat, fault);
      if (!k) return std::unexpected(k.error());
      if (k->alg != Algorithm::ecdsa_p256 || k->bits != scheme->ec_bits)
        return bad("public key does not match scheme \"" + impl->scheme + "\"");
      impl->key = std::move(*k);
    } else if (kt == "rsa") {
      if (scheme->alg != Algorithm::rsa)
        return bad("scheme \"" + impl->scheme + "\" does not fit keytype rsa");
      auto k = parse_spki_pem(*pub, kwhat, fault);
      if (!k) return std::unexpected(k.error());
      if (k->alg != Algorithm::rsa) return bad("keytype rsa holds a non-RSA key");
      impl->key = std::move(*k);
    } else {
      return bad("unsupported keytype \"" + kt + "\"");
    }
    // TUF: the key ID is over the whole key object as written (spec §4.2 KEYID).
    auto canon = canonical_json(key, fault);
    if (!canon) return bad("has no canonical JSON form: " + canon.error().message);
    impl->id = sha256_hex(*canon);
    impl->canonical_id = impl->id;
  } else {
    // Notary dialect.
    impl->dialect = Dialect::notary;
    auto raw = base64_decode(*pub);
    if (!raw) return bad("keyval.public is not standard base64");
    if (kt == "ed25519") {
      auto k = ed25519_from_bytes(*raw, kwhat, fault);
      if (!k) return std::unexpected(k.error());
      impl->key.alg = Algorithm::ed25519;
      impl->key.bits = 256;
      impl->key.ed25519_raw = *k;
      impl->key.spki = *k;
    } else if (kt == "ecdsa" || kt == "rsa") {
      auto k = parse_spki_der(*raw, kwhat, fault);
      if (!k) return std::unexpected(k.error());
      if ((kt == "ecdsa") != (k->alg == Algorithm::ecdsa_p256))
        return bad("keytype " + kt + " holds a key of another type");
      impl->key = std::move(*k);
    } else if (kt == "ecdsa-x509" || kt == "rsa-x509") {
      auto k = parse_cert_pem(*raw, kwhat, fault);
      if (!k) return std::unexpected(k.error());
      if ((kt == "ecdsa-x509") != (k->alg == Algorithm::ecdsa_p256))
        return bad("keytype " + kt + " holds a certificate for a key of another type");
      impl->key = std::move(*k);
    } else {
      return bad("unsupported keytype \"" + kt + "\"");
    }
    // Notary hashes its own re-serialisation, so unknown fields never change the ID.
    impl->id = notary_key_id(kt, *pub);
    impl->canonical_id = impl->id;
    if (impl->key.cert)
      impl->canonical_id =
          notary_key_id(kt == "ecdsa-x509" ? "ecdsa" : "rsa", base64_encode(impl->key.spki));
  }
  return PublicKey(std::move(impl));
}

Dialect PublicKey::dialect() const {
  return impl_->dialect;
}
const std::string& PublicKey::keytype() const {
  return impl_->keytype;
}
const std::string& PublicKey::scheme() const {
  return impl_->scheme;
}
const Json& PublicKey::json() const {
  return impl_->json;
}
std::string PublicKey::key_id() const {
  return impl_->id;
}
std::string PublicKey::canonical_key_id() const {
  return impl_->canonical_id;
}
bool PublicKey::is_x509() const {
  return impl_->key.cert != nullptr;
}
std::string PublicKey::public_der() const {
  return impl_->key.spki;
}
Algorithm PublicKey::algorithm() const {
  return impl_->key.alg;
}
int PublicKey::bits() const {
  return impl_->key.bits;
}

namespace {
Error not_x509(const PublicKey& k) {
  return Error{Fault::user, "bad_key",
               "key " + k.key_id() + " (keytype " + k.keytype() + ") is not an x509 certificate"};
}

// One validity bound of a certificate; `field` names it in the error.
Result<TimePoint> certificate_time(const ASN1_TIME* t, std::string_view field) {
  bool ok = false;
  TimePoint tp = asn1_time_to_timepoint(t, &ok);
  if (!ok)
    return make_error(Fault::remote, "bad_key",
                      "certificate " + std::string(field) + " is malformed");
  return tp;
}
}  // namespace

Result<std::string> PublicKey::certificate_common_name() const {
  if (!is_x509()) return std::unexpected(not_x509(*this));
  X509_NAME* name = X509_get_subject_name(impl_->key.cert.get());
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return make_error(Fault::remote, "bad_key", "certificate has no common name");
  if (X509_NAME_get_index_by_NID(name, NID_commonName, idx) >= 0)
    return make_error(Fault::remote, "bad_key", "certificate has more than one common name");
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, data);
  if (n < 0) {
    ERR_clear_error();
    return make_error(Fault::remote, "bad_key", "certificate common name cannot be decoded");
  }
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  if (cn.find('\0') != std::string::npos)
    return make_error(Fault::remote, "bad_key", "certificate common name contains a NUL byte");
  return cn;
}

Result<TimePoint> PublicKey::certificate_not_after() const {
  if (!is_x509()) return std::unexpected(not_x509(*this));
  return certificate_time(X509_get0_notAfter(impl_->key.cert.get()), "notAfter");
}

Result<TimePoint> PublicKey::certificate_not_before() const {
  if (!is_x509()) return std::unexpected(not_x509(*this));
  return certificate_time(X509_get0_notBefore(impl_->key.cert.get()), "notBefore");
}

Result<bool> PublicKey::certificate_is_ca() const {
  if (!is_x509()) return std::unexpected(not_x509(*this));
  // The basicConstraints cA flag, as Go's Certificate.IsCA (X509_check_ca would also count
  // self-signed v1 certificates).
  uint32_t flags = X509_get_extension_flags(impl_->key.cert.get());
  if (flags & EXFLAG_INVALID) {
    ERR_clear_error();
    return make_error(Fault::remote, "bad_key", "certificate has invalid extensions");
  }
  return (flags & EXFLAG_CA) != 0;
}

Result<std::string> PublicKey::certificate_der() const {
  if (!is_x509()) return std::unexpected(not_x509(*this));
  unsigned char* buf = nullptr;
  int n = i2d_X509(impl_->key.cert.get(), &buf);
  if (n <= 0) {
    ERR_clear_error();
    return make_error(Fault::local, "internal", "cannot encode the certificate");
  }
  std::string out(reinterpret_cast<char*>(buf), static_cast<std::size_t>(n));
  OPENSSL_free(buf);
  return out;
}

Result<std::vector<std::string>> PublicKey::certificate_chain_der() const {
  if (!is_x509()) return std::unexpected(not_x509(*this));
  std::vector<std::string> out;
  for (const auto& c : impl_->key.chain) {
    unsigned char* buf = nullptr;
    int n = i2d_X509(c.get(), &buf);
    if (n <= 0) {
      ERR_clear_error();
      return make_error(Fault::local, "internal", "cannot encode a chain certificate");
    }
    out.emplace_back(reinterpret_cast<char*>(buf), static_cast<std::size_t>(n));
    OPENSSL_free(buf);
  }
  return out;
}

Result<bool> PublicKey::certificate_signed_with_sha1() const {
  if (!is_x509()) return std::unexpected(not_x509(*this));
  int nid = X509_get_signature_nid(impl_->key.cert.get());
  return nid == NID_sha1WithRSAEncryption || nid == NID_ecdsa_with_SHA1 || nid == NID_dsaWithSHA1;
}

bool PublicKey::verify(std::string_view method, std::string_view message,
                       std::string_view signature) const {
  if (signature.empty() || signature.size() > kMaxSignatureBytes) return false;
  const ParsedKey& k = impl_->key;
  if (impl_->dialect == Dialect::tuf) {
    // A TUF key is bound to its scheme.
    if (lower(method) != lower(impl_->scheme)) return false;
    const TufScheme* s = find_tuf_scheme(impl_->scheme);
    if (s == nullptr || s->alg != k.alg) return false;
    switch (k.alg) {
      case Algorithm::ed25519:
        return ed25519_verify(k.ed25519_raw, message, signature);
      case Algorithm::ecdsa_p256:
        // DER ECDSA-Sig-Value; OpenSSL rejects non-minimal DER and trailing bytes.
        if (k.bits != s->ec_bits) return false;
        return evp_verify(k.pkey.get(), s->md(), RsaPadding::none, message, signature);
      case Algorithm::rsa:
        return evp_verify(k.pkey.get(), s->md(), s->pad, message, signature);
    }
    return false;
  }
  // Notary: the method names the verifier (tuf/signed/verifiers.go), each for its key types.
  const std::string m = lower(method);
  if (m == "eddsa")
    return k.alg == Algorithm::ed25519 && ed25519_verify(k.ed25519_raw, message, signature);
  if (m == "ecdsa") {
    if (k.alg != Algorithm::ecdsa_p256) return false;
    // Raw r||s, each the curve's byte length; always SHA-256 whatever the curve.
    if (signature.size() != 2 * ec_field_bytes(k.bits)) return false;
    std::string der = ecdsa_raw_to_der(signature);
    return !der.empty() && evp_verify(k.pkey.get(), md_sha256(), RsaPadding::none, message, der);
  }
  if (m == "rsapss" || m == "pycrypto-pkcs#1 pss")
    return k.alg == Algorithm::rsa &&
           evp_verify(k.pkey.get(), md_sha256(), RsaPadding::pss, message, signature);
  if (m == "rsapkcs1v15")
    return k.alg == Algorithm::rsa &&
           evp_verify(k.pkey.get(), md_sha256(), RsaPadding::pkcs1, message, signature);
  return false;
}

// ---------------------------------------------------------------------------------------
// PrivateKey

struct PrivateKey::Impl {
  Algorithm alg = Algorithm::ed25519;
  std::string ed25519_sk;  // libsodium's 64-byte secret key (seed || public)
  PkeyPtr pkey;            // ECDSA / RSA
  std::string spki;        // DER SPKI, or the 32 raw public bytes for ed25519

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (!ed25519_sk.empty()) sodium_memzero(ed25519_sk.data(), ed25519_sk.size());
  }
};

namespace {

Result<std::shared_ptr<PrivateKey::Impl>> impl_from_pkey(PkeyPtr k, Fault fault) {
  auto impl = std::make_shared<PrivateKey::Impl>();
  int id = EVP_PKEY_get_base_id(k.get());
  if (id == EVP_PKEY_ED25519) {
    unsigned char seed[32];
    std::size_t len = sizeof seed;
    if (EVP_PKEY_get_raw_private_key(k.get(), seed, &len) != 1 || len != sizeof seed)
      return openssl_error("extracting the ed25519 seed");
    init_sodium();
    impl->alg = Algorithm::ed25519;
    impl->ed25519_sk.assign(crypto_sign_SECRETKEYBYTES, '\0');
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_seed_keypair(pk, reinterpret_cast<unsigned char*>(impl->ed25519_sk.data()), seed);
    sodium_memzero(seed, sizeof seed);
    impl->spki.assign(reinterpret_cast<char*>(pk), sizeof pk);
    return impl;
  }
  if (id == EVP_PKEY_EC) {
    if (ec_group_name(k.get()) != "prime256v1")
      return make_error(fault, "bad_key",
                        "private ECDSA key is not on P-256 (the only curve supported)");
    impl->alg = Algorithm::ecdsa_p256;
  } else if (id == EVP_PKEY_RSA) {
    int bits = EVP_PKEY_get_bits(k.get());
    if (bits < kMinRsaBits || bits > kMaxRsaBits)
      return make_error(fault, "bad_key",
                        "private RSA key of " + std::to_string(bits) + " bits is outside " +
                            std::to_string(kMinRsaBits) + ".." + std::to_string(kMaxRsaBits));
    impl->alg = Algorithm::rsa;
  } else {
    return make_error(fault, "bad_key",
                      "unsupported private key type (ed25519, ECDSA P-256 or RSA)");
  }
  impl->spki = to_der_spki(k.get());
  if (impl->spki.empty()) return openssl_error("encoding the public key");
  impl->pkey = std::move(k);
  return impl;
}

// Go's asn1 marshals a string as PrintableString when every character allows it.
bool printable_string(std::string_view s) {
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view(" '()+,-./:=?").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<PrivateKey> PrivateKey::generate(Algorithm a, int rsa_bits) {
  switch (a) {
    case Algorithm::ed25519: {
      init_sodium();
      auto impl = std::make_shared<Impl>();
      impl->alg = Algorithm::ed25519;
      impl->ed25519_sk.assign(crypto_sign_SECRETKEYBYTES, '\0');
      unsigned char pk[crypto_sign_PUBLICKEYBYTES];
      crypto_sign_keypair(pk, reinterpret_cast<unsigned char*>(impl->ed25519_sk.data()));
      impl->spki.assign(reinterpret_cast<char*>(pk), sizeof pk);
      return PrivateKey(std::move(impl));
    }
    case Algorithm::ecdsa_p256: {
      PkeyPtr k(EVP_EC_gen("P-256"));
      if (!k) return openssl_error("generating a P-256 key");
      auto impl = impl_from_pkey(std::move(k), Fault::bug);
      if (!impl) return std::unexpected(impl.error());
      return PrivateKey(std::move(*impl));
    }
    case Algorithm::rsa: {
      if (rsa_bits < kMinRsaBits || rsa_bits > kMaxRsaBits || rsa_bits % 8 != 0)
        return make_error(Fault::user, "usage",
                          "RSA key size " + std::to_string(rsa_bits) +
                              " must be a multiple of 8 in " + std::to_string(kMinRsaBits) + ".." +
                              std::to_string(kMaxRsaBits));
      PkeyPtr k(EVP_RSA_gen(static_cast<unsigned>(rsa_bits)));
      if (!k) return openssl_error("generating an RSA key");
      auto impl = impl_from_pkey(std::move(k), Fault::bug);
      if (!impl) return std::unexpected(impl.error());
      return PrivateKey(std::move(*impl));
    }
  }
  return make_error(Fault::bug, "usage", "unknown algorithm");
}

namespace {
// Notary's ed25519 PKCS#8 (tuf/utils/pkcs8.go): SEQUENCE { INTEGER 0, SEQUENCE { OID
// 1.3.6.1.4.1.11591.15.1 }, OCTET STRING (96) }, the octets being Notary's private key bytes
// public(32) || seed(32) || public(32) (its public key followed by Go's ed25519.PrivateKey).
constexpr std::string_view kNotaryEd25519Prefix(
    "\x30\x72\x02\x01\x00\x30\x0b\x06\x09\x2b\x06\x01\x04\x01\xda\x47\x0f\x01\x04\x60", 20);
constexpr std::size_t kNotaryEd25519Bytes = 96;
}  // namespace

Result<PrivateKey> PrivateKey::from_pkcs8_der(std::string_view der, Fault fault) {
  if (der.starts_with(kNotaryEd25519Prefix)) {
    if (der.size() != kNotaryEd25519Prefix.size() + kNotaryEd25519Bytes)
      return make_error(fault, "bad_key", "Notary ed25519 private key has the wrong length");
    std::string_view body = der.substr(kNotaryEd25519Prefix.size());
    init_sodium();
    auto impl = std::make_shared<Impl>();
    impl->alg = Algorithm::ed25519;
    impl->ed25519_sk.assign(crypto_sign_SECRETKEYBYTES, '\0');
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_seed_keypair(pk, reinterpret_cast<unsigned char*>(impl->ed25519_sk.data()),
                             reinterpret_cast<const unsigned char*>(body.data() + 32));
    impl->spki.assign(reinterpret_cast<char*>(pk), sizeof pk);
    if (body.substr(0, 32) != impl->spki || body.substr(64) != impl->spki)
      return make_error(
          fault, "bad_key",
          "Notary ed25519 private key: the stored public key does not match the seed");
    return PrivateKey(std::move(impl));
  }
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  P8Ptr p8(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  if (!p8 || p != reinterpret_cast<const unsigned char*>(der.data() + der.size())) {
    ERR_clear_error();
    return make_error(fault, "bad_key", "not an unencrypted PKCS#8 private key");
  }
  PkeyPtr k(EVP_PKCS82PKEY(p8.get()));
  if (!k) {
    ERR_clear_error();
    return make_error(fault, "bad_key", "PKCS#8 private key cannot be decoded");
  }
  auto impl = impl_from_pkey(std::move(k), fault);
  if (!impl) return std::unexpected(impl.error());
  return PrivateKey(std::move(*impl));
}

std::string PrivateKey::to_pkcs8_der() const {
  PkeyPtr owned;
  EVP_PKEY* k = impl_->pkey.get();
  if (impl_->alg == Algorithm::ed25519) {
    // libsodium's secret key starts with the 32-byte seed, RFC 8410's private key.
    owned.reset(EVP_PKEY_new_raw_private_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(impl_->ed25519_sk.data()),
        32));
    if (!owned) raise(openssl_error("wrapping the ed25519 key").error());
    k = owned.get();
  }
  P8Ptr p8(EVP_PKEY2PKCS8(k));
  if (!p8) raise(openssl_error("encoding PKCS#8").error());
  int n = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), nullptr);
  if (n <= 0) raise(openssl_error("encoding PKCS#8").error());
  std::string out(static_cast<std::size_t>(n), '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &p);
  return out;
}

std::string PrivateKey::to_notary_pkcs8_der() const {
  if (impl_->alg != Algorithm::ed25519) return to_pkcs8_der();
  std::string out(kNotaryEd25519Prefix);
  out += impl_->spki;        // public
  out += impl_->ed25519_sk;  // seed || public, as Go's ed25519.PrivateKey
  return out;
}

Algorithm PrivateKey::algorithm() const {
  return impl_->alg;
}

std::string PrivateKey::method(Dialect d) const {
  switch (impl_->alg) {
    case Algorithm::ed25519:
      return d == Dialect::notary ? "eddsa" : "ed25519";
    case Algorithm::ecdsa_p256:
      return d == Dialect::notary ? "ecdsa" : "ecdsa-sha2-nistp256";
    case Algorithm::rsa:
      return d == Dialect::notary ? "rsapss" : "rsassa-pss-sha256";
  }
  return {};
}

Result<std::string> PrivateKey::sign(std::string_view message, Dialect d) const {
  if (impl_->alg == Algorithm::ed25519) {
    std::string sig(crypto_sign_BYTES, '\0');
    crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                         reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                         reinterpret_cast<const unsigned char*>(impl_->ed25519_sk.data()));
    return sig;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestSignInit_ex(ctx.get(), &pctx, "SHA256", nullptr, nullptr, impl_->pkey.get(),
                                    nullptr) != 1)
    return openssl_error("initialising the signature");
  if (impl_->alg == Algorithm::rsa) {
    // PSS, MGF1-SHA256, salt = hash length: what Notary's verifier requires.
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md_sha256()) != 1)
      return openssl_error("configuring RSA-PSS");
  }
  std::size_t len = 0;
  const auto* msg = reinterpret_cast<const unsigned char*>(message.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, msg, message.size()) != 1)
    return openssl_error("signing");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, msg,
                     message.size()) != 1)
    return openssl_error("signing");
  sig.resize(len);
  if (impl_->alg == Algorithm::ecdsa_p256 && d == Dialect::notary) {
    // DER -> raw r||s, 32 bytes each.
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    EcdsaSigPtr es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
    if (!es) return openssl_error("decoding our own ECDSA signature");
    std::string raw(64, '\0');
    auto* out = reinterpret_cast<unsigned char*>(raw.data());
    if (BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), out, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), out + 32, 32) != 32)
      return openssl_error("encoding r||s");
    return raw;
  }
  return sig;
}

PublicKey PrivateKey::public_key(Dialect d) const {
  Json j;
  const std::string& spki = impl_->spki;
  if (d == Dialect::notary) {
    j = Json{{"keytype", std::string(algorithm_name(impl_->alg))},
             {"keyval", Json{{"private", nullptr}, {"public", base64_encode(spki)}}}};
  } else if (impl_->alg == Algorithm::ed25519) {
    j = Json{{"keytype", "ed25519"},
             {"scheme", "ed25519"},
             {"keyval", Json{{"public", hex_encode(spki)}}}};
  } else {
    PemBlock b{"PUBLIC KEY", {}, spki};
    j = Json{{"keytype", std::string(algorithm_name(impl_->alg))},
             {"scheme", method(Dialect::tuf)},
             {"keyval", Json{{"public", encode_pem(b)}}}};
  }
  return value_or_raise(PublicKey::from_json(j, Fault::bug));
}

Result<PublicKey> PrivateKey::self_signed_certificate(std::string_view common_name,
                                                      std::chrono::seconds validity) const {
  if (impl_->alg == Algorithm::ed25519)
    return make_error(Fault::user, "bad_key",
                      "ed25519 keys cannot be wrapped in an x509 certificate (Notary root keys "
                      "are ECDSA or RSA)");
  if (common_name.empty())
    return make_error(Fault::user, "usage", "certificate common name (the GUN) is empty");
  if (validity.count() <= 0)
    return make_error(Fault::user, "usage", "certificate validity must be positive");
  X509Ptr x(X509_new());
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1) return openssl_error("X509_new");
  // Serial: a random positive 128-bit number, as Go's x509 callers in Notary use.
  std::string serial = random_bytes(16);
  serial[0] = static_cast<char>(serial[0] & 0x7f);
  BnPtr bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(serial.data()), 16, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get())))
    return openssl_error("setting the serial number");
  std::time_t now = std::time(nullptr);
  long days = static_cast<long>(validity.count() / 86400);
  long secs = static_cast<long>(validity.count() % 86400);
  if (!ASN1_TIME_set(X509_getm_notBefore(x.get()), now) ||
      !ASN1_TIME_adj(X509_getm_notAfter(x.get()), now, static_cast<int>(days), secs))
    return openssl_error("setting the validity");
  X509_NAME* name = X509_get_subject_name(x.get());
  const int type = printable_string(common_name) ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING;
  if (X509_NAME_add_entry_by_NID(name, NID_commonName, type,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_set_issuer_name(x.get(), name) != 1 || X509_set_pubkey(x.get(), impl_->pkey.get()) != 1)
    return openssl_error("setting the names");
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  const std::pair<int, const char*> exts[] = {
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
      {NID_ext_key_usage, "codeSigning"},
      {NID_basic_constraints, "critical,CA:FALSE"},
  };
  for (const auto& [nid, value] : exts) {
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (e == nullptr) return openssl_error("building certificate extensions");
    int ok = X509_add_ext(x.get(), e, -1);
    X509_EXTENSION_free(e);
    if (ok != 1) return openssl_error("adding certificate extensions");
  }
  if (X509_sign(x.get(), impl_->pkey.get(), md_sha256()) <= 0)
    return openssl_error("signing the certificate");
  int n = i2d_X509(x.get(), nullptr);
  if (n <= 0) return openssl_error("encoding the certificate");
  std::string der(static_cast<std::size_t>(n), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509(x.get(), &p);
  std::string pem = encode_pem(PemBlock{"CERTIFICATE", {}, der});
  Json j{{"keytype", impl_->alg == Algorithm::rsa ? "rsa-x509" : "ecdsa-x509"},
         {"keyval", Json{{"private", nullptr}, {"public", base64_encode(pem)}}}};
  return PublicKey::from_json(j, Fault::bug);
}

}  // namespace docket::keys
