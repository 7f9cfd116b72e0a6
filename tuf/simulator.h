// An in-memory TUF repository that generates and signs metadata on demand, for tests,
// benchmarks and fuzz seeds (in the spirit of python-tuf's RepositorySimulator). Not used
// by the client itself.
//
// The metadata structs are public: a test edits them, then calls publish_root() or
// bump_*() and serves the result through a MemoryFetcher hook (install()) or to files
// (write_to()). Signing uses keys::PrivateKey; each role has a list of signers that may
// differ from the keys the delegator lists, to build bad-signature cases.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "keys/key.h"
#include "tuf/fetcher.h"
#include "tuf/metadata.h"

namespace docket::tuf {

class Simulator {
 public:
  struct Options {
    Dialect dialect = Dialect::tuf;
    keys::Algorithm algorithm = keys::Algorithm::ed25519;
    bool consistent_snapshot = true;
    // Put length and hashes into timestamp/snapshot meta (Notary always does).
    bool meta_hashes = false;
    std::chrono::seconds validity{std::chrono::hours(24 * 7)};
    // Notary dialect: make root keys self-signed x509 certificates with this CN (the GUN),
    // as notary-server and the notary client require. Needs an ECDSA or RSA algorithm.
    std::string root_certificate_cn;
  };
  explicit Simulator(Options o);
  Simulator() : Simulator(Options{}) {}

  Options opts;
  Root root;
  Timestamp timestamp;
  Snapshot snapshot;
  std::map<std::string, Targets> targets;                        // "targets" and delegated roles
  std::map<std::string, std::vector<keys::PrivateKey>> signers;  // role -> signing keys
  std::vector<std::string> signed_roots;         // signed_roots[v-1] = bytes of root vN
  std::map<std::string, std::string> artifacts;  // target path -> content
  // Served bytes overrides (url file name -> bytes), applied before generation.
  std::map<std::string, std::string> overrides;
  // Metadata file names answered with 404 whatever the model says (checked before overrides).
  std::set<std::string> missing;
  // When set, files listed here are served with an extra byte appended etc. by tests.
  std::vector<std::string> requests;  // file names requested through install()

  keys::PrivateKey new_key() const;
  std::string key_id(const keys::PrivateKey& k) const;
  Json key_json(const keys::PrivateKey& k) const;

  // Replaces the keys of a top-level role in root (signers too); does not publish.
  void rotate_keys(RoleType role, int count = 1, std::int64_t threshold = 1);
  void add_key(RoleType role, const keys::PrivateKey& k);

  // Signs the current root (root.version must already be the next version) with the
  // signers of "root" plus `extra_signers`, and appends it to signed_roots.
  void publish_root(const std::vector<keys::PrivateKey>& extra_signers = {});
  // root.version++ and publish.
  void bump_root(const std::vector<keys::PrivateKey>& extra_signers = {});
  // Version bumps that keep the chain consistent: targets -> snapshot -> timestamp.
  void bump_timestamp();
  void bump_snapshot();                                    // also updates timestamp meta
  void bump_targets(const std::string& role = "targets");  // also snapshot + timestamp

  void add_target(const std::string& role, const std::string& path, const std::string& content);
  // Adds a delegated role under `delegator`, signed by a fresh key. Lists it in snapshot.
  DelegatedRole& add_delegation(const std::string& delegator, const std::string& name,
                                std::vector<std::string> paths, bool terminating = false);

  // Signed bytes of a role as currently modelled.
  std::string sign_root() const;
  std::string sign_timestamp() const;
  std::string sign_snapshot() const;
  std::string sign_targets(const std::string& role) const;

  // Signs every targets role, recomputes snapshot meta, signs the snapshot, recomputes the
  // timestamp meta and signs the timestamp (hashes/length when meta_hashes or Notary). What
  // install()/write_to() serve is the last publish(). Versions are not changed.
  void publish();
  std::map<std::string, std::string> published;  // role name -> signed bytes

  // Serves the repository at base_url through the fetcher: N.root.json, timestamp.json,
  // V.snapshot.json, V.ENC(role).json, targets at targets_url (hash-prefixed names).
  void install(MemoryFetcher& f, const std::string& metadata_url, const std::string& targets_url);
  // Answers one file name relative to the metadata URL (nullopt = 404).
  std::optional<std::string> serve_metadata(const std::string& name);
  std::optional<std::string> serve_target(const std::string& name) const;
  // Writes the repository as files (metadata/ and targets/) for an HTTP server.
  void write_to(const std::filesystem::path& metadata_dir,
                const std::filesystem::path& targets_dir);

  std::string sign(const Json& signed_json, const std::vector<keys::PrivateKey>& keys) const;

 private:
  // Key IDs of keys listed under another public form (x509 root certificates).
  std::map<std::string, std::string> keyid_by_der_;
  std::map<std::string, Json> json_by_der_;
  void init_common(Common& c, RoleType t);
  std::string meta_name(const std::string& role) const;
};

}  // namespace docket::tuf
