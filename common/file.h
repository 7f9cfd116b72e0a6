// Files written so that a crash never leaves a torn or half-written file under its final
// name: temp file in the same directory, fsync, rename, fsync of the directory.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"

namespace docket {

// What atomic_write_file makes durable before it returns. Readers never see a partial file
// in any mode; the modes differ in what an OS crash may undo.
enum class WriteSync {
  file_and_directory,  // the bytes and the rename (fsync of the file, then the directory)
  file,                // the bytes only: after a crash the name holds the old or new file
  none,                // nothing: a crash may lose the write (caches that can be refetched)
};

// Writes `bytes` to `path` atomically with permission bits `mode`. The temp file is named
// ".<name>.tmp-<random>" (never ending in the final name's extension).
Status atomic_write_file(const std::filesystem::path& path, std::string_view bytes,
                         unsigned mode = 0644, WriteSync sync = WriteSync::file_and_directory);

// Creates `dir` and any missing parents with permission bits `mode` (existing ones are left
// as they are).
Status make_directories(const std::filesystem::path& dir, unsigned mode = 0700);

// Reads a whole file, failing with Fault::local if it is larger than max_bytes.
Result<std::string> read_file(const std::filesystem::path& path,
                              std::size_t max_bytes = 64 * 1024 * 1024);

// fsync of a directory, so a rename inside it is durable.
Status fsync_dir(const std::filesystem::path& dir);

// Random bytes from the OS CSPRNG.
std::string random_bytes(std::size_t n);
// 32 lower-hex random characters, for temp names and IDs.
std::string random_hex_id();
// RFC 4122 version 4 UUID text.
std::string uuid4();

}  // namespace docket
