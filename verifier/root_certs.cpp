#include "verifier/root_certs.h"

#include "common/encoding.h"
#include "keys/key.h"
#include "tuf/verify.h"

namespace docket::verifier {
namespace {

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
    // The cache verify_delegate() uses: the root's own signature check parsed it already.
    auto key = tuf::parsed_key(kj->second);
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
    auto sha1 = key->certificate_signed_with_sha1();
    if (!cn || !not_after || !not_before || !ca || !sha1) {
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
    if (*sha1) {
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
