// A GUN's metadata in a Notary-style trust directory, and the upload body a Notary server
// takes, so the editor's output can be kept beside Notary's own client and published to it.
//
//   <trust_dir>/tuf/<gun>/metadata/root.json, targets.json, snapshot.json, timestamp.json
//   <trust_dir>/tuf/<gun>/metadata/targets/<delegation>.json     (Notary: the role's path)
//
// Role names become paths only after checking each segment (no "", ".", ".." segments, no
// NUL or backslash), so metadata cannot be written outside the metadata directory. TUF-spec
// role names that are not "targets/..." are stored as RoleName::file_name() (percent-encoded,
// one flat file).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "tuf/editor.h"

namespace docket::tuf {

// Largest metadata file read back from a trust directory.
inline constexpr std::size_t kMaxStoredMetadataBytes = 64 * 1024 * 1024;

class RepoStore {
 public:
  // Checks the GUN (see check_gun_path); creates nothing yet.
  static Result<RepoStore> open(const std::filesystem::path& trust_dir, std::string_view gun);

  const std::filesystem::path& metadata_dir() const { return dir_; }
  // The file a role's metadata lives in.
  Result<std::filesystem::path> path_of(std::string_view role) const;

  bool exists() const;
  // Reads root, targets, every delegation file under metadata/targets/, snapshot and
  // timestamp (the last two when present).
  Result<RepoFiles> load() const;
  // Writes each role's bytes atomically (0644), creating directories (0700) as needed.
  Status save(const std::map<std::string, std::string>& role_bytes) const;
  // Deletes the metadata of a role (after removing a delegation). Missing is fine.
  Status remove(std::string_view role) const;

 private:
  explicit RepoStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

// multipart/form-data as Notary's client sends it: one part per role, name="files",
// filename="<role>", body = the signed JSON.
struct UploadBody {
  std::string content_type;  // "multipart/form-data; boundary=..."
  std::string body;
};
// Role names that could break the part header (quote, CR, LF, NUL) are a usage error.
Result<UploadBody> notary_upload_body(const std::vector<SignedRole>& roles);

// "/v2/<gun>/_trust/tuf/" relative to a server base URL (no trailing slash on base).
std::string notary_tuf_url(std::string_view base_url, std::string_view gun);

}  // namespace docket::tuf
