#include "tuf/repo_store.h"

#include <system_error>

#include "common/file.h"
#include "tuf/names.h"

namespace docket::tuf {
namespace fs = std::filesystem;

Result<RepoStore> RepoStore::open(const fs::path& trust_dir, std::string_view gun) {
  if (auto s = check_gun_path(gun); !s) return std::unexpected(s.error());
  return RepoStore(trust_dir / "tuf" / std::string(gun) / "metadata");
}

Result<fs::path> RepoStore::path_of(std::string_view role) const {
  if (role.empty()) return std::unexpected(Error{Fault::user, "usage", "empty role name"});
  if (role == "targets" || role.starts_with("targets/")) {
    // Notary layout: the role name is the relative path. Same segment rules as a GUN.
    if (auto s = check_gun_path(role); !s)
      return std::unexpected(
          Error{Fault::user, "usage", "role \"" + std::string(role) + "\" cannot be a file path"});
    return dir_ / (std::string(role) + ".json");
  }
  auto rn = RoleName::make(role, Fault::user);
  if (!rn) return std::unexpected(rn.error());
  return dir_ / rn->file_name();
}

bool RepoStore::exists() const {
  std::error_code ec;
  return fs::is_regular_file(dir_ / "root.json", ec);
}

Result<RepoFiles> RepoStore::load() const {
  RepoFiles f;
  auto root = read_file(dir_ / "root.json", kMaxStoredMetadataBytes);
  if (!root) return std::unexpected(root.error());
  f.root = std::move(*root);
  auto targets = read_file(dir_ / "targets.json", kMaxStoredMetadataBytes);
  if (!targets) return std::unexpected(targets.error());
  f.targets["targets"] = std::move(*targets);
  std::error_code ec;
  if (fs::is_directory(dir_ / "targets", ec)) {
    for (fs::recursive_directory_iterator it(dir_ / "targets", ec), end; it != end;
         it.increment(ec)) {
      if (ec) break;
      if (!it->is_regular_file() || it->path().extension() != ".json") continue;
      std::string name = fs::relative(it->path(), dir_).replace_extension().string();
      if (name.find("/.") != std::string::npos) continue;  // temp files
      auto b = read_file(it->path(), kMaxStoredMetadataBytes);
      if (!b) return std::unexpected(b.error());
      f.targets[name] = std::move(*b);
    }
    if (ec)
      return std::unexpected(Error{Fault::local, "io",
                                   "listing " + (dir_ / "targets").string() + ": " + ec.message()});
  }
  for (auto [name, dest] :
       {std::pair{"snapshot.json", &f.snapshot}, std::pair{"timestamp.json", &f.timestamp}}) {
    if (!fs::exists(dir_ / name, ec)) continue;
    auto b = read_file(dir_ / name, kMaxStoredMetadataBytes);
    if (!b) return std::unexpected(b.error());
    *dest = std::move(*b);
  }
  return f;
}

Status RepoStore::save(const std::map<std::string, std::string>& role_bytes) const {
  for (const auto& [role, bytes] : role_bytes) {
    auto p = path_of(role);
    if (!p) return std::unexpected(p.error());
    if (auto s = make_directories(p->parent_path()); !s) return s;
    if (auto s = atomic_write_file(*p, bytes, 0644); !s) return s;
  }
  return {};
}

Status RepoStore::remove(std::string_view role) const {
  auto p = path_of(role);
  if (!p) return std::unexpected(p.error());
  std::error_code ec;
  fs::remove(*p, ec);
  if (ec)
    return std::unexpected(
        Error{Fault::local, "io", "removing " + p->string() + ": " + ec.message()});
  return {};
}

Result<UploadBody> notary_upload_body(const std::vector<SignedRole>& roles) {
  std::string boundary = random_hex_id() + random_hex_id();
  UploadBody out;
  out.content_type = "multipart/form-data; boundary=" + boundary;
  for (const auto& r : roles) {
    if (r.role.empty() ||
        r.role.find_first_of(std::string_view("\"\r\n\0", 4)) != std::string::npos)
      return std::unexpected(Error{Fault::user, "usage", "role name unfit for an upload part"});
    out.body += "--" + boundary + "\r\n";
    out.body += "Content-Disposition: form-data; name=\"files\"; filename=\"" + r.role + "\"\r\n";
    out.body += "Content-Type: application/octet-stream\r\n\r\n";
    out.body += r.bytes;
    out.body += "\r\n";
  }
  out.body += "--" + boundary + "--\r\n";
  return out;
}

std::string notary_tuf_url(std::string_view base_url, std::string_view gun) {
  return std::string(base_url) + "/v2/" + std::string(gun) + "/_trust/tuf/";
}

}  // namespace docket::tuf
