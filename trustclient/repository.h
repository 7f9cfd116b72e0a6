// The client side of a Notary v1 trusted collection, as Notary's and Docker's clients keep
// it, so one trust directory is shared with `notary` and `docker trust`:
//
//   <trust_dir>/private/<keyid>.key          keys (keys/keystore.h, encrypted)
//   <trust_dir>/tuf/<gun>/metadata/          verified metadata cache (the TUF updater's)
//   <trust_dir>/tuf/<gun>/changelist/        staged changes (tuf/changelist.h)
//
// refresh() loads and verifies the repository's current metadata from the trust server with
// the TUF updater (cached root or trust on first use, timestamp, snapshot, targets) and
// then every delegation the snapshot lists, each verified against its delegator. Nothing
// unverified is ever edited or signed: a delegated role whose signatures no longer meet its
// delegator's threshold is left out (RoleView::unverifiable, with a warning), so that it can
// be replaced or removed rather than making the repository unusable for every command.
//
// publish() is Notary's publish: refresh, initialise the repository when the server has
// none (root key reused from the key store or generated, a new targets key, snapshot and
// timestamp keys held by the server), apply the changelist with the editor, sign with the
// keys held (decrypting only the keys of roles that changed: pushing never asks for the
// root passphrase), POST, and on success remove exactly the entries it applied. A role below
// its signing threshold is not sent: the partially signed metadata is kept under
// <trust_dir>/tuf/<gun>/partial/ and the error says how many signatures there are and how
// many are needed; cosign() lets another key holder complete and publish it.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/trust_auth.h"
#include "common/error.h"
#include "common/time.h"
#include "keys/keystore.h"
#include "net/http_client.h"
#include "tuf/changelist.h"
#include "tuf/editor.h"
#include "tuf/metadata.h"

namespace docket::trustclient {

// Most delegated roles refresh() walks (each one is a fetch and a verification).
inline constexpr std::size_t kMaxWalkedDelegations = 1000;
// Notary's delegation for release signatures (`docker trust sign` signs into it).
inline constexpr std::string_view kReleasesRole = "targets/releases";
// Highest signature threshold `docket trust threshold set` accepts.
inline constexpr int kMaxThreshold = 100;

struct RepositoryConfig {
  std::string gun;                  // "127.0.0.1:5000/team/app"
  std::string server_url;           // "https://host:port", no trailing slash
  std::filesystem::path trust_dir;  // ~/.docker/trust
  net::HttpClientOptions http;      // TLS for the trust server
  // Credentials for the trust server, asked for only when it challenges (client/trust_auth.h).
  // Unset: requests go without credentials and a challenge is a clear unauthorized error.
  client::CredentialProvider credentials;
  std::function<TimePoint()> clock;
  // Receives warnings (trust on first use).
  std::function<void(const std::string&)> warn;
};

// One role's keys and targets as verified.
struct RoleView {
  std::string name;                            // "targets", "targets/releases", ...
  std::vector<std::string> key_ids;            // as listed by the delegator
  std::vector<std::string> canonical_key_ids;  // what key files are named by
  int threshold = 1;
  std::vector<std::string> paths;  // delegations only ("" = everything)
  std::map<std::string, tuf::TargetFile> targets;
  // Why the role's metadata does not verify, when it does not (its targets are then empty);
  // see Repository::refresh().
  std::string unverifiable;
};

struct RepositoryView {
  std::vector<std::string> root_key_ids;  // as in root.json (certificate IDs)
  std::vector<std::string> root_canonical_ids;
  int root_threshold = 1;
  std::vector<RoleView> roles;                   // targets first, then delegations in walk order
  std::map<std::string, std::int64_t> versions;  // role -> version
  const RoleView* find(std::string_view role) const;
};

// Which root key a new root lists, and with which certificate.
struct RootKeyChoice {
  // The key-store ID of a root key. Unset: creating, the pinned root key, else the first
  // root key of the store by ID, else a new one; rotating, a new one.
  std::optional<std::string> key_id;
  // The x509 certificate root.json lists for that key, e.g. one a CA issued (for clients
  // with a `ca` trust pin). Unset: a self-signed certificate, as notary makes. Its public
  // key must be the root key's, its CN the GUN, and it must not be a CA or expired.
  std::optional<keys::PublicKey> certificate;
};

struct InitOptions {
  // Keep the snapshot key on the server (Docker's default). false: a local snapshot key.
  bool server_managed_snapshot = true;
  RootKeyChoice root;
};

struct PublishResult {
  bool initialized = false;  // this publish created the repository
  std::vector<tuf::SignedRole> published;
  std::size_t applied_changes = 0;
};

class Repository {
 public:
  // `store` and the passphrases behind it must outlive the repository.
  static Result<std::unique_ptr<Repository>> open(RepositoryConfig cfg, keys::KeyStore& store);
  ~Repository();

