#include "verifier/notary_store.h"

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

Status NotaryLayoutStore::store(const tuf::RoleName& role, std::string_view bytes) {
  auto path = repo_.path_of(role.str());
  if (!path)
    return make_error(Fault::remote, "bad_role",
                      "role name \"" + role.str() +
                          "\" cannot be stored in a trust directory: " + path.error().message);
  if (auto s = make_directories(path->parent_path()); !s) return s;
  // Readers never see a partial file. Durability (see header): only the root's bytes are
  // synced, since it is the trust anchor; other roles are refetched if a crash loses them.
  return atomic_write_file(*path, bytes, 0644,
                           role == tuf::RoleName::root() ? WriteSync::file : WriteSync::none);
}

}  // namespace docket::verifier
