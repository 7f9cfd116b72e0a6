#include "keys/keyfile.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <memory>

#include "common/openssl_errors.h"

namespace docket::keys {
namespace {

struct SigFree {
  void operator()(X509_SIG* p) const { X509_SIG_free(p); }
};
struct P8Free {
  void operator()(PKCS8_PRIV_KEY_INFO* p) const { PKCS8_PRIV_KEY_INFO_free(p); }
};
struct AlgorFree {
  void operator()(X509_ALGOR* p) const { X509_ALGOR_free(p); }
};
struct Pbe2Free {
  void operator()(PBE2PARAM* p) const { PBE2PARAM_free(p); }
};
struct Pbkdf2Free {
  void operator()(PBKDF2PARAM* p) const { PBKDF2PARAM_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};

std::unexpected<Error> ossl_fail(std::string_view what) {
  unsigned long e = ERR_get_error();
  std::string text = e != 0 ? openssl_error_string(e) : "unknown OpenSSL error";
  ERR_clear_error();
  return make_error(Fault::bug, "openssl", std::string(what) + ": " + text);
}

// Parses the DER and checks it is PBES2 with PBKDF2 within limits; returns the parsed
// structure and the iteration count.
Result<std::unique_ptr<X509_SIG, SigFree>> parse_encrypted(std::string_view der, Fault fault,
                                                           int* iterations) {
  auto bad = [&](std::string msg) {
    ERR_clear_error();
    return make_error(fault, "bad_key", "encrypted private key: " + msg);
  };
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<X509_SIG, SigFree> sig(d2i_X509_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig || p != reinterpret_cast<const unsigned char*>(der.data() + der.size()))
    return bad("not a DER EncryptedPrivateKeyInfo");
  const X509_ALGOR* alg = nullptr;
  const ASN1_OCTET_STRING* data = nullptr;
  X509_SIG_get0(sig.get(), &alg, &data);
  const ASN1_OBJECT* oid = nullptr;
  int ptype = 0;
  const void* pval = nullptr;
  X509_ALGOR_get0(&oid, &ptype, &pval, alg);
  if (OBJ_obj2nid(oid) != NID_pbes2)
    return bad("encryption scheme is not PBES2 (PKCS#5 v2); older schemes are refused");
  if (ptype != V_ASN1_SEQUENCE) return bad("PBES2 parameters missing");
  std::unique_ptr<PBE2PARAM, Pbe2Free> pbe2(static_cast<PBE2PARAM*>(
      ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter)));
  if (!pbe2) return bad("malformed PBES2 parameters");
  X509_ALGOR_get0(&oid, &ptype, &pval, pbe2->keyfunc);
  if (OBJ_obj2nid(oid) != NID_id_pbkdf2) return bad("key derivation is not PBKDF2");
  if (ptype != V_ASN1_SEQUENCE) return bad("PBKDF2 parameters missing");
  std::unique_ptr<PBKDF2PARAM, Pbkdf2Free> kdf(static_cast<PBKDF2PARAM*>(
      ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter)));
  if (!kdf) return bad("malformed PBKDF2 parameters");
  long iter = ASN1_INTEGER_get(kdf->iter);
  if (iter < 1 || iter > kMaxPbkdf2Iterations)
    return bad("PBKDF2 iteration count " + std::to_string(iter) + " is outside 1.." +
               std::to_string(kMaxPbkdf2Iterations));
  *iterations = static_cast<int>(iter);
  return sig;
}

const EVP_CIPHER* aes256cbc() {
  static const EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  return c;
}

}  // namespace

Result<int> pkcs8_iterations(std::string_view der, Fault fault) {
  int iter = 0;
  auto sig = parse_encrypted(der, fault, &iter);
  if (!sig) return std::unexpected(sig.error());
  return iter;
}

