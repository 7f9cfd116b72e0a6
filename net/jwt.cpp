#include "net/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/encoding.h"
#include "common/file.h"

namespace docket::net {

namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>>;
using SigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

std::unexpected<Error> invalid(std::string why) {
  return make_error(Fault::remote, "invalid_token", why);
}

std::string base32_std(std::string_view bytes) {
  static constexpr char kAlpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlpha[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kAlpha[(buffer << (5 - bits)) & 31]);
  return out;
}

Result<std::string> spki_der(EVP_PKEY* k) {
  int n = i2d_PUBKEY(k, nullptr);
  if (n <= 0) return make_error(Fault::bug, "openssl", "i2d_PUBKEY failed");
  std::string der(static_cast<std::size_t>(n), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_PUBKEY(k, &p);
  return der;
}

Result<std::string> key_id_of(EVP_PKEY* k) {
  auto der = spki_der(k);
  if (!der) return std::unexpected(der.error());
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(der->data()), der->size(), digest);
  std::string b32 = base32_std(std::string_view(reinterpret_cast<char*>(digest), 30));
  std::string out;
  for (std::size_t i = 0; i < b32.size(); i += 4) {
    if (i) out.push_back(':');
    out.append(b32, i, 4);
  }
  return out;
}

// Which JWS algorithm a key supports (and whether it is acceptable at all).
Result<JwsAlg> alg_for_key(EVP_PKEY* k, Fault fault, std::string_view what) {
  int id = EVP_PKEY_get_base_id(k);
  if (id == EVP_PKEY_EC) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) !=
            1 ||
        std::string_view(group) != "prime256v1")
      return make_error(fault, "bad_key",
                        std::string(what) + ": only the P-256 curve is supported (ES256)");
    return JwsAlg::es256;
  }
  if (id == EVP_PKEY_RSA) {
    if (static_cast<std::size_t>(EVP_PKEY_get_bits(k)) < kMinRsaBits)
      return make_error(fault, "bad_key",
                        std::string(what) + ": RSA keys must have at least " +
                            std::to_string(kMinRsaBits) + " bits");
    return JwsAlg::rs256;
  }
  return make_error(fault, "bad_key",
                    std::string(what) + ": unsupported key type (need EC P-256 or RSA)");
}

std::vector<X509Ptr> read_certs(std::string_view pem) {
  std::vector<X509Ptr> out;
  BioPtr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (true) {
    X509* c = PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr);
    if (!c) break;
    out.emplace_back(c);
  }
  ERR_clear_error();
  return out;
}

Result<std::string> sign_bytes(EVP_PKEY* k, JwsAlg alg, std::string_view data) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, k) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1)
    return make_error(Fault::bug, "openssl", "EVP_DigestSign failed");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    return make_error(Fault::bug, "openssl", "EVP_DigestSign failed");
  sig.resize(len);
  if (alg == JwsAlg::rs256) return sig;
  // ES256 signatures are raw r||s, 32 bytes each (RFC 7518 §3.4), not DER.
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  SigPtr es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  if (!es) return make_error(Fault::bug, "openssl", "d2i_ECDSA_SIG failed");
  std::string raw(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  return raw;
}

bool verify_bytes(EVP_PKEY* k, JwsAlg alg, std::string_view data, std::string_view sig) {
  std::string der;
  if (alg == JwsAlg::es256) {
    if (sig.size() != 64) return false;
    SigPtr es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr);
    BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr);
    if (!r || !s || ECDSA_SIG_set0(es.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return false;
    }
    int n = i2d_ECDSA_SIG(es.get(), nullptr);
    if (n <= 0) return false;
    der.resize(static_cast<std::size_t>(n));
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    i2d_ECDSA_SIG(es.get(), &p);
    sig = der;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok =
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, k) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace

std::string_view jws_alg_name(JwsAlg a) {
  return a == JwsAlg::es256 ? "ES256" : "RS256";
}

Result<std::string> libtrust_key_id(std::string_view pem) {
  BioPtr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PKeyPtr k;
  if (pem.find("CERTIFICATE") != std::string_view::npos) {
    X509Ptr c(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
    if (c) k.reset(X509_get_pubkey(c.get()));
  } else if (pem.find("PRIVATE KEY") != std::string_view::npos) {
    k.reset(PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr));
  } else {
    k.reset(PEM_read_bio_PUBKEY(b.get(), nullptr, nullptr, nullptr));
  }
  ERR_clear_error();
  if (!k) return make_error(Fault::user, "bad_key", "not a PEM key or certificate");
  return key_id_of(k.get());
}

// ---- signing ----

struct JwsSigningKey::State {
  PKeyPtr key;
  JwsAlg alg{};
  std::string kid;
  std::vector<std::string> x5c;
};

