// Garbage collection: mark every blob that any repository links or any remaining
// manifest references (config, layers, index children), sweep the rest.
//
// Safe while the registry serves: nothing younger than `grace` is deleted (a push in
// flight renames its blob into place before linking it, and a manifest is stored before
// its revision link), and linked blobs are never candidates. With delete_untagged,
// manifests not reachable from a tag (directly, through an index, or as a referrer of a
// reachable manifest) are removed first, again only when older than `grace`.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "registry/store.h"

namespace docket::registry {

struct GcOptions {
  bool dry_run = false;
  bool delete_untagged = false;
  std::chrono::seconds grace{3600};
  std::chrono::seconds upload_max_age{7 * 24 * 3600};
};

struct GcReport {
  std::size_t blobs_total = 0;
  std::size_t blobs_marked = 0;
  std::vector<std::string> blobs_deleted;  // digests (would be deleted, in a dry run)
  std::uint64_t bytes_freed = 0;
  std::vector<std::string> manifests_deleted;  // "repo@digest"
  std::size_t uploads_purged = 0;
};

Result<GcReport> collect_garbage(Store& store, const GcOptions& opts);

}  // namespace docket::registry
