// What `docker trust inspect` prints, computed from a verified RepositoryView, and the
// public key files `docker trust key generate` writes and `docker trust signer add` reads.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/json.h"
#include "keys/key.h"
#include "trustclient/repository.h"

namespace docket::trustclient {

// {"Name","SignedTags":[{"SignedTag","Digest","Signers"}],"Signers":[{"Name","Keys":[{"ID"}]}],
//  "AdministrativeKeys":[{"Name":"Root"|"Repository","Keys":[{"ID"}]}]}, as docker builds it:
// a tag counts as signed when targets or targets/releases lists it; every other delegation
// listing the same tag and digest is one of its Signers (targets itself: no signer, shown
// as "(Repo Admin)"); targets/releases is not a signer. `tag` limits SignedTags to one tag.
Json inspect_json(const std::string& name, const RepositoryView& v,
                  const std::optional<std::string>& tag = std::nullopt);
// The --pretty tables.
std::string inspect_pretty(const Json& one_repository);

// "targets/alice" -> "alice".
std::string signer_name(std::string_view role);

// A PEM "PUBLIC KEY" (SPKI) or "CERTIFICATE" as a Notary metadata key (ecdsa, rsa, ed25519,
// ecdsa-x509, rsa-x509). Error bad_key naming `what` otherwise.
Result<keys::PublicKey> public_key_from_pem(std::string_view text, std::string_view what);
// A root key's certificate from a PEM file: one CERTIFICATE, or the leaf followed by the CA
// certificates that issued it (the whole chain goes into root.json, so clients that pin
// only the root CA can build the path, as with Notary). Other blocks are ignored.
// Error bad_key naming `what`.
Result<keys::PublicKey> root_certificate_from_pem(std::string_view text, std::string_view what);
// The public half of `k` as docker writes NAME.pub: PUBLIC KEY with a "role: NAME" header.
std::string public_key_pem(const keys::PrivateKey& k, std::string_view role);

}  // namespace docket::trustclient