Result<JwsSigningKey> JwsSigningKey::from_pem(std::string_view key_pem,
                                              std::string_view cert_chain_pem) {
  auto st = std::make_shared<State>();
  BioPtr b(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  st->key.reset(PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!st->key)
    return make_error(Fault::user, "bad_key",
                      "token signing key is not an unencrypted PEM private key");
  auto alg = alg_for_key(st->key.get(), Fault::user, "token signing key");
  if (!alg) return std::unexpected(alg.error());
  st->alg = *alg;
  auto kid = key_id_of(st->key.get());
  if (!kid) return std::unexpected(kid.error());
  st->kid = *kid;
  if (!cert_chain_pem.empty()) {
    auto certs = read_certs(cert_chain_pem);
    if (certs.empty())
      return make_error(Fault::user, "bad_key",
                        "token signing certificate chain has no PEM certificate");
    if (X509_check_private_key(certs[0].get(), st->key.get()) != 1) {
      ERR_clear_error();
      return make_error(Fault::user, "bad_key",
                        "the first certificate of the token signing chain does not match the key");
    }
    for (const auto& c : certs) {
      int n = i2d_X509(c.get(), nullptr);
      std::string der(static_cast<std::size_t>(n), '\0');
      auto* p = reinterpret_cast<unsigned char*>(der.data());
      i2d_X509(c.get(), &p);
      st->x5c.push_back(base64_encode(der));
    }
  }
  JwsSigningKey k;
  k.s_ = std::move(st);
  return k;
}

Result<JwsSigningKey> JwsSigningKey::load(const std::filesystem::path& key_file,
                                          const std::optional<std::filesystem::path>& cert_file) {
  auto key = read_file(key_file, 1024 * 1024);
  if (!key) return std::unexpected(with_context(key.error(), "token signing key"));
  std::string chain;
  if (cert_file) {
    auto c = read_file(*cert_file, 1024 * 1024);
    if (!c) return std::unexpected(with_context(c.error(), "token signing certificate"));
    chain = std::move(*c);
  }
  auto k = from_pem(*key, chain);
  if (!k) return std::unexpected(with_context(k.error(), key_file.string()));
  return k;
}

JwsAlg JwsSigningKey::alg() const {
  return s_->alg;
}
const std::string& JwsSigningKey::key_id() const {
  return s_->kid;
}
const std::vector<std::string>& JwsSigningKey::x5c() const {
  return s_->x5c;
}

Result<std::string> JwsSigningKey::sign(const Json& claims, bool include_x5c) const {
  Json header = {{"typ", "JWT"}, {"alg", std::string(jws_alg_name(s_->alg))}, {"kid", s_->kid}};
  if (include_x5c && !s_->x5c.empty()) header["x5c"] = s_->x5c;
  return sign_with_header(header, claims);
}

Result<std::string> JwsSigningKey::sign_with_header(const Json& header, const Json& claims) const {
  std::string input = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
  auto sig = sign_bytes(s_->key.get(), s_->alg, input);
  if (!sig) return std::unexpected(sig.error());
  return input + "." + base64url_encode(*sig);
}

std::string JwsSigningKey::public_key_pem() const {
  BioPtr b(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(b.get(), s_->key.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(b.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// ---- verification ----

struct JwsTrust::State {
  std::vector<X509Ptr> anchors;
  std::map<std::string, PKeyPtr> keys;  // libtrust kid -> public key
};

Result<JwsTrust> JwsTrust::from_pem_bundle(std::string_view pem) {
  auto st = std::make_shared<State>();
  st->anchors = read_certs(pem);
  if (st->anchors.empty())
    return make_error(Fault::user, "config", "token trust bundle holds no PEM certificate");
  for (const auto& c : st->anchors) {
    PKeyPtr k(X509_get_pubkey(c.get()));
    if (!k) return make_error(Fault::user, "config", "token trust bundle: unreadable public key");
    auto kid = key_id_of(k.get());
    if (!kid) return std::unexpected(kid.error());
    st->keys.emplace(*kid, std::move(k));
  }
  JwsTrust t;
  t.s_ = std::move(st);
  return t;
}

Result<JwsTrust> JwsTrust::load(const std::filesystem::path& bundle) {
  auto pem = read_file(bundle, 4 * 1024 * 1024);
  if (!pem) return std::unexpected(with_context(pem.error(), "token trust bundle"));
  auto t = from_pem_bundle(*pem);
  if (!t) return std::unexpected(with_context(t.error(), bundle.string()));
  return t;
}

Status JwsTrust::add_public_key(std::string_view pem) {
  if (!s_) s_ = std::make_shared<State>();
  BioPtr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PKeyPtr k(PEM_read_bio_PUBKEY(b.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!k) return make_error(Fault::user, "config", "not a PEM public key");
  auto kid = key_id_of(k.get());
  if (!kid) return std::unexpected(kid.error());
  s_->keys[*kid] = std::move(k);
  return {};
}

std::vector<std::string> JwsTrust::key_ids() const {
  std::vector<std::string> out;
  if (s_)
    for (const auto& [k, _] : s_->keys) out.push_back(k);
  return out;
}

Result<VerifiedJws> verify_jws(std::string_view token, const JwsTrust& trust, TimePoint now) {
  if (token.size() > kMaxJwtBytes)
    return invalid("token is longer than " + std::to_string(kMaxJwtBytes) + " bytes");
  auto d1 = token.find('.');
  auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return invalid("token is not three dot-separated parts");
  auto h64 = token.substr(0, d1);
  auto p64 = token.substr(d1 + 1, d2 - d1 - 1);
  auto s64 = token.substr(d2 + 1);
  auto hraw = base64url_decode(h64);
  auto praw = base64url_decode(p64);
  auto sig = base64url_decode(s64);
  if (!hraw || !praw || !sig) return invalid("token part is not base64url");
  auto header = parse_json(*hraw, "token header", Fault::remote);
  if (!header || !header->is_object()) return invalid("token header is not a JSON object");
  auto alg_it = header->find("alg");
  if (alg_it == header->end() || !alg_it->is_string()) return invalid("token header lacks alg");
  std::string alg_name = alg_it->get<std::string>();
  JwsAlg alg;
  if (alg_name == "ES256")
    alg = JwsAlg::es256;
  else if (alg_name == "RS256")
    alg = JwsAlg::rs256;
  else
    return invalid("token algorithm \"" + alg_name.substr(0, 32) + "\" is not accepted");
  if (header->contains("crit")) return invalid("token header has unsupported crit extensions");
  if (auto typ = header->find("typ");
      typ != header->end() &&
      !(typ->is_string() && (typ->get<std::string>() == "JWT" || typ->get<std::string>() == "jwt")))
    return invalid("token typ is not JWT");
  if (!trust.s_) return invalid("no trusted token signing keys configured");

  PKeyPtr leaf_key;  // from x5c
  EVP_PKEY* key = nullptr;
  std::string kid;
  if (auto x5c = header->find("x5c"); x5c != header->end()) {
    if (!x5c->is_array() || x5c->empty() || x5c->size() > 10)
      return invalid("token x5c is not a non-empty array");
    std::vector<X509Ptr> chain;
    for (const auto& c : *x5c) {
      if (!c.is_string()) return invalid("token x5c entry is not a string");
      auto der = base64_decode(c.get<std::string>());
      if (!der) return invalid("token x5c entry is not base64");
      const auto* p = reinterpret_cast<const unsigned char*>(der->data());
      X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der->size())));
      if (!cert || p != reinterpret_cast<const unsigned char*>(der->data()) + der->size()) {
        ERR_clear_error();
        return invalid("token x5c entry is not a DER certificate");
      }
      chain.push_back(std::move(cert));
    }
    StorePtr store(X509_STORE_new());
    for (const auto& a : trust.s_->anchors) X509_STORE_add_cert(store.get(), a.get());
    STACK_OF(X509)* untrusted = sk_X509_new_null();
    for (std::size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted, chain[i].get());
    StoreCtxPtr ctx(X509_STORE_CTX_new());
    X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    // Any bundle certificate is an anchor, self-signed or not (as Go's x509 roots pool).
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_USE_CHECK_TIME);
    X509_VERIFY_PARAM_set_time(
        param,
        static_cast<time_t>(
            std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()));
    int ok = X509_verify_cert(ctx.get());
    int err = X509_STORE_CTX_get_error(ctx.get());
    ctx.reset();
    sk_X509_free(untrusted);
    ERR_clear_error();
    if (ok != 1)
      return invalid(std::string("token x5c chain is not trusted: ") +
                     X509_verify_cert_error_string(err));
    leaf_key.reset(X509_get_pubkey(chain[0].get()));
    if (!leaf_key) return invalid("token x5c leaf has no usable public key");
    key = leaf_key.get();
    auto k = key_id_of(key);
    if (!k) return std::unexpected(k.error());
    kid = *k;
  } else {
    auto kid_it = header->find("kid");
    if (kid_it == header->end() || !kid_it->is_string())
      return invalid("token header has neither x5c nor kid");
    kid = kid_it->get<std::string>();
    auto it = trust.s_->keys.find(kid);
    if (it == trust.s_->keys.end())
      return invalid("token signing key \"" + kid.substr(0, 64) + "\" is not trusted");
    key = it->second.get();
  }
  auto key_alg = alg_for_key(key, Fault::remote, "token signing key");
  if (!key_alg) return invalid(key_alg.error().message);
  if (*key_alg != alg)
    return invalid("token algorithm " + alg_name + " does not match its " +
                   std::string(jws_alg_name(*key_alg)) + " key");
  std::string_view signing_input = token.substr(0, d2);
  if (!verify_bytes(key, alg, signing_input, *sig)) return invalid("token signature is invalid");
  auto claims = parse_json(*praw, "token claims", Fault::remote);
  if (!claims || !claims->is_object()) return invalid("token claims are not a JSON object");
  return VerifiedJws{std::move(*header), std::move(*claims), std::move(kid)};
}

}  // namespace docket::net
