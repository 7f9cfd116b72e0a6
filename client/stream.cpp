#include "client/stream.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

namespace docket::client {
namespace fs = std::filesystem;

namespace {
Error io_err(const std::string& what, const fs::path& p) {
  return Error{Fault::local, "io", what + " " + p.string() + ": " + std::strerror(errno)};
}
}  // namespace

Result<Source> file_source(const fs::path& p, std::uint64_t offset) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(io_err("opening", p));
  if (offset > 0 && ::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) {
    Error e = io_err("seeking in", p);
    ::close(fd);
    return std::unexpected(e);
  }
  auto holder = std::shared_ptr<int>(new int(fd), [](int* f) {
    ::close(*f);
    delete f;
  });
  return Source([holder, p](char* buf, std::size_t n) -> Result<std::size_t> {
    while (true) {
      ssize_t r = ::read(*holder, buf, n);
      if (r >= 0) return static_cast<std::size_t>(r);
      if (errno != EINTR) return std::unexpected(io_err("reading", p));
    }
  });
}

Source string_source(std::string data) {
  auto s = std::make_shared<std::string>(std::move(data));
  auto off = std::make_shared<std::size_t>(0);
  return [s, off](char* buf, std::size_t n) -> Result<std::size_t> {
    std::size_t k = std::min(n, s->size() - *off);
    std::memcpy(buf, s->data() + *off, k);
    *off += k;
    return k;
  };
}

Result<std::uint64_t> pump(Source& src, const Sink& sink) {
  std::string buf(kStreamBufferSize, '\0');
  std::uint64_t total = 0;
  while (true) {
    auto n = src(buf.data(), buf.size());
    if (!n) return std::unexpected(n.error());
    if (*n == 0) return total;
    if (auto s = sink(std::string_view(buf.data(), *n)); !s) return std::unexpected(s.error());
    total += *n;
  }
}

Result<std::string> read_all(Source& src, std::size_t max_bytes, Fault fault,
                             std::string_view what) {
  std::string out;
  char buf[65536];
  while (true) {
    auto n = src(buf, sizeof buf);
    if (!n) return std::unexpected(n.error());
    if (*n == 0) return out;
    if (out.size() + *n > max_bytes)
      return make_error(
          fault, "too_large",
          std::string(what) + " is larger than " + std::to_string(max_bytes) + " bytes");
    out.append(buf, *n);
  }
}

Result<std::unique_ptr<FileWriter>> FileWriter::create(const fs::path& p, unsigned mode) {
  std::unique_ptr<FileWriter> w(new FileWriter());
  w->path_ = p;
  w->fd_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (w->fd_ < 0) return std::unexpected(io_err("creating", p));
  return w;
}

FileWriter::~FileWriter() {
  if (!closed_) {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
}

Status FileWriter::write(std::string_view b) {
  while (!b.empty()) {
    ssize_t w = ::write(fd_, b.data(), b.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_err("writing", path_));
    }
    b.remove_prefix(static_cast<std::size_t>(w));
    size_ += static_cast<std::size_t>(w);
  }
  return {};
}

Status FileWriter::close() {
  if (closed_) return {};
  if (::fsync(fd_) != 0) return std::unexpected(io_err("fsync", path_));
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return std::unexpected(io_err("closing", path_));
  closed_ = true;
  return {};
}

bool looks_gzip(std::string_view head) {
  return head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x1f &&
         static_cast<unsigned char>(head[1]) == 0x8b;
}

namespace {
struct Inflater {
  z_stream z{};
  Source src;
  Fault fault;
  std::string in;
  bool eof_in = false;
  bool done = false;  // stream finished and no further member follows
  bool member_end = false;
  Inflater(Source s, Fault f) : src(std::move(s)), fault(f), in(kStreamBufferSize, '\0') {
    inflateInit2(&z, 15 + 16);
  }
  ~Inflater() { inflateEnd(&z); }
};
}  // namespace

Source gunzip_source(Source compressed, Fault fault) {
  auto st = std::make_shared<Inflater>(std::move(compressed), fault);
  return [st](char* buf, std::size_t n) -> Result<std::size_t> {
    auto& z = st->z;
    while (!st->done) {
      if (z.avail_in == 0 && !st->eof_in) {
        auto r = st->src(st->in.data(), st->in.size());
        if (!r) return std::unexpected(r.error());
        if (*r == 0) st->eof_in = true;
        z.next_in = reinterpret_cast<Bytef*>(st->in.data());
        z.avail_in = static_cast<uInt>(*r);
      }
      if (st->member_end) {
        // After one gzip member: more input means another member (gzip -c a b); none is the end.
        if (z.avail_in == 0 && st->eof_in) {
          st->done = true;
          break;
        }
        if (z.avail_in == 0) continue;
        inflateReset(&z);
        st->member_end = false;
      }
      if (z.avail_in == 0 && st->eof_in)
        return make_error(st->fault, "bad_encoding", "gzip stream is truncated");
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = static_cast<uInt>(n);
      int rc = inflate(&z, Z_NO_FLUSH);
      std::size_t produced = n - z.avail_out;
      if (rc == Z_STREAM_END)
        st->member_end = true;
      else if (rc != Z_OK && rc != Z_BUF_ERROR)
        return make_error(
            st->fault, "bad_encoding",
            std::string("gzip stream is corrupt: ") + (z.msg ? z.msg : "inflate failed"));
      if (produced > 0) return produced;
    }
    return std::size_t{0};
  };
}

GzipSink gzip_sink(Sink out, int level) {
  struct Deflater {
    z_stream z{};
    Sink out;
    std::string buf = std::string(kStreamBufferSize, '\0');
    ~Deflater() { deflateEnd(&z); }
  };
  auto st = std::make_shared<Deflater>();
  st->out = std::move(out);
  deflateInit2(&st->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  auto run = [st](std::string_view in, int flush) -> Status {
    st->z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    st->z.avail_in = static_cast<uInt>(in.size());
    do {
      st->z.next_out = reinterpret_cast<Bytef*>(st->buf.data());
      st->z.avail_out = static_cast<uInt>(st->buf.size());
      int rc = deflate(&st->z, flush);
      if (rc == Z_STREAM_ERROR) return make_error(Fault::bug, "io", "deflate failed");
      std::size_t have = st->buf.size() - st->z.avail_out;
      if (have > 0)
        if (auto s = st->out(std::string_view(st->buf.data(), have)); !s) return s;
      if (flush == Z_FINISH && rc == Z_STREAM_END) break;
    } while (st->z.avail_out == 0 || (flush == Z_FINISH));
    return {};
  };
  GzipSink g;
  g.sink = [run](std::string_view b) -> Status {
    // zlib's avail_in is 32-bit: feed very large writes in pieces.
    while (!b.empty()) {
      std::string_view piece = b.substr(0, 1u << 30);
      if (auto s = run(piece, Z_NO_FLUSH); !s) return s;
      b.remove_prefix(piece.size());
    }
    return {};
  };
  g.finish = [run] { return run({}, Z_FINISH); };
  return g;
}

}  // namespace docket::client
