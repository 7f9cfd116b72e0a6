// Verify on pull: a tag is resolved through the repository's TUF metadata on its trust
// server (Notary v1 protocol), never through the registry, and the pull then fetches the
// manifest by the trusted digest and checks its length (client/transfer.h does the rest:
// every blob hashed against the verified manifest).
//
// Where things are, as Docker does it:
//  - trust server: $DOCKER_CONTENT_TRUST_SERVER, else https://<registry host> (docker.io:
//    https://notary.docker.io);
//  - trust server TLS: the system CAs plus, from the first directory that exists for the
//    server's host:port, its *.crt CAs and a <name>.cert/<name>.key client pair:
//    $DOCKER_CONFIG/tls/<host:port>/ (where docker looks for a notary server's CA), then
//    /etc/docker/certs.d/<host:port>/;
//  - trust directory: $DOCKER_CONFIG/trust (~/.docker/trust), metadata cached under
//    tuf/<gun>/metadata/ in Notary's layout (delegations in sub-directories:
//    metadata/targets/releases.json), so docker and notary share it.
//
// Which signature counts, as docker pulls: the tag is looked up in targets/releases (and its
// sub-delegations) first, then in targets and its other delegations; a tag found only in a
// role other than targets/releases or targets is refused as not signed (docker: "No trust
// data for <tag>"). Notary roots must also pass Notary's root certificate checks
// (verifier/root_certs.h).
//
// First use of a repository (no cached root.json): if <trust dir>/trust_pinning.json pins
// the GUN ({"certs": {"<gun>": ["<root key id>", ...]}}), the fetched root must be signed
// by (list) one of those keys, else the pull is refused; without a pin the root is trusted
// on first use and a warning says so, unless the file sets "disable_tofu": true. A "ca" pin
// for a GUN prefix requires root certificates issued by that CA (see TrustPins below).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "client/image.h"
#include "client/reference.h"
#include "client/trust_auth.h"
#include "common/error.h"
#include "common/time.h"
#include "tuf/metadata.h"