  const RepositoryConfig& config() const { return cfg_; }
  tuf::Changelist& changelist() { return changelist_; }

  // Fetches and verifies. false: the server has no trust data for the GUN.
  Result<bool> refresh();
  // After a successful refresh() that returned true.
  const RepositoryView& view() const { return view_; }

  // Checks that the server is a trust server that will take a new repository: asks for the
  // GUN's timestamp key (which a Notary server creates on first request, as init does).
  Status probe_server();

  // Stages one change; returns its changelist file name.
  Result<std::string> stage(const tuf::Change& c);
  // Drops staged changes by file name (those a failed command staged itself).
  Status unstage(const std::vector<std::string>& file_names);
  // Applies and publishes the changelist (see above).
  Result<PublishResult> publish(const InitOptions& init = {});
  // A root about to be published (creation, rotation, threshold) must be one that clients
  // holding the trust directory's own pins accept on first use: with a `ca` pin for the GUN,
  // its certificates must chain to that CA (verifier::check_root_chains_to_ca), else every
  // pinned client would refuse the repository. Roles without a root pass. user/pin_mismatch.
  Status check_root_meets_ca_pin(const std::vector<tuf::SignedRole>& roles) const;

  // Roles a target may be signed into as `docker trust sign` chooses them: every direct
  // child delegation of targets whose paths allow `tag` and whose keys we hold; targets
  // itself when there are no delegations. Error no_signing_key when there are delegations
  // but we hold none of their keys. Call after refresh(); an uninitialised repository
  // gives {"targets"}.
  Result<std::vector<std::string>> signable_roles(const std::string& tag);

  // Replaces every key of a base role and publishes at once (root is cross-signed by the
  // old and the new root key). server_managed: the server makes a new key (timestamp,
  // snapshot). Returns the new key's ID.
  // `root` (role root only) chooses the new root key and its certificate.
  Result<std::string> rotate_key(const std::string& role, bool server_managed,
                                 const RootKeyChoice& root = {});

  // Sets the signature threshold of root, targets or a delegation (targets/<name>) to `n`,
  // adding `add_keys` to the role first (a role needs at least n keys; root keys must be
  // x509 certificates for the GUN). root signs the change (and targets re-signs itself when
  // its own threshold or keys change: the server checks targets against the new root). When
  // the keys we hold cannot meet the new thresholds, nothing is published: the error is
  // threshold_not_met and the partially signed metadata waits for `cosign`.
  Result<std::vector<tuf::SignedRole>> set_threshold(const std::string& role, int n,
                                                     const std::vector<keys::PublicKey>& add_keys);

  // Completes partially signed metadata from `dir` (as written by a publish below threshold)
  // with the keys we hold; publishes it when every threshold is met, else stores it back
  // into our partial directory. Returns what was published (empty if still partial).
  Result<std::vector<tuf::SignedRole>> cosign(const std::filesystem::path& dir);

  // Canonical IDs of every key in the key store (nothing is decrypted).
  Result<std::set<std::string>> held_key_ids() const;

  // Where partially signed metadata is kept for this GUN.
  std::filesystem::path partial_dir() const;
  // Forgets the cached metadata of the GUN (not keys, not the changelist).
  Status reset_cache();

 private:
  Repository(RepositoryConfig cfg, keys::KeyStore& store, tuf::Changelist cl);
  // A root we made and published is trusted as is from now on: stores it (if `published`
  // has one) as the cached root of the GUN, and the delegations we published beside it, in
  // the verifier's (Notary's) cache layout.
  Status cache_published_root(const std::vector<tuf::SignedRole>& published) const;
  // Signs the roles the editor changed (now = the config's clock), keeping roles that fall
  // short of their threshold as partially signed instead of failing.
  Result<std::vector<tuf::SignedRole>> sign_allowing_partial(tuf::Editor& ed) const;
  // Publishes `roles` if every one is complete, then caches a published root; otherwise
  // writes them to partial_dir() for `cosign` and returns the threshold error.
  Status publish_if_complete(const std::vector<tuf::SignedRole>& roles, const tuf::Editor& ed);
  struct Impl;
  RepositoryConfig cfg_;
  keys::KeyStore& store_;
  tuf::Changelist changelist_;
  RepositoryView view_;
  std::unique_ptr<Impl> impl_;
};

// "<image>:<tag>" target entry as Docker writes it: length + sha256 only.
tuf::TargetChange docker_target(std::uint64_t length, const std::string& sha256_raw);

}  // namespace docket::trustclient
