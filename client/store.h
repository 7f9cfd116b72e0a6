// The local image store: an OCI image layout (oci-layout, index.json, blobs/<alg>/<hex>)
// under the data directory, blobs shared by digest between all images. index.json names
// images with the "io.containerd.image.name" annotation (the full reference, as docker
// save writes it) and "org.opencontainers.image.ref.name" (the tag), so the directory is
// readable by skopeo/umoci as an OCI layout.
//
// Integrity: a blob is only ever created under its final name by Ingest::commit(), after
// its bytes hashed to the expected digest and length; partial downloads live in ingest/
// and are removed on failure. Updates to index.json are serialised with an flock and
// written atomically. Garbage collection holds an exclusive lock that ingests (pulls, loads)
// share, so it never deletes a blob an unfinished pull has just stored.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/image.h"
#include "client/reference.h"
#include "client/stream.h"

namespace docket::client {

// $DOCKET_DATA_DIR, else $XDG_DATA_HOME/docket, else ~/.local/share/docket.
std::filesystem::path default_data_dir();

inline constexpr std::string_view kAnnotationImageName = "io.containerd.image.name";
inline constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";

// An advisory file lock held for the object's lifetime.
class FileLock {
 public:
  static Result<FileLock> acquire(const std::filesystem::path& p, bool exclusive);
  FileLock(FileLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileLock& operator=(FileLock&& o) noexcept;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

struct ImageRecord {
  Reference reference;  // full, with tag (or digest for untagged pulls by digest)
  Descriptor target;    // manifest or index
};

struct GcStats {
  std::size_t blobs_removed = 0;
  std::uint64_t bytes_removed = 0;
};

class ImageStore {
 public:
  // Opens (creating if needed) the layout at `root`.
  static Result<ImageStore> open(const std::filesystem::path& root);
  const std::filesystem::path& root() const { return root_; }

  std::filesystem::path blob_path(const Digest& d) const;
  bool has_blob(const Digest& d) const;
  // Reads a (small) blob whole; checks its digest again, since readers trust the result.
  Result<std::string> read_blob(const Digest& d, std::size_t max_bytes) const;
  Result<Source> open_blob(const Digest& d) const;
  Result<std::uint64_t> blob_size(const Digest& d) const;

  // Streams a blob in. If `expected` is given, commit() fails (remote, hash_mismatch)
  // unless the bytes hash to it with `expected_size` bytes; nothing lands in blobs/.
  class Ingest {
   public:
    ~Ingest();
    Status write(std::string_view bytes);
    Sink sink() {
      return [this](std::string_view b) { return write(b); };
    }
    std::uint64_t size() const { return size_; }
    // Verifies and moves the blob under its digest. Returns the digest.
    Result<Digest> commit();

   private:
    friend class ImageStore;
    Ingest() = default;
    const ImageStore* store_ = nullptr;
    std::unique_ptr<FileWriter> file_;
    std::optional<Hasher> hasher_;
    std::optional<Digest> expected_;
    std::optional<std::uint64_t> expected_size_;
    std::uint64_t size_ = 0;
    Fault fault_ = Fault::remote;
    std::string what_;
  };
  // `what` names the blob in errors ("layer 3 of localhost:5000/app:1"); `fault` is whose
  // fault a mismatch is (remote for pulls, user for loaded archives).
  Result<std::unique_ptr<Ingest>> begin_ingest(std::optional<Digest> expected,
                                               std::optional<std::uint64_t> expected_size,
                                               std::string what, Fault fault = Fault::remote,
                                               HashAlgorithm alg = HashAlgorithm::sha256) const;
  // Stores a small blob from memory (manifests, configs).
  Result<Digest> put_blob(std::string_view bytes) const;

  // Names → targets (index.json).
  Result<std::vector<ImageRecord>> list() const;
  // Looks a reference up: by digest if it has one (the digest must be in the store), else
  // by name:tag (latest if none). nullopt if unknown.
  Result<std::optional<Descriptor>> resolve(const Reference& ref) const;
  // Points a name at a target (replacing what the name pointed at).
  Status tag(const Reference& ref, const Descriptor& target);
  // Removes a name; false if it did not exist.
  Result<bool> untag(const Reference& ref);
  // Deletes every blob not reachable from index.json (plus stale ingest files).
  Result<GcStats> gc();

  // Shared lock held by pulls/loads so gc() waits for them.
  Result<FileLock> lock_shared() const;

 private:
  Result<Json> read_index() const;
  Status write_index(const Json& idx) const;
  std::filesystem::path root_;
};

// Every blob a stored image needs (manifest/index, configs, layers), recursively; fails if a
// manifest blob is missing or malformed (local fault).
Result<std::vector<Descriptor>> image_closure(const ImageStore& store, const Descriptor& target);

}  // namespace docket::client
