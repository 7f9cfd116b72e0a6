// The repository editor: creates a TUF repository (Notary dialect by default, TUF-spec
// dialect on request), edits it (targets, delegations, thresholds, keys, expiries), applies
// Notary changelists, and signs what changed so that it verifies with tuf/verify.h and is
// accepted by a Notary server.
//
// Model (tuf/metadata.h, shared with the client side) in, canonical metadata bytes out:
//   * Every edit marks the roles it touches dirty. sign() gives each dirty role version+1
//     (once per signing), a fresh expiry (role default unless set_expiry() chose one),
//     drops the signatures that no longer cover it, and signs with every key of the role
//     the KeyRing holds. Then snapshot (if held locally) and timestamp (if held) follow.
//   * Root rotation is cross-signed: when the root role's keys or threshold changed since
//     the root was loaded, the new root is signed by the old root's keys too, and sign()
//     checks that both the old root's threshold (with the old keys) and the new one's are
//     met, so a client holding the old root follows the rotation (TUF spec §5.3.4).
//     Notary dialect: old root certificates stay in root.keys, as Notary's client keeps them.
//   * Partial signing: with allow_partial a role may leave sign() below its threshold
//     (SignedRole::complete == false); another holder loads the bytes and calls
//     add_signatures() until the threshold is met. Content is never changed by that.
//   * A role whose keys we hold none of is not ours to sign: snapshot then is
//     "server-managed" (the Notary server makes it), the timestamp likewise.
//
// Notary dialect specifics: root keys are ecdsa-x509 self-signed certificates with CN = GUN
// (make_root_certificate); delegations are "targets/<name>" below their parent and paths
// are prefixes ("" = everything), restricted to the parent's paths; snapshot meta lists
// root, targets and delegations with sha256+sha512 (base64) and no version.
// TUF dialect: plain keys with schemes, spec_version, meta entries with versions, path
// patterns are shell globs, timestamp made locally.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/time.h"
#include "keys/key.h"
#include "tuf/changelist.h"
#include "tuf/metadata.h"

namespace docket::tuf {

// Where private keys come from. Implementations: MemoryKeyRing here; the encrypted key
// store can be adapted to it.
class KeyRing {
 public:
  virtual ~KeyRing() = default;
  // The private half of a key as it appears in metadata (plain or x509-wrapped), if held.
  virtual std::optional<keys::PrivateKey> find(const keys::PublicKey& pub) const = 0;
};

class MemoryKeyRing final : public KeyRing {
 public:
  void add(const keys::PrivateKey& k);
  std::optional<keys::PrivateKey> find(const keys::PublicKey& pub) const override;
  std::size_t size() const { return by_spki_.size(); }

