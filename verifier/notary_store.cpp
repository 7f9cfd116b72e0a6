#include "verifier/notary_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/file.h"

namespace docket::verifier {
namespace fs = std::filesystem;

Result<std::optional<std::string>> NotaryLayoutStore::load(const tuf::RoleName& role,
                                                           std::size_t max_bytes) {
  auto path = repo_.path_of(role.str());
  if (!path) {
    // A role we could never have stored (its name is no safe path) is simply absent.
    return std::optional<std::string>();
  }
  std::error_code ec;
  if (!fs::exists(*path, ec)) {
    if (ec)
      return make_error(Fault::local, "io", "checking " + path->string() + ": " + ec.message());
    return std::optional<std::string>();
  }
  auto r = read_file(*path, max_bytes);
  if (!r) return std::unexpected(r.error());
  return std::optional<std::string>(std::move(*r));
}

namespace {

Error io_error(const std::string& what, const fs::path& p) {
  return Error{Fault::local, "io", what + " " + p.string() + ": " + std::strerror(errno)};
}

Status mkdirs_0700(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
  fs::path cur;
  for (const auto& part : dir) {
    cur /= part;
    if (fs::is_directory(cur, ec)) continue;
    if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
      return std::unexpected(io_error("creating", cur));
  }
  return {};
}

}  // namespace

Status NotaryLayoutStore::store(const tuf::RoleName& role, std::string_view bytes) {
  auto path = repo_.path_of(role.str());
  if (!path)
    return make_error(Fault::remote, "bad_role",
                      "role name \"" + role.str() +
                          "\" cannot be stored in a trust directory: " + path.error().message);
  if (auto s = mkdirs_0700(path->parent_path()); !s) return s;
  // Temp file, then rename: readers never see a partial file. Durability (see header): the
  // root's bytes are fsynced before the rename; the other roles' are not, and no directory
  // is fsynced.
  fs::path tmp =
      path->parent_path() / ("." + path->filename().string() + ".tmp-" + random_hex_id());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(io_error("creating", tmp));
  auto fail = [&](const std::string& what) {
    Error e = io_error(what, tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return std::unexpected(e);
  };
  if (::fchmod(fd, 0644) != 0) return fail("chmod");
  for (std::size_t off = 0; off < bytes.size();) {
    ssize_t w = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail("writing");
    }
    off += static_cast<std::size_t>(w);
  }
  if (role == tuf::RoleName::root() && ::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    Error e = io_error("closing", tmp);
    ::unlink(tmp.c_str());
    return std::unexpected(e);
  }
  if (::rename(tmp.c_str(), path->c_str()) != 0) {
    Error e = io_error("renaming into place", *path);
    ::unlink(tmp.c_str());
    return std::unexpected(e);
  }
  return {};
}

}  // namespace docket::verifier
