// The client's TUF metadata cache in Notary's trust-directory layout, so `docket`, `notary`
// and `docker` share one cache:
//
//   <trust_dir>/tuf/<gun>/metadata/root.json, timestamp.json, snapshot.json, targets.json
//   <trust_dir>/tuf/<gun>/metadata/targets/releases.json       (delegations: sub-directories)
//
// Paths come from tuf::RepoStore::path_of (each segment checked: no "", ".", ".." segments,
// so a role name from the server cannot address a file outside the metadata directory).
// Files are replaced atomically (temp file + rename: never a partial file under its name);
// directories are created 0700 as Notary does.
//
// Durability is traded for speed on purpose (a directory fsync cost ~70 ms on a busy disk,
// and a cold lookup wrote four): root.json's bytes are fsynced before the rename, the other
// roles' are not, and no directory is fsynced. After a crash the cache may lack the newest
// files (the previous versions, still signed, remain the rollback reference: at worst one
// crash's worth of rollback window) or hold a torn timestamp/snapshot/targets file, which
// fails verification and is fetched again. A root.json rename that did not survive means
// first use again (pins and the TOFU warning apply), never a torn trust anchor. Notary's
// own client does not fsync its cache at all.
#pragma once

#include "tuf/repo_store.h"
#include "tuf/store.h"

namespace docket::verifier {

class NotaryLayoutStore : public tuf::MetadataStore {
 public:
  explicit NotaryLayoutStore(tuf::RepoStore repo) : repo_(std::move(repo)) {}
  Result<std::optional<std::string>> load(const tuf::RoleName& role,
                                          std::size_t max_bytes) override;
  Status store(const tuf::RoleName& role, std::string_view bytes) override;
  const std::filesystem::path& metadata_dir() const { return repo_.metadata_dir(); }

 private:
  tuf::RepoStore repo_;
};

}  // namespace docket::verifier
