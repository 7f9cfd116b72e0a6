#include "net/testing/tls_testing.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "common/file.h"

namespace docket::net::testing {

namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

std::unexpected<Error> ossl_error(std::string what) {
  return make_error(Fault::bug, "openssl", "test PKI: " + what + " failed");
}

PKeyPtr generate_key(KeyKind kind) {
  if (kind == KeyKind::rsa_2048) return PKeyPtr(EVP_RSA_gen(2048));
  return PKeyPtr(EVP_EC_gen("P-256"));
}

std::string bio_string(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

Result<std::string> key_to_pem(EVP_PKEY* k) {
  BioPtr b(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr))
    return ossl_error("PEM_write_bio_PrivateKey");
  return bio_string(b.get());
}

Result<std::string> cert_to_pem(X509* c) {
  BioPtr b(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(b.get(), c)) return ossl_error("PEM_write_bio_X509");
  return bio_string(b.get());
}

Result<PKeyPtr> key_from_pem(const std::string& pem) {
  BioPtr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PKeyPtr k(PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr));
  if (!k) return ossl_error("reading issuer key");
  return k;
}

Result<X509Ptr> cert_from_pem(const std::string& pem) {
  BioPtr b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr c(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
  if (!c) return ossl_error("reading issuer certificate");
  return c;
}

bool add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// Builds and signs a certificate for `key`; issuer == nullptr means self-signed.
Result<PemKeyCert> build(const CertSpec& spec, EVP_PKEY* key, X509* issuer_cert,
                         EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  if (!cert) return ossl_error("X509_new");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), static_cast<long>(spec.not_before.count()));
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(spec.not_after.count()));
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("docket tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509* iss = issuer_cert ? issuer_cert : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(iss));

  bool ok = true;
  if (spec.is_ca) {
    ok &= add_ext(cert.get(), iss, NID_basic_constraints, "critical,CA:TRUE");
    ok &= add_ext(cert.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
  } else {
    ok &= add_ext(cert.get(), iss, NID_basic_constraints, "critical,CA:FALSE");
    ok &= add_ext(cert.get(), iss, NID_key_usage,
                  EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA
                      ? "critical,digitalSignature,keyEncipherment"
                      : "critical,digitalSignature");
  }
  std::string eku;
  if (spec.server_auth) eku += "serverAuth";
  if (spec.client_auth) eku += std::string(eku.empty() ? "" : ",") + "clientAuth";
  if (!eku.empty()) ok &= add_ext(cert.get(), iss, NID_ext_key_usage, eku);
  std::string san;
  for (const auto& d : spec.dns_names) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
  for (const auto& ip : spec.ip_addresses)
    san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  if (!san.empty()) ok &= add_ext(cert.get(), iss, NID_subject_alt_name, san);
  ok &= add_ext(cert.get(), iss, NID_subject_key_identifier, "hash");
  if (issuer_cert) ok &= add_ext(cert.get(), iss, NID_authority_key_identifier, "keyid:always");
  if (!ok) return ossl_error("adding certificate extensions");
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) <= 0)
    return ossl_error("X509_sign");
  PemKeyCert out;
  auto kp = key_to_pem(key);
  if (!kp) return std::unexpected(kp.error());
  auto cp = cert_to_pem(cert.get());
  if (!cp) return std::unexpected(cp.error());
  out.key_pem = std::move(*kp);
  out.cert_pem = std::move(*cp);
  return out;
}

}  // namespace

Result<PemKeyCert> make_self_signed_ca(CertSpec spec) {
  spec.is_ca = true;
  auto key = generate_key(spec.key_kind);
  if (!key) return ossl_error("key generation");
  return build(spec, key.get(), nullptr, nullptr);
}

Result<PemKeyCert> issue_certificate(const PemKeyCert& issuer, const CertSpec& spec) {
  auto ikey = key_from_pem(issuer.key_pem);
  if (!ikey) return std::unexpected(ikey.error());
  auto icert = cert_from_pem(issuer.cert_pem);
  if (!icert) return std::unexpected(icert.error());
  auto key = generate_key(spec.key_kind);
  if (!key) return ossl_error("key generation");
  return build(spec, key.get(), icert->get(), ikey->get());
}

Result<TestPki> make_test_pki(const std::filesystem::path& dir, const TestPkiOptions& opts) {
  TestPki p;
  p.dir = dir;
  CertSpec ca_spec;
  ca_spec.common_name = opts.ca_name;
  ca_spec.key_kind = opts.key_kind;
  auto ca = make_self_signed_ca(ca_spec);
  if (!ca) return std::unexpected(ca.error());
  p.ca = std::move(*ca);

  CertSpec srv;
  srv.common_name = "localhost";
  srv.dns_names = {"localhost"};
  for (const auto& d : opts.extra_dns_names) srv.dns_names.push_back(d);
  srv.ip_addresses = {"127.0.0.1", "::1"};
  srv.server_auth = true;
  srv.key_kind = opts.key_kind;
  srv.not_before = opts.server_not_before;
  srv.not_after = opts.server_not_after;
  auto server = issue_certificate(p.ca, srv);
  if (!server) return std::unexpected(server.error());
  p.server = std::move(*server);

  CertSpec cli;
  cli.common_name = "docket-test-client";
  cli.client_auth = true;
  cli.key_kind = opts.key_kind;
  auto client = issue_certificate(p.ca, cli);
  if (!client) return std::unexpected(client.error());
  p.client = std::move(*client);

  p.ca_cert = dir / "ca.crt";
  p.ca_key = dir / "ca.key";
  p.server_cert = dir / "server.crt";
  p.server_key = dir / "server.key";
  p.client_cert = dir / "client.crt";
  p.client_key = dir / "client.key";
  p.certs_d = dir / "certs.d";
  std::error_code ec;
  std::filesystem::create_directories(p.certs_d, ec);
  if (ec)
    return make_error(Fault::local, "io", "creating " + p.certs_d.string() + ": " + ec.message());
  struct W {
    std::filesystem::path path;
    const std::string* data;
    unsigned mode;
  };
  for (const W& w :
       {W{p.ca_cert, &p.ca.cert_pem, 0644}, W{p.ca_key, &p.ca.key_pem, 0600},
        W{p.server_cert, &p.server.cert_pem, 0644}, W{p.server_key, &p.server.key_pem, 0600},
        W{p.client_cert, &p.client.cert_pem, 0644}, W{p.client_key, &p.client.key_pem, 0600},
        W{p.certs_d / "ca.crt", &p.ca.cert_pem, 0644},
        W{p.certs_d / "client.cert", &p.client.cert_pem, 0644},
        W{p.certs_d / "client.key", &p.client.key_pem, 0600}}) {
    if (auto st = atomic_write_file(w.path, *w.data, w.mode); !st)
      return std::unexpected(st.error());
  }
  return p;
}

}  // namespace docket::net::testing
