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
// than all of the verification), and writing the other roles (directories, temp files,
// renames; 90 KB of targets among 1,000 tags) is ~0.5 ms more on the lookup's path, so a
// lookup lets every write run in the background (RootWrite::background): store() hands the
// whole atomic write (directories, temp file, the root's fsync, rename) to one writer thread
// and returns at once; the writes happen in the order they were stored, the requests and
// checks that follow overlap them, and flush() waits for all of them and reports the first
// failure. Nothing about what ends up on disk changes, only when the caller waits: a load of
// a role waits for that role's pending write (a load of root.json for every pending write,
// and reports a failure), and the caller must call flush() before it acts on the verified
// answer, so that answer never outlives a trust anchor, or a cache, that failed to reach the
// disk. The destructor waits too (an outcome nobody flushed is lost).
#pragma once

#include <memory>

#include "tuf/repo_store.h"
#include "tuf/store.h"

namespace docket::verifier {

enum class RootWrite {
  synchronous,  // store() returns once the file is written (root.json: fsynced) and renamed
  background,   // store() queues that for a writer thread; flush() waits and reports it
};

class NotaryLayoutStore : public tuf::MetadataStore {
 public:
  explicit NotaryLayoutStore(tuf::RepoStore repo, RootWrite root_write = RootWrite::synchronous);
  ~NotaryLayoutStore() override;
  NotaryLayoutStore(NotaryLayoutStore&&) noexcept;
  NotaryLayoutStore& operator=(NotaryLayoutStore&&) = delete;

  Result<std::optional<std::string>> load(const tuf::RoleName& role,
                                          std::size_t max_bytes) override;
  Status store(const tuf::RoleName& role, std::string_view bytes) override;
  // Waits for every background write; the first failure among them, if any (reported once).
  // Cheap when none is pending.
  Status flush();
  const std::filesystem::path& metadata_dir() const { return repo_.metadata_dir(); }

 private:
  struct Writer;  // the background writes (notary_store.cpp)

  tuf::RepoStore repo_;
  RootWrite root_write_;
  std::unique_ptr<Writer> writer_;  // RootWrite::background: started by the constructor
};

}  // namespace docket::verifier
