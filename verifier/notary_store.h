// The client's TUF metadata cache in Notary's trust-directory layout, so `docket`, `notary`
// and `docker` share one cache:
//
//   <trust_dir>/tuf/<gun>/metadata/root.json, timestamp.json, snapshot.json, targets.json
//   <trust_dir>/tuf/<gun>/metadata/targets/releases.json       (delegations: sub-directories)
//
// Paths come from tuf::RepoStore::path_of (each segment checked: no "", ".", ".." segments,
// so a role name from the server cannot address a file outside the metadata directory).
// Files are replaced atomically; directories are created 0700 as Notary does.
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
