// Notary's client-side checks on a repository's root certificates (Notary's
// trustpinning.ValidateRoot), which the generic TUF client (tuf/updater.h) does not do: a
// Notary root key is an x509 certificate that names the repository, and only certificates
// that are valid for this GUN right now count towards the root threshold.
//
// A root-role key counts when it is
//   - an x509 key (ecdsa-x509 / rsa-x509), a leaf (not a CA certificate),
//   - with subject CN exactly equal to the GUN,
//   - within its validity window (not_after >= now; not_before <= now + kCertificateClockSkew,
//     a little slack for a signer whose clock runs ahead: Notary does not check not_before),
//   - signed with anything but SHA-1.
// The root's signatures must then meet the root threshold with counting keys alone.
// TUF-dialect roots (no certificates) are not subject to this.
//
// Pure: takes the parsed root, the GUN and "now"; no I/O.
#pragma once

#include <chrono>
#include <string_view>

#include "common/error.h"
#include "common/time.h"
#include "tuf/metadata.h"

namespace docket::verifier {

inline constexpr std::chrono::seconds kCertificateClockSkew{300};

// remote/bad_root_certificate naming every certificate that did not count and why.
Status check_root_certificates(const tuf::Metadata<tuf::Root>& root, std::string_view gun,
                               TimePoint now);

}  // namespace docket::verifier
