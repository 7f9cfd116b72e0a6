// What a `docket` command needs to sign: the trust directory's key store with passphrases
// from the environment, a --passphrase-file or the terminal (keys/passphrase.h; without a
// terminal a missing passphrase fails at once naming the variables), and the trust server
// of a reference with its TLS settings.
//
// Trust server TLS, as docker finds it: CAs and client certificates in
// $DOCKER_CONFIG/tls/<host:port>/ (ca.crt, client.cert/client.key), then the registry's
// certs.d directories for the same host.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>

#include "client/image.h"
#include "client/reference.h"
#include "common/digest.h"
#include "common/error.h"
#include "keys/keystore.h"
#include "keys/passphrase.h"
#include "trustclient/repository.h"

namespace docket::trustclient {

struct KeyContext {
  keys::ProcessEnvironment env;
  std::unique_ptr<keys::Terminal> tty;
  std::unique_ptr<keys::PassphraseSource> passphrases;
  std::unique_ptr<keys::TrustDirKeyStore> store;
  std::filesystem::path trust_dir;

  // trust_dir empty: $DOCKER_CONFIG/trust (~/.docker/trust).
  static Result<std::unique_ptr<KeyContext>> create(
      std::filesystem::path trust_dir = {},
      std::optional<std::filesystem::path> passphrase_file = std::nullopt);
};

// The trust directory docker uses: $DOCKER_CONFIG/trust, else ~/.docker/trust.
std::filesystem::path default_trust_dir();

// Fails at once, naming the environment variables, when a key for one of `roles` would
// need a passphrase and neither a variable, a passphrase file nor a terminal can give it.
Status preflight_passphrases(KeyContext& kc, const std::vector<std::string>& roles,
                             bool have_passphrase_file = false);

// Repository settings for an image reference: GUN, trust server, trust dir, TLS.
Result<RepositoryConfig> repository_config(const client::Reference& ref,
                                           const std::filesystem::path& trust_dir);

struct SignOutcome {
  std::vector<std::string> roles;      // where the tag was signed
  std::size_t platform_manifests = 0;  // signed by digest alongside the tag (--recursive)
  bool initialized = false;            // the repository was created by this signing
  bool unchanged = false;              // every role already signed exactly this
};

// Signs tag -> {digest, length} into the roles `docker trust sign` would choose
// (Repository::signable_roles), initialising the repository if the server has none, and
// publishes. On failure the staged changes stay in the changelist (`docket trust status`).
//
// `platform_manifests` (signing a multi-platform index with --recursive): each is also
// signed, into the same roles, under the target name "<algorithm>:<hex>" of its digest
// (platform_target_name), in the same publish.
Result<SignOutcome> sign_tag(Repository& repo, const std::string& tag, const Digest& digest,
                             std::uint64_t length,
                             const std::vector<client::Descriptor>& platform_manifests = {});

// The target name a platform manifest is signed under: its digest ("sha256:<hex>"). Docker's
// tag grammar has no ':', so it never collides with a tag.
std::string platform_target_name(const Digest& d);

// Removes `tag` (every tag when empty) from every role that lists it and whose keys we hold,
// and publishes. Returns the number of signatures removed.
Result<std::size_t> revoke_tag(Repository& repo, const std::string& tag);

}  // namespace docket::trustclient