 private:
  std::map<std::string, keys::PrivateKey> by_spki_;  // public DER -> key
};

// Default lifetimes (Notary's data.DefaultExpires).
struct Expiries {
  std::chrono::seconds root = std::chrono::hours(24 * 365 * 10);
  std::chrono::seconds targets = std::chrono::hours(24 * 365 * 3);
  std::chrono::seconds snapshot = std::chrono::hours(24 * 365 * 3);
  std::chrono::seconds timestamp = std::chrono::hours(24 * 14);
  std::chrono::seconds for_role(std::string_view role) const;
};

// Validity of root certificates made by make_root_certificate (Notary: 10 years).
inline constexpr std::chrono::seconds kRootCertificateValidity = std::chrono::hours(24 * 365 * 10);
// Most delegated roles one repository may hold (each is a file the client may fetch).
inline constexpr std::size_t kMaxDelegatedRoles = 10'000;
// Deepest delegation nesting the editor creates (targets/a/b/... counts one per level).
inline constexpr int kMaxDelegationDepth = 32;

// A Notary root key: self-signed ecdsa-x509 (or rsa-x509) certificate with CN = GUN.
Result<keys::PublicKey> make_root_certificate(
    const keys::PrivateKey& k, std::string_view gun,
    std::chrono::seconds validity = kRootCertificateValidity);

struct RoleKeySpec {
  std::vector<keys::PublicKey> keys;
  int threshold = 1;
};

struct CreateOptions {
  keys::Dialect dialect = keys::Dialect::notary;
  std::string gun;  // required in the Notary dialect (root certificates carry it)
  RoleKeySpec root, targets, snapshot, timestamp;
  // TUF dialect only; Notary always writes false.
  bool consistent_snapshot = false;
  Expiries expiries;
};

// Existing metadata to edit: bytes as stored or fetched. Delegations keyed by role name.
struct RepoFiles {
  std::string root;
  std::map<std::string, std::string> targets;  // "targets", "targets/releases", ...
  std::optional<std::string> snapshot;
  std::optional<std::string> timestamp;
  // The root clients trust now, when `root` is a rotation still being co-signed: its keys
  // then sign the new root too (add_signatures/sign), so the rotation stays cross-signed.
  std::optional<std::string> trusted_root;
  // Delegated roles whose metadata exists but was left out because it does not verify (its
  // signers' keys were removed), with the version that metadata carries: new metadata for
  // such a role (a signer replacing it) gets a higher version, as servers require. Notary
  // snapshots list no versions, so the caller reads it from the unverified bytes.
  std::map<std::string, std::int64_t> unloaded_versions;
};

// Files keyed by role name ("root", "targets", "targets/releases", "snapshot", "timestamp"),
// as Editor::files() returns them.
RepoFiles repo_files_from(const std::map<std::string, std::string>& by_role);

// A targets entry for `content` in a dialect: length plus sha256 and sha512.
TargetFile make_target_file(keys::Dialect d, std::string_view content,
                            std::optional<Json> custom = std::nullopt);
// A targets entry from raw digests (algorithm name -> raw bytes), e.g. a changelist entry.
TargetFile make_target_file(keys::Dialect d, std::int64_t length,
                            const std::map<std::string, std::string>& raw_hashes,
                            std::optional<Json> custom = std::nullopt);

struct SignedRole {
  std::string role;
  std::int64_t version = 0;
  std::string bytes;
  bool complete = true;  // threshold met (for root: old and new thresholds)
};

struct SignOptions {
  bool allow_partial = false;
  TimePoint now = docket::now();
};

struct NewDelegation {
  std::string name;                // "targets/releases" (Notary) or any name (TUF)
  std::string parent = "targets";  // Notary: must be the name's dirname
  std::vector<keys::PublicKey> keys;
  int threshold = 1;
  std::vector<std::string> paths;  // Notary: prefixes ("" = all); TUF: glob patterns
  bool terminating = false;        // TUF only
};

namespace detail {
// One role being edited. Outside Editor on purpose: as a nested class with default member
// initialisers, clang judges it not default-constructible inside the enclosing class, which
// breaks std::optional<Role<T>>::emplace() in the fuzz (clang) build.
template <class T>
struct EditedRole {
  Metadata<T> md;
  std::string bytes;  // serialised current state ("" until first signed)
  bool dirty = false;
  std::optional<TimePoint> expiry_override;
};
}  // namespace detail

class Editor {
 public:
  static Result<Editor> create(const CreateOptions& o, const KeyRing& ring);
  // Loads existing metadata (Fault::local for errors: the files are ours or the caller's).
  // Nothing is verified here (that is the updater's job before handing bytes over); the
  // dialect is the root's.
  static Result<Editor> load(const RepoFiles& files, std::string gun, const KeyRing& ring,
                             Expiries expiries = {});

  keys::Dialect dialect() const { return dialect_; }
  const std::string& gun() const { return gun_; }

  // ---- edits (each marks what it touches dirty) ----
  Status add_target(std::string_view role, std::string_view path, const TargetFile& file);
  Status remove_target(std::string_view role, std::string_view path);
  Status add_delegation(const NewDelegation& d);
  // Changes an existing delegation. remove_key_ids may name TUF key IDs or Notary
  // canonical (SPKI) IDs. threshold 0 keeps the current one.
  Status update_delegation(std::string_view name, const std::vector<keys::PublicKey>& add_keys,
                           const std::vector<std::string>& remove_key_ids, int threshold,
                           const std::vector<std::string>& add_paths,
                           const std::vector<std::string>& remove_paths, bool clear_paths);
  Status remove_delegation(std::string_view name);
  // Removes keys (by TUF or canonical ID) from every delegation below `parent` ("targets/*").
  Status purge_delegation_keys(std::string_view parent, const std::vector<std::string>& key_ids);
  // Threshold of a base role (root, targets, snapshot, timestamp) or a delegation.
  Status set_threshold(std::string_view role, int threshold);
  // Replaces every key of a base role or delegation. threshold 0 keeps the current one.
  // Rotating root makes the next root cross-signed; rotating snapshot/timestamp to a key
  // we do not hold hands that role to the server.
  Status rotate_keys(std::string_view role, const std::vector<keys::PublicKey>& new_keys,
                     int threshold = 0);
  Status set_expiry(std::string_view role, TimePoint expires);
  // Marks a role for re-signing as is (Notary "witness"; also refreshes its expiry).
  Status touch(std::string_view role);

