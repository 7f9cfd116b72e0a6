// Streaming tar (POSIX.1-2001 ustar, with pax extended headers for long names, long link
// targets and sizes past 8 GiB). The reader also understands GNU long-name entries and
// base-256 numbers, as written by GNU tar and Go's archive/tar, and verifies every header
// checksum. Nothing here touches the file system: callers decide what an entry means.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "client/stream.h"

namespace docket::client {

// Largest pax/GNU extended header accepted (real ones are a few hundred bytes).
inline constexpr std::size_t kMaxTarExtendedHeader = 1024 * 1024;
// Longest entry name accepted (PATH_MAX on Linux).
inline constexpr std::size_t kMaxTarNameLength = 4096;

struct TarEntry {
  enum class Type : char {
    file = '0',
    hardlink = '1',
    symlink = '2',
    chardev = '3',
    blockdev = '4',
    directory = '5',
    fifo = '6',
  };
  std::string name;
  Type type = Type::file;
  std::string linkname;
  std::uint64_t size = 0;  // body bytes (regular files only)
  unsigned mode = 0644;
  std::uint64_t uid = 0, gid = 0;
  std::int64_t mtime = 0;  // seconds since the epoch
  std::string uname, gname;
  unsigned devmajor = 0, devminor = 0;
};

class TarWriter {
 public:
  explicit TarWriter(Sink out) : out_(std::move(out)) {}
  // Writes the header (and a pax header first if a field does not fit ustar). For a file,
  // exactly e.size body bytes must follow through write() before the next add()/finish().
  Status add(const TarEntry& e);
  Status write(std::string_view body);
  // Adds a whole file entry with an in-memory body.
  Status add_file(std::string name, std::string_view body, unsigned mode = 0644,
                  std::int64_t mtime = 0);
  // Two zero blocks; the archive is complete.
  Status finish();
  std::uint64_t bytes_written() const { return written_; }

 private:
  Status emit(std::string_view b);
  Status end_body();
  Sink out_;
  std::uint64_t remaining_ = 0;
  std::uint64_t pad_ = 0;
  std::uint64_t written_ = 0;
};

class TarReader {
 public:
  // `fault` is whose fault a malformed archive is (user for `load -i`, remote for layers).
  explicit TarReader(Source in, Fault fault = Fault::user) : in_(std::move(in)), fault_(fault) {}
  // The next entry (extended headers already applied), or nullopt at the end of the
  // archive. Any unread body of the previous entry is skipped.
  Result<std::optional<TarEntry>> next();
  // Reads the current entry's body; 0 at its end.
  Result<std::size_t> read(char* buf, std::size_t n);
  Source body_source() {
    return [this](char* b, std::size_t n) { return read(b, n); };
  }

 private:
  Status read_exact(char* buf, std::size_t n);
  Status skip(std::uint64_t n);
  Source in_;
  Fault fault_;
  std::uint64_t remaining_ = 0;
  std::uint64_t pad_ = 0;
};

}  // namespace docket::client
