// push and pull: the engine between the registry client and the local store.
//
// Pull: manifest (by digest when the caller already trusts one, e.g. from TUF) → for an
// index, the platform's manifest by digest → config and layers downloaded in parallel, each
// through the store's verifying ingest (hashed while streaming, length checked, renamed
// into blobs/ only when it matches) → manifest and index stored → the name tagged last, so
// an interrupted or refused pull never leaves a name pointing at a partial image.
//
// Push: blobs the registry lacks are uploaded in parallel (mounted from another repository
// on the same registry when the store knows one holds them), then manifests by digest,
// then the top manifest under the tag.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "client/progress.h"
#include "client/registry_client.h"
#include "client/store.h"

namespace docket::client {

inline constexpr int kDefaultParallelTransfers = 4;
inline constexpr int kMaxParallelTransfers = 32;

struct PullOptions {
  Platform platform = Platform::host();
  int parallel = kDefaultParallelTransfers;
  Progress* progress = nullptr;
  // When set (content trust), the manifest is fetched by this digest and must have this
  // size; the tag is not resolved through the registry at all.
  std::optional<Descriptor> trusted;
  // Content trust of a multi-platform index: called with the index entry chosen for the
  // platform before that manifest is fetched; an error refuses the pull (nothing stored).
  std::function<Status(const Descriptor& platform_manifest)> check_platform_manifest;
};

struct PullResult {
  Reference reference;  // as tagged locally
  Descriptor target;    // what the name points at (index or manifest)
  Descriptor manifest;  // the platform manifest
  std::size_t blobs_downloaded = 0;
  std::size_t blobs_present = 0;
  std::uint64_t bytes_downloaded = 0;
};

Result<PullResult> pull_image(RegistryClient& reg, ImageStore& store, const Reference& ref,
                              const PullOptions& opts);

struct PushOptions {
  int parallel = kDefaultParallelTransfers;
  Progress* progress = nullptr;
};

struct PushResult {
  Descriptor target;  // digest and size of what the remote tag now points at
  // When target is an index: its platform manifests as the index lists them (digest, size,
  // platform), all pushed.
  std::vector<Descriptor> platform_manifests;
  std::size_t blobs_uploaded = 0;
  std::size_t blobs_mounted = 0;
  std::size_t blobs_present = 0;
  std::uint64_t bytes_uploaded = 0;
};

// Pushes the local image `local` to `remote` (same registry domain as `reg`).
Result<PushResult> push_image(RegistryClient& reg, ImageStore& store, const Reference& local,
                              const Reference& remote, const PushOptions& opts);

// Repositories ("domain/path") known to hold a blob (recorded on pull and push), for mounts.
std::vector<std::string> blob_sources(const ImageStore& store, const Digest& d);
void record_blob_source(const ImageStore& store, const Digest& d, const std::string& repository);

// Runs tasks on up to `parallel` threads; returns the first error (later tasks are skipped
// once one has failed).
Status run_parallel(int parallel, std::vector<std::function<Status()>> tasks);

}  // namespace docket::client
