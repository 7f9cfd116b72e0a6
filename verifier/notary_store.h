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
//
// The root's fsync is the one slow step of a cold lookup (1-20 ms on this kind of disk, more
// than all of the verification), so a lookup may let it run in the background
// (RootWrite::background): store(root) then starts the whole atomic write (temp file, fsync,
// rename) on its own thread and returns at once, the timestamp, snapshot and targets
// requests overlap the fsync, and flush() waits for it and reports its outcome. Nothing about
// what ends up on disk changes, only when the caller waits: a load or store of root.json
// waits first (so reads see it and root versions land in order), and the caller must call
// flush() before it acts on the verified answer, so that answer never outlives a trust anchor
// that failed to reach the disk. The destructor waits too (an outcome nobody flushed is lost).
#pragma once

#include <future>

#include "tuf/repo_store.h"
#include "tuf/store.h"

namespace docket::verifier {

enum class RootWrite {
  synchronous,  // store(root) returns once root.json is written, fsynced and renamed
  background,   // store(root) starts that on a thread; flush() waits and reports it
};

class NotaryLayoutStore : public tuf::MetadataStore {
 public:
  explicit NotaryLayoutStore(tuf::RepoStore repo, RootWrite root_write = RootWrite::synchronous)
      : repo_(std::move(repo)), root_write_(root_write) {}
  ~NotaryLayoutStore() override;
  NotaryLayoutStore(NotaryLayoutStore&&) = default;
  NotaryLayoutStore& operator=(NotaryLayoutStore&&) = delete;

  Result<std::optional<std::string>> load(const tuf::RoleName& role,
                                          std::size_t max_bytes) override;
  Status store(const tuf::RoleName& role, std::string_view bytes) override;
  // Waits for a background root.json write; its error if it failed. Cheap when none is
  // pending.
  Status flush();
  const std::filesystem::path& metadata_dir() const { return repo_.metadata_dir(); }

 private:
  tuf::RepoStore repo_;
  RootWrite root_write_;
  std::future<Status> pending_root_;
};

}  // namespace docket::verifier
