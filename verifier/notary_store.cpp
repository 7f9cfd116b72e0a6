#include "verifier/notary_store.h"

#include <system_error>

#include "common/file.h"

namespace docket::verifier {
namespace fs = std::filesystem;

NotaryLayoutStore::~NotaryLayoutStore() {
  if (pending_root_.valid()) pending_root_.wait();
}

Status NotaryLayoutStore::flush() {
  if (!pending_root_.valid()) return {};
  return pending_root_.get();
}

Result<std::optional<std::string>> NotaryLayoutStore::load(const tuf::RoleName& role,
                                                           std::size_t max_bytes) {
  if (role == tuf::RoleName::root())
    if (auto s = flush(); !s) return std::unexpected(s.error());
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
  bool root = role == tuf::RoleName::root();
  // Root versions land in order: a rotation's store waits for the previous root's write.
  if (root)
    if (auto s = flush(); !s) return s;
  if (auto s = make_directories(path->parent_path()); !s) return s;
  // Readers never see a partial file. Durability (see header): only the root's bytes are
  // synced, since it is the trust anchor; other roles are refetched if a crash loses them.
  if (root && root_write_ == RootWrite::background) {
    try {
      pending_root_ = std::async(std::launch::async, [p = *path, b = std::string(bytes)] {
        return atomic_write_file(p, b, 0644, WriteSync::file);
      });
      return {};
    } catch (const std::system_error&) {
      // No thread to be had: write it here instead.
    }
  }
  return atomic_write_file(*path, bytes, 0644, root ? WriteSync::file : WriteSync::none);
}

}  // namespace docket::verifier
