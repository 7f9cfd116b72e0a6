#include "verifier/root_certs.h"

#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

#include "common/encoding.h"
#include "keys/key.h"
#include "tuf/verify.h"

namespace docket::verifier {
namespace {

// The certificate's signature algorithm is SHA-1 based (Notary refuses those root certs).
bool signed_with_sha1(const Json& key) {
  if (!key.contains("keyval") || !key["keyval"].is_object() || !key["keyval"].contains("public") ||
      !key["keyval"]["public"].is_string())
    return false;
  auto pem = base64_decode(key["keyval"]["public"].get<std::string>());
  if (!pem) return false;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem->data(), int(pem->size())),
                                                &BIO_free);
  if (!bio) return false;
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!cert) return false;
  int nid = X509_get_signature_nid(cert.get());
  return nid == NID_sha1WithRSAEncryption || nid == NID_ecdsa_with_SHA1 || nid == NID_dsaWithSHA1;
}

std::string short_id(const std::string& id) {
  return id.substr(0, 12);
}

}  // namespace

Status check_root_certificates(const tuf::Metadata<tuf::Root>& root, std::string_view gun,
                               TimePoint now) {
  const tuf::Root& r = root.signed_;
  if (r.dialect != tuf::Dialect::notary) return {};
  const tuf::RoleKeys& role = r.role(tuf::RoleType::root);
  tuf::RoleKeys counting;
  counting.threshold = role.threshold;
  std::string rejected;
  auto reject = [&](const std::string& id, const std::string& why) {
    rejected += (rejected.empty() ? "" : "; ") + short_id(id) + " " + why;
  };
  for (const auto& id : role.keyids) {
    auto kj = r.keys.find(id);
    if (kj == r.keys.end()) {
      reject(id, "is not in the root's keys");
      continue;
    }
    auto key = keys::PublicKey::from_json(kj->second, Fault::remote);
    if (!key) {
      reject(id, "is unreadable: " + key.error().message);
      continue;
    }
    if (!key->is_x509()) {
      reject(id, "is a bare " + key->keytype() + " key, not an x509 certificate");
      continue;
    }
    auto cn = key->certificate_common_name();
    auto not_after = key->certificate_not_after();
    auto not_before = key->certificate_not_before();
    auto ca = key->certificate_is_ca();
    if (!cn || !not_after || !not_before || !ca) {
      reject(id, "has an unreadable certificate");
      continue;
    }
    if (*cn != gun) {
      reject(id, "has CN \"" + *cn + "\", not the repository name \"" + std::string(gun) + "\"");
      continue;
    }
    if (*ca) {
      reject(id, "is a CA certificate, not a leaf");
      continue;
    }
    if (*not_after < now) {
      reject(id, "expired on " + format_rfc3339(*not_after));
      continue;
    }
    if (*not_before > now + kCertificateClockSkew) {
      reject(id, "is not valid before " + format_rfc3339(*not_before));
      continue;
    }
    if (signed_with_sha1(kj->second)) {
      reject(id, "is signed with SHA-1");
      continue;
    }
    counting.keyids.push_back(id);
  }
  std::string what = "root v" + std::to_string(r.version) + " of " + std::string(gun);
  auto s =
      tuf::verify_delegate(what, "its root certificates valid for " + std::string(gun),
                           root.canonical_signed, root.signatures, r.dialect, r.keys, counting);
  if (s) return {};
  return make_error(Fault::remote, "bad_root_certificate",
                    what + ": not signed by a threshold of " + std::to_string(role.threshold) +
                        " root certificate(s) valid for this repository" +
                        (rejected.empty() ? "" : " (" + rejected + ")"));
}

}  // namespace docket::verifier
