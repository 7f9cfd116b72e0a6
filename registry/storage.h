// Storage driver interface for the registry. A driver stores opaque files under
// '/'-separated paths ("/blobs/sha256/ab/<hex>/data"); the registry's layout, content
// addressing and verification live above it (registry/store.h), so every backend (the
// filesystem now, object storage later) only has to honour this contract, which the
// parameterised conformance suite in registry/tests/storage_conformance_test.cpp checks:
//
//  * put() and move() are atomic and durable: a reader sees the old file, the new file or
//    nothing, never a torn one, and once they return the result survives a crash (put() with
//    a weaker Durability keeps the atomicity but not every part of the durability: see
//    below; with a SyncBatch the durability comes at the batch's commit() instead).
//  * Directories a durable put() or move() had to create are durable when it returns too
//    (their entries up to the first directory that already existed are synced).
//  * Writers write to a path that is not visible to get()/open() under a final blob name:
//    the registry only ever renames verified uploads into place.
//  * Missing paths give Error code "not_found" (Fault::local).
//  * Paths must start with '/', have no empty, "." or ".." segments, and only contain
//    [A-Za-z0-9._:-]; anything else is refused with code "bad_path" (Fault::bug: the
//    registry validated names before building a path).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "net/router.h"

namespace docket::registry {

struct FileInfo {
  std::uint64_t size = 0;
  bool is_dir = false;
  std::chrono::system_clock::time_point modified{};
};

// Appends to one file; durable only after sync(). A writer may keep recent bytes in its
// own buffers: they reach the file at flush(), sync() or destruction, so a reader or a new
// writer on the path sees every byte size() counts only after one of those.
class FileWriter {
 public:
  virtual ~FileWriter() = default;
  virtual Status write(std::string_view bytes) = 0;
  // Free space, up to `max` bytes, at the end of the writer's own buffer, where the next
  // bytes to write() may be placed by the caller (received straight into it) and then
  // written with no copy: write() with a view that starts at the span's start. Valid until
  // any other call. Empty: the writer has no such buffer now.
  virtual std::span<char> append_buffer(std::size_t max) {
    (void)max;
    return {};
  }
  // Bytes accepted by write(), with what the file had when the writer was opened.
  virtual std::uint64_t size() const = 0;
  // Writes out buffered bytes (no fsync); the writer stays usable for more appends.
  virtual Status flush() = 0;
  // flush() and fsync; the writer stays usable for more appends.
  virtual Status sync() = 0;
};

// What put() promises about a crash of the machine (a process crash loses nothing in any
// mode). Each step down saves fsyncs, which on a journaling filesystem means whole journal
// commits: the registry uses the weaker modes only where the stored bytes do not matter.
enum class Durability {
  full,       // name and content survive once put() returns
  name_only,  // the name survives; after an OS crash the content may be empty (layer links,
              // whose path is the information)
  none,       // may vanish entirely after an OS crash (upload bookkeeping: a client whose
              // session is lost starts the upload again)
};

// Several put()/move() calls made durable together. With a batch, each call is atomic and
// visible when it returns as without one, but it is durable only once the batch's commit()
// has returned OK; the driver then establishes all of it at once (the filesystem driver
// fsyncs every directory involved concurrently, so a blob and its repository link cost one
// round of directory syncs instead of one sync after another). After a crash before
// commit() returns, any subset of the batch's changes may have survived, in any order: a
// caller batches only changes whose partial survival its readers tolerate. Destroying a
// batch without commit() still makes its changes durable (the error is lost), so a change a
// concurrent request already saw is never left without its sync.
class SyncBatch {
 public:
  virtual ~SyncBatch() = default;
  virtual Status commit() = 0;
};

class StorageDriver {
 public:
  virtual ~StorageDriver() = default;
  virtual std::string name() const = 0;

  virtual Result<std::string> get(std::string_view path, std::uint64_t max_bytes) = 0;
  virtual Status put(std::string_view path, std::string_view bytes,
                     Durability durability = Durability::full, SyncBatch* batch = nullptr) = 0;
  virtual Result<FileInfo> stat(std::string_view path) = 0;
  // Names of the direct children, sorted bytewise.
  virtual Result<std::vector<std::string>> list(std::string_view dir) = 0;
  // Removes a file or a whole tree. Missing is not an error.
  virtual Status remove(std::string_view path) = 0;
  // remove() for what nobody reads again (a discarded upload): the name is gone when this
  // returns, but the space may be freed after, off the caller's path. Missing is not an
  // error.
  virtual Status discard(std::string_view path) { return remove(path); }
  // Atomic, durable rename; creates parents; replaces an existing destination file.
  virtual Status move(std::string_view from, std::string_view to, SyncBatch* batch = nullptr) = 0;
  // A batch for put()/move() (see SyncBatch).
  virtual std::unique_ptr<SyncBatch> batch() = 0;
  // Makes sure the existing file `path` is durable (at once, or at the batch's commit): for a
  // file another request may have just put() or moved there and not synced yet, which a
  // caller is about to acknowledge as stored (two concurrent uploads of one blob).
  // Missing gives "not_found".
  virtual Status ensure_durable(std::string_view path, SyncBatch* batch = nullptr) = 0;
  // Opens (creating if needed) a file for appending.
  virtual Result<std::unique_ptr<FileWriter>> append(std::string_view path) = 0;
  // Truncates a file to `size` bytes (upload resume after a partial write).
  virtual Status truncate(std::string_view path, std::uint64_t size) = 0;
  // Opens a file for reading: a descriptor the server can sendfile() from. Drivers that
  // cannot (object storage) return code "unsupported" and will serve via redirects.
  virtual Result<net::FileBody> open(std::string_view path) = 0;
  // Calls fn(path) for every file under dir, depth first (GC, catalog).
  virtual Status walk(std::string_view dir,
                      const std::function<void(const std::string&, const FileInfo&)>& fn) = 0;
};

struct FilesystemOptions {
  // Skips every fsync (data and directories). A process crash (kill -9) still loses
  // nothing, since the kernel keeps the page cache, but an OS crash or power cut may lose
  // acknowledged uploads or leave a blob file with missing bytes under its digest name.
  // For throwaway or benchmark registries only.
  bool unsafe_skip_fsync = false;
};
Result<std::unique_ptr<StorageDriver>> make_filesystem_driver(const std::string& root,
                                                              FilesystemOptions opts = {});

// Validates a driver path (see the contract above).
Status check_path(std::string_view path);

}  // namespace docket::registry
