#include "common/file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/encoding.h"

namespace docket {
namespace fs = std::filesystem;

namespace {
Error io_error(const std::string& what, const fs::path& p) {
  return Error{Fault::local, "io", what + " " + p.string() + ": " + std::strerror(errno)};
}
}  // namespace

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(out.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Exception(Fault::local, "io", std::string("getrandom: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(r);
  }
  return out;
}

std::string random_hex_id() {
  return hex_encode(random_bytes(16));
}

std::string uuid4() {
  std::string b = random_bytes(16);
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  std::string h = hex_encode(b);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

Status fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return std::unexpected(io_error("opening directory", dir));
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return std::unexpected(io_error("fsync of directory", dir));
  return {};
}

Status atomic_write_file(const fs::path& path, std::string_view bytes, unsigned mode,
                         WriteSync sync) {
  fs::path dir = path.parent_path();
  fs::path tmp = dir / ("." + path.filename().string() + ".tmp-" + random_hex_id());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return std::unexpected(io_error("creating", tmp));
  auto fail = [&](const std::string& what) {
    Error e = io_error(what, tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return std::unexpected(e);
  };
  // The umask must not widen or narrow what the caller asked for (keys need 0600 exactly).
  if (::fchmod(fd, mode) != 0) return fail("chmod");
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail("writing");
    }
    off += static_cast<std::size_t>(w);
  }
  if (sync != WriteSync::none && ::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    Error e = io_error("closing", tmp);
    ::unlink(tmp.c_str());
    return std::unexpected(e);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = io_error("renaming into place", path);
    ::unlink(tmp.c_str());
    return std::unexpected(e);
  }
  if (sync != WriteSync::file_and_directory) return {};
  return fsync_dir(dir);
}

Status make_directories(const fs::path& dir, unsigned mode) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
  fs::path cur;
  for (const auto& part : dir) {
    cur /= part;
    if (fs::is_directory(cur, ec)) continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST)
      return std::unexpected(io_error("creating", cur));
  }
  return {};
}

Result<std::string> read_file(const fs::path& path, std::size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Error e = io_error("opening", path);
    if (errno == ENOENT) e.code = "not_found";
    return std::unexpected(e);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error e = io_error("stat", path);
    ::close(fd);
    return std::unexpected(e);
  }
  if (static_cast<std::size_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return make_error(Fault::local, "too_large",
                      path.string() + " is " + std::to_string(st.st_size) +
                          " bytes, over the limit of " + std::to_string(max_bytes));
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      Error e = io_error("reading", path);
      ::close(fd);
      return std::unexpected(e);
    }
    if (r == 0) break;
    out.append(buf, static_cast<std::size_t>(r));
    if (out.size() > max_bytes) {
      ::close(fd);
      return make_error(Fault::local, "too_large",
                        path.string() + " grew over the limit while reading");
    }
  }
  ::close(fd);
  return out;
}

}  // namespace docket
