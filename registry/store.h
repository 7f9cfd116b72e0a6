// The registry's content model on top of a StorageDriver: content-addressed blobs,
// per-repository links, upload sessions that survive restarts, manifests stored as the
// exact pushed bytes, tags, referrers.
//
// Layout (all below the driver root):
//   /blobs/<alg>/<hex[0:2]>/<hex>/data                       verified content, manifests too
//   /repositories/<name>/_layers/<alg>/<hex>/link             blob is in <name>
//   /repositories/<name>/_manifests/revisions/<alg>/<hex>/link  {"mediaType","size","subject"?}
//   /repositories/<name>/_manifests/tags/<tag>/link           "<alg>:<hex>"
//   /repositories/<name>/_uploads/<uuid>/{data,startedat}     upload in progress
//   /repositories/<name>/_referrers/<alg>/<subject hex>/<alg>-<hex>  referrer descriptor JSON
//
// Crash safety: a blob becomes visible only by rename() of an fdatasynced, digest-verified
// upload file, so no crash leaves partial content under a digest name. A blob's rename and
// its layer link are made durable together (one SyncBatch) before the upload is
// acknowledged; a crash during that round can leave an orphan blob (GC removes it) or a
// layer link without its blob, which every reader treats as no link (HEAD/GET answer
// BLOB_UNKNOWN, a manifest naming it MANIFEST_BLOB_UNKNOWN, a new upload restores it).
// Manifests are written content first, then revision link, then tags, each durable before
// the next, so a tag never names a missing manifest.
//
// Errors carry the OCI error code as Error::code ("BLOB_UNKNOWN", ...); oci_status() maps
// it to the HTTP status. Storage failures keep their driver code ("io").
#pragma once

#include <chrono>
#include <cstdint>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/error.h"
#include "common/json.h"
#include "common/names.h"
#include "registry/storage.h"

namespace docket::registry {

inline constexpr std::size_t kMaxRepoNameLength = kMaxRepositoryNameLength;
inline constexpr std::size_t kMaxTagLength = 128;

// The distribution grammar (common/names.h), <= kMaxRepoNameLength bytes.
bool valid_repo_name(std::string_view name);
// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
bool valid_tag(std::string_view tag);

Error oci_error(std::string code, std::string message, Json detail = nullptr);
unsigned oci_status(std::string_view code);
// {"errors":[{"code","message","detail"}]}
Json oci_error_body(const Error& e, const Json& detail = nullptr);

namespace media {
inline constexpr std::string_view oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view docker_manifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view docker_list =
    "application/vnd.docker.distribution.manifest.list.v2+json";
}  // namespace media

struct StoreOptions {
  std::uint64_t max_manifest_bytes = 4 * 1024 * 1024;
  std::uint64_t manifest_cache_bytes = 64 * 1024 * 1024;  // immutable content by digest
  std::size_t max_index_children = 10'000;
};

struct Manifest {
  Digest digest = Digest::of("");
  std::string media_type;
  std::shared_ptr<const std::string> bytes;
};

struct PutManifestResult {
  Digest digest = Digest::of("");
  std::optional<Digest> subject;
  std::vector<std::string> tags;
};

class Store;

// One upload session. Exactly one request may append at a time (begin()/end()).
class UploadSession {
 public:
  // Waits for background hashing: the piece's task refers to this session.
  ~UploadSession() { drain(); }
  const std::string& repo() const { return repo_; }
  const std::string& uuid() const { return uuid_; }
  std::uint64_t size() const { return size_; }
  // Claims the session for one request; false if another request holds it.
  bool begin();
  void end();
  // Writes `bytes` and hashes them. Pieces of kBackgroundHashBytes or more are hashed on
  // another thread while the caller receives the next piece, so `bytes` must stay intact
  // until the next append(), drain(), commit() or invalidate() returns (the
  // RequestBodySink contract gives exactly that).
  Status append(std::string_view bytes);
  // Where the next piece may be received for append() to take it without a copy (the
  // storage writer's FileWriter::append_buffer()); empty when there is no such place.
  std::span<char> append_buffer(std::size_t max);
  // Waits for the background hashing of the last piece.
  void drain();
  // drain(), then writes out what the storage writer still buffers, so the upload file
  // holds every byte size() counts (a session rebuilt from storage after a restart or a
  // failed request resumes from there). Called when a request's body ends.
  Status flush();
  static constexpr std::size_t kBackgroundHashBytes = 256 * 1024;
  // Verifies `expected` over everything appended, then makes the blob visible in repo.
  Status commit(const Digest& expected);
  // Forgets the in-memory state (after a failed or partial request): the next request
  // rebuilds it from storage, truncated to `size` bytes.
  void invalidate(std::uint64_t size);