namespace docket::verifier {

struct TrustConfig {
  std::string server_url;           // "https://host:port", no trailing slash
  std::filesystem::path trust_dir;  // ~/.docker/trust
  // Searched in order for <host:port>/ of an https server_url; the first that exists wins.
  std::vector<std::filesystem::path> certs_dirs;
  // Tests only: the clock for expiry checks.
  std::function<TimePoint()> clock;
  // Credentials for the trust server, asked for on its first challenge (client/trust_auth.h);
  // trust_config_for() sets client::trust_server_credentials() for the reference's registry.
  client::CredentialProvider credentials;
};

// The trust server and directory for a reference, from the environment.
TrustConfig trust_config_for(const client::Reference& ref);

// $DOCKER_CONFIG/tls, /etc/docker/certs.d.
std::vector<std::filesystem::path> trust_certs_search_path();

// The GUN Docker uses for a repository: "docker.io/library/nginx", "host:5000/team/app".
std::string gun_of(const client::Reference& ref);

// Trust pinning: <trust dir>/trust_pinning.json, as Notary's client "trust_pinning" section:
//   {"certs": {"<gun>": ["<root key id>", ...], "<gun prefix>*": [...]},
//    "ca": {"<gun prefix>": "<CA bundle PEM file>"},
//    "disable_tofu": false}
// Pull and every signing command (trustclient) apply it when they first bootstrap a
// repository's root. For a GUN, the first of these that applies wins (Notary's order):
//   1. certs entry equal to the GUN;
//   2. certs entry "<prefix>*" whose prefix starts the GUN, the longest such prefix;
//   3. ca entry whose key starts the GUN (plain prefix, no "*"), the longest such key;
//   4. none: trust on first use, or refused with disable_tofu.
// A relative CA path is relative to the trust directory. The CA file is read when the pins
// are loaded: unreadable, too large or without a PEM certificate is user/config naming it.
inline constexpr const char* kTrustPinningFile = "trust_pinning.json";
// Largest CA bundle file a "ca" pin may name.
inline constexpr std::size_t kMaxCaBundleBytes = 1 << 20;
// Most certificates read from one CA bundle.
inline constexpr std::size_t kMaxCaBundleCertificates = 1000;
struct TrustPins {
  std::vector<std::string> key_ids;  // pinned root key IDs (or prefixes) for the GUN
  // CA pin (only when no certs entry applies): the matching prefix, the file it names and
  // the DER certificates read from it (trust anchors; need not be self-signed).
  std::optional<std::string> ca_prefix;
  std::filesystem::path ca_file;
  std::vector<std::string> ca_certs_der;
  bool disable_tofu = false;
};
Result<TrustPins> load_trust_pins(const std::filesystem::path& trust_dir, const std::string& gun);
// Whether one of `ids` is pinned (equal to a pin or starting with it).
bool pin_matches(const TrustPins& pins, const std::vector<std::string>& ids);
// The CA pin's check (Notary's caCheck), pure: a root-role key counts when it is an x509
// certificate (keys/ parses it; a leaf+intermediates bundle is not accepted there) that has
// CN = gun, is not a CA and chains, at `now`, to one of
// `ca_certs_der` (OpenSSL X509_verify_cert: validity of every certificate checked at `now`,
// no hostname or purpose checks; a CA certificate of the pin is a trust anchor even if not
// self-signed). The root's signatures must meet the root threshold with counting keys
// alone; else remote/pin_mismatch naming each key that did not count and why.
Status check_root_chains_to_ca(const tuf::Metadata<tuf::Root>& root,
                               const std::vector<std::string>& ca_certs_der, const std::string& gun,
                               TimePoint now, const std::string& pin_description = "the pinned CA");
// First use of a repository's root fetched from `server_url`: pinned by key, it must list a
// pinned key (by root.json key ID or its public key's canonical ID) else remote/pin_mismatch;
// pinned by CA, check_root_chains_to_ca at `now`; unpinned, disable_tofu refuses
// (user/not_pinned), else `warn` gets the first-use warning.
Status check_first_use_root(const tuf::Metadata<tuf::Root>& root, const TrustPins& pins,
                            const std::string& gun, const std::string& server_url,
                            const std::function<void(const std::string&)>& warn, TimePoint now);

struct TrustedTarget {
  client::Descriptor descriptor;  // manifest digest (sha256) and length
  std::string role;               // the role that signed it ("targets", "targets/releases")
};

// Refreshes the repository's metadata (root chain, timestamp, snapshot, targets,
// delegations) and finds ref's tag. Errors say which check failed and why: an unsigned tag
// is user/not_signed; bad signatures, expiry, rollback or mismatched hashes are remote.
// `warn` receives the trust-on-first-use warning.
Result<TrustedTarget> resolve_trusted(const client::Reference& ref, const TrustConfig& cfg,
                                      const std::function<void(const std::string&)>& warn);

// Platform manifests of a multi-platform index signed with `--recursive` are Notary targets
// named by their digest ("sha256:<hex>", a name no tag can have; docs/content-trust.md).
// find_signed_manifest looks `digest` up as a tag is looked up (targets/releases, then
// targets); nullopt when it is not signed there.
Result<std::optional<TrustedTarget>> find_signed_manifest(
    const client::Reference& ref, const Digest& digest, const TrustConfig& cfg,
    const std::function<void(const std::string&)>& warn);

// For a verified pull of an index: when the chosen platform manifest (`entry`, as the
// trusted index lists it) is signed by its digest, its signed length must match the index's
// (remote/hash_mismatch otherwise); *signed_by receives the signing role. Not signed: ok
// (the trusted index digest already covers the entry).
Status check_platform_manifest(const client::Reference& ref, const client::Descriptor& entry,
                               const TrustConfig& cfg,
                               const std::function<void(const std::string&)>& warn,
                               std::string* signed_by);

}  // namespace docket::verifier
