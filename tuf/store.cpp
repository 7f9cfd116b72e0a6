#include "tuf/store.h"

#include <cerrno>
#include <cstring>

#include "common/file.h"

namespace docket::tuf {

Result<std::optional<std::string>> DirectoryStore::load(const RoleName& role,
                                                        std::size_t max_bytes) {
  auto path = dir_ / role.file_name();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (ec)
      return make_error(Fault::local, "io", "checking " + path.string() + ": " + ec.message());
    return std::optional<std::string>();
  }
  auto r = read_file(path, max_bytes);
  if (!r) return std::unexpected(r.error());
  return std::optional<std::string>(std::move(*r));
}

Status DirectoryStore::store(const RoleName& role, std::string_view bytes) {
  return atomic_write_file(dir_ / role.file_name(), bytes, 0644);
}

Result<std::optional<std::string>> MemoryStore::load(const RoleName& role, std::size_t max_bytes) {
  auto it = files.find(role.file_name());
  if (it == files.end()) return std::optional<std::string>();
  if (it->second.size() > max_bytes)
    return make_error(Fault::local, "too_large", role.file_name() + " is over the size limit");
  return std::optional<std::string>(it->second);
}

Status MemoryStore::store(const RoleName& role, std::string_view bytes) {
  files[role.file_name()] = std::string(bytes);
  return {};
}

}  // namespace docket::tuf