 private:
  friend class Store;
  UploadSession(Store& s, std::string repo, std::string uuid)
      : store_(s), repo_(std::move(repo)), uuid_(std::move(uuid)) {}
  Store& store_;
  std::string repo_, uuid_;
  std::mutex mu_;
  bool busy_ = false;
  bool broken_ = false;
  std::uint64_t size_ = 0;
  std::unique_ptr<FileWriter> writer_;
  // Hashes what is appended with the algorithm the client announced (POST
  // ?digest-algorithm= or the monolithic ?digest=); sha256 by default. A commit with another
  // algorithm rereads the stored bytes instead.
  Hasher hash_{HashAlgorithm::sha256};
  // Hashing of the last large piece, running beside the receipt of the next (a 256 MiB
  // upload then costs about max(receive + write, hash) instead of their sum).
  std::future<void> hashing_;
};

class Store {
 public:
  Store(std::unique_ptr<StorageDriver> driver, StoreOptions opts = {});
  StorageDriver& driver() { return *driver_; }
  const StoreOptions& options() const { return opts_; }

  // Blobs
  Result<std::uint64_t> blob_size(const std::string& repo, const Digest& d);
  Result<net::FileBody> open_blob(const std::string& repo, const Digest& d);
  Status delete_blob(const std::string& repo, const Digest& d);
  // Links an existing blob of `from` into `repo`; false if `from` does not have it.
  Result<bool> mount_blob(const std::string& repo, const std::string& from, const Digest& d);

  // Uploads
  // `alg` is the digest algorithm the upload will be committed with (kept on disk so a
  // resumed upload after a restart hashes the same way).
  Result<std::shared_ptr<UploadSession>> start_upload(const std::string& repo,
                                                      HashAlgorithm alg = HashAlgorithm::sha256);
  Result<std::shared_ptr<UploadSession>> find_upload(const std::string& repo,
                                                     const std::string& uuid);
  Status cancel_upload(const std::string& repo, const std::string& uuid);
  // Removes uploads started before `older_than`; returns how many.
  Result<std::size_t> purge_uploads(std::chrono::system_clock::time_point older_than);

  // Manifests. `reference` is a tag or a digest string (validated here).
  Result<Manifest> get_manifest(const std::string& repo, std::string_view reference);
  Result<PutManifestResult> put_manifest(const std::string& repo, std::string_view reference,
                                         std::string_view content_type, std::string bytes,
                                         const std::vector<std::string>& extra_tags);
  // By digest: the revision, every tag pointing at it, its referrer entry. By tag: the tag.
  Status delete_manifest(const std::string& repo, std::string_view reference);

  Result<std::vector<std::string>> tags(const std::string& repo);  // sorted; NAME_UNKNOWN
  // Sorted. Cached for kCatalogCacheTtl; manifest pushes/deletes through this Store drop
  // the cache at once, so only other replicas' changes can be that late.
  Result<std::vector<std::string>> repositories();
  static constexpr std::chrono::seconds kCatalogCacheTtl{2};
  // One page of the referrers index of `subject` in repo ("manifests" filtered by
  // artifactType), in the order of the referrers' digests: at most `limit` descriptors whose
  // digest sorts after `after`. `next` is the last digest of the page when more remain.
  struct ReferrersPage {
    Json index;
    std::optional<Digest> next;
  };
  Result<ReferrersPage> referrers(const std::string& repo, const Digest& subject,
                                  const std::optional<std::string>& artifact_type,
                                  const std::optional<Digest>& after = std::nullopt,
                                  std::size_t limit = std::numeric_limits<std::size_t>::max());

  // Paths (for GC and tests).
  static std::string blob_path(const Digest& d);
  static std::string repo_path(const std::string& repo) { return "/repositories/" + repo; }
  static std::string layer_link(const std::string& repo, const Digest& d);
  static std::string revision_link(const std::string& repo, const Digest& d);
  static std::string tag_link(const std::string& repo, const std::string& tag);
  static std::string upload_dir(const std::string& repo, const std::string& uuid);

 private:
  friend class UploadSession;
  void forget_upload(const std::string& repo, const std::string& uuid);
  void drop_catalog_cache();
  Status commit_blob_file(const std::string& upload_data_path, const Digest& d, SyncBatch* batch);
  Status link_blob(const std::string& repo, const Digest& d, SyncBatch* batch = nullptr);
  Result<std::shared_ptr<const std::string>> manifest_bytes(const Digest& d);
  Status check_descriptor_exists(const std::string& repo, const Json& desc, bool manifest,
                                 std::string_view what);

  std::unique_ptr<StorageDriver> driver_;
  StoreOptions opts_;
  std::mutex uploads_mu_;
  std::map<std::string, std::shared_ptr<UploadSession>> uploads_;  // "<repo>\n<uuid>"
  std::mutex repos_mu_;
  std::optional<std::vector<std::string>> repos_cache_;  // dropped on every local change
  std::chrono::steady_clock::time_point repos_cached_at_{};
  std::shared_mutex cache_mu_;
  std::map<std::string, std::shared_ptr<const std::string>> cache_;  // digest -> bytes
  std::uint64_t cache_bytes_ = 0;
};

}  // namespace docket::registry