  // Applies one changelist entry / all of them in order (stops at the first failure,
  // naming the entry's file). Unsupported kinds are Fault::local errors.
  Status apply(const Change& c);
  Status apply(const std::vector<Change>& changes);

  // ---- signing ----
  // Signs every dirty role (then snapshot and timestamp, where held). Returns what was
  // (re-)signed, root first, then targets roles shallowest first, snapshot, timestamp.
  Result<std::vector<SignedRole>> sign(const SignOptions& o = {});
  // Adds signatures from held keys to a role whose content is unchanged (co-signing).
  Result<SignedRole> add_signatures(std::string_view role);

  // ---- views ----
  const Metadata<Root>& root() const { return root_.md; }
  const Metadata<Targets>* targets(std::string_view role) const;
  const Metadata<Snapshot>* snapshot() const { return snapshot_ ? &snapshot_->md : nullptr; }
  const Metadata<Timestamp>* timestamp() const { return timestamp_ ? &timestamp_->md : nullptr; }
  std::vector<std::string> targets_roles() const;  // shallowest first
  // Current bytes of every role we have ("root", "targets", "targets/x", "snapshot", ...).
  std::map<std::string, std::string> files() const;
  // Whether a role has unsigned edits.
  bool dirty(std::string_view role) const;
  // True when we hold no snapshot key (the server signs snapshots).
  bool server_manages_snapshot() const;
  bool server_manages_timestamp() const;
  // Roles to upload to a Notary server after sign(): what `signed` returned, minus the
  // timestamp (the server always makes it).
  static std::vector<SignedRole> for_notary_upload(const std::vector<SignedRole>& signed_roles);

 private:
  template <class T>
  using Role = detail::EditedRole<T>;

  Editor(const KeyRing& ring) : ring_(&ring) {}
  Status check_base_role(std::string_view role) const;
  Result<Role<Targets>*> targets_role(std::string_view role);
  // Finds the delegation entry for `name` in its parent; returns parent role + index.
  Result<std::pair<Role<Targets>*, std::size_t>> find_delegation(std::string_view name);
  std::optional<std::string> delegation_parent(std::string_view name) const;
  Status check_root_key(const keys::PublicKey& k) const;
  // (keyid as listed in the role, private key) for every key of the role we hold.
  std::vector<std::pair<std::string, keys::PrivateKey>> held_keys(
      const std::map<std::string, Json>& keys, const RoleKeys& role) const;
  bool holds_any(const std::map<std::string, Json>& keys, const RoleKeys& role) const;
  Result<std::string> sign_bytes(const keys::PrivateKey& k, std::string_view canonical) const;
  // A set of keys whose threshold a signature must meet (the delegator's view of a role).
  struct Signer {
    const std::map<std::string, Json>* keys;
    const RoleKeys* role;
    std::string what;  // "root", "the previous root", "targets" (the delegator)
  };
  std::vector<Signer> signers_for(std::string_view role) const;
  template <class T>
  Status sign_role(Role<T>& r, const std::vector<Signer>& signers, TimePoint now,
                   std::string_view name, bool allow_partial, bool* complete);
  void mark_dirty(std::string_view role);

  const KeyRing* ring_;
  keys::Dialect dialect_ = keys::Dialect::notary;
  std::string gun_;
  Expiries expiries_;
  Role<Root> root_;
  // The root role (keys + threshold) as last signed: signs the next root if it changed.
  Root signed_root_;
  std::map<std::string, Role<Targets>> targets_;
  std::map<std::string, std::int64_t> unloaded_versions_;  // RepoFiles::unloaded_versions
  std::optional<Role<Snapshot>> snapshot_;
  std::optional<Role<Timestamp>> timestamp_;
};

}  // namespace docket::tuf