Result<std::string> encrypt_pkcs8(const PrivateKey& key, std::string_view passphrase,
                                  int iterations) {
  if (iterations < kMinPbkdf2Iterations || iterations > kMaxPbkdf2Iterations)
    return make_error(Fault::user, "usage",
                      "PBKDF2 iteration count " + std::to_string(iterations) + " is outside " +
                          std::to_string(kMinPbkdf2Iterations) + ".." +
                          std::to_string(kMaxPbkdf2Iterations));
  if (passphrase.empty())
    return make_error(Fault::user, "passphrase", "an empty passphrase cannot protect a key");
  if (passphrase.size() > kMaxPassphraseBytes)
    return make_error(Fault::user, "passphrase",
                      "passphrase longer than " + std::to_string(kMaxPassphraseBytes) + " bytes");
  std::string inner = key.to_notary_pkcs8_der();
  const auto* p = reinterpret_cast<const unsigned char*>(inner.data());
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, P8Free> p8(
      d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(inner.size())));
  OPENSSL_cleanse(inner.data(), inner.size());
  if (!p8) return ossl_fail("re-reading our own PKCS#8");
  // PRF NID_hmacWithSHA1 is written as the default (no PRF field), salt 8 random bytes,
  // random IV: byte-for-byte the structure Notary writes.
  std::unique_ptr<X509_ALGOR, AlgorFree> alg(
      PKCS5_pbe2_set_iv(aes256cbc(), iterations, nullptr, 8, nullptr, NID_hmacWithSHA1));
  if (!alg) return ossl_fail("PBES2 parameters");
  std::unique_ptr<X509_SIG, SigFree> sig(
      PKCS8_set0_pbe(passphrase.data(), static_cast<int>(passphrase.size()), p8.get(), alg.get()));
  if (!sig) return ossl_fail("encrypting the private key");
  alg.release();  // owned by sig now
  int n = i2d_X509_SIG(sig.get(), nullptr);
  if (n <= 0) return ossl_fail("encoding the encrypted key");
  std::string out(static_cast<std::size_t>(n), '\0');
  auto* q = reinterpret_cast<unsigned char*>(out.data());
  i2d_X509_SIG(sig.get(), &q);
  return out;
}

Result<PrivateKey> decrypt_pkcs8(std::string_view der, std::string_view passphrase, Fault fault) {
  int iter = 0;
  auto sig = parse_encrypted(der, fault, &iter);
  if (!sig) return std::unexpected(sig.error());
  if (passphrase.size() > kMaxPassphraseBytes)
    return make_error(Fault::user, "passphrase",
                      "passphrase longer than " + std::to_string(kMaxPassphraseBytes) + " bytes");
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, P8Free> p8(
      PKCS8_decrypt(sig->get(), passphrase.data(), static_cast<int>(passphrase.size())));
  if (!p8) {
    ERR_clear_error();
    return make_error(Fault::user, "passphrase",
                      "wrong passphrase (or the encrypted key is corrupt)");
  }
  int n = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), nullptr);
  if (n <= 0) {
    ERR_clear_error();
    return make_error(Fault::user, "passphrase",
                      "wrong passphrase (or the encrypted key is corrupt)");
  }
  std::string inner(static_cast<std::size_t>(n), '\0');
  auto* q = reinterpret_cast<unsigned char*>(inner.data());
  i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &q);
  auto key = PrivateKey::from_pkcs8_der(inner, fault);
  OPENSSL_cleanse(inner.data(), inner.size());
  if (!key) {
    // CBC padding happens to check out for about 1 in 256 wrong passphrases; the
    // plaintext is then garbage.
    return make_error(Fault::user, "passphrase",
                      "wrong passphrase (or the encrypted key is corrupt)");
  }
  return key;
}

bool is_private_key_pem_type(std::string_view type) {
  return type == kEncryptedKeyPemType || type == kPrivateKeyPemType ||
         type == kEcPrivateKeyPemType || type == kRsaPrivateKeyPemType;
}

Result<PrivateKey> private_key_from_block(const PemBlock& block, Fault fault) {
  if (block.type == kPrivateKeyPemType) return PrivateKey::from_pkcs8_der(block.bytes, fault);
  int type = 0;
  if (block.type == kEcPrivateKeyPemType)
    type = EVP_PKEY_EC;
  else if (block.type == kRsaPrivateKeyPemType)
    type = EVP_PKEY_RSA;
  else
    return make_error(fault, "bad_key",
                      "PEM block \"" + block.type + "\" is not an unencrypted private key");
  if (block.header("Proc-Type").find("ENCRYPTED") != std::string::npos)
    return make_error(fault, "bad_key",
                      "legacy OpenSSL-encrypted PEM keys are not supported; convert with "
                      "`openssl pkcs8 -topk8`");
  const auto* p = reinterpret_cast<const unsigned char*>(block.bytes.data());
  std::unique_ptr<EVP_PKEY, PkeyFree> k(
      d2i_PrivateKey(type, nullptr, &p, static_cast<long>(block.bytes.size())));
  if (!k || p != reinterpret_cast<const unsigned char*>(block.bytes.data() + block.bytes.size())) {
    ERR_clear_error();
    return make_error(fault, "bad_key", "malformed " + block.type);
  }
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, P8Free> p8(EVP_PKEY2PKCS8(k.get()));
  if (!p8) return ossl_fail("converting to PKCS#8");
  int n = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), nullptr);
  std::string der(static_cast<std::size_t>(n > 0 ? n : 0), '\0');
  auto* q = reinterpret_cast<unsigned char*>(der.data());
  i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &q);
  auto key = PrivateKey::from_pkcs8_der(der, fault);
  OPENSSL_cleanse(der.data(), der.size());
  return key;
}

}  // namespace docket::keys
