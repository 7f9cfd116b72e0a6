// Byte streams for the client's data paths (tar, gzip, blobs): a Source is pulled from, a
// Sink is pushed into. Both are plain std::functions so any layer (file, HTTP body, hasher,
// gzip) composes without copies of whole blobs in memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/digest.h"
#include "common/error.h"

namespace docket::client {

// Reads up to n bytes into buf; returns 0 at end of stream.
using Source = std::function<Result<std::size_t>(char* buf, std::size_t n)>;
using Sink = std::function<Status(std::string_view bytes)>;

inline constexpr std::size_t kStreamBufferSize = 256 * 1024;

// A file opened for reading as a Source (owns the descriptor).
Result<Source> file_source(const std::filesystem::path& p, std::uint64_t offset = 0);
Source string_source(std::string data);
// Copies all of src into sink; returns the byte count.
Result<std::uint64_t> pump(Source& src, const Sink& sink);
// Reads a whole source into memory, failing past max_bytes (Fault given).
Result<std::string> read_all(Source& src, std::size_t max_bytes, Fault fault,
                             std::string_view what);

// A file written through a descriptor, fsync'd on close. Removes the file if destroyed
// without close() (so an error path never leaves a partial file behind).
class FileWriter {
 public:
  static Result<std::unique_ptr<FileWriter>> create(const std::filesystem::path& p,
                                                    unsigned mode = 0644);
  ~FileWriter();
  Status write(std::string_view bytes);
  Status close();  // fsync + close
  std::uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  Sink sink() {
    return [this](std::string_view b) { return write(b); };
  }

 private:
  FileWriter() = default;
  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  bool closed_ = false;
};

// gzip (RFC 1952) via zlib. The decompressor accepts concatenated members, as gzip does,
// and fails on truncated or corrupt input with Fault `fault`.
Source gunzip_source(Source compressed, Fault fault = Fault::remote);
// A Sink that compresses into `out`; call the returned finish function once at the end.
struct GzipSink {
  Sink sink;
  std::function<Status()> finish;
};
GzipSink gzip_sink(Sink out, int level = 6);
// True if the bytes start with the gzip magic.
bool looks_gzip(std::string_view head);

}  // namespace docket::client
