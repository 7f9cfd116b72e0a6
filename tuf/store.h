// Where the client keeps its trusted metadata between runs: one file per role, named
// ENC(role).json ("root.json", "targets.json", "..%2Fx.json"), holding the exact bytes that
// were accepted. Only versionless names, never sub-directories, never deleted.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "tuf/names.h"

namespace docket::tuf {

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;
  // nullopt if the role has no stored file. Larger than max_bytes is an error (local).
  virtual Result<std::optional<std::string>> load(const RoleName& role, std::size_t max_bytes) = 0;
  // Replaces the role's file atomically.
  virtual Status store(const RoleName& role, std::string_view bytes) = 0;
};

class DirectoryStore : public MetadataStore {
 public:
  explicit DirectoryStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  Result<std::optional<std::string>> load(const RoleName& role, std::size_t max_bytes) override;
  // Temp file ".<name>.tmp-<random>" in the same directory (never ends in .json), then rename.
  Status store(const RoleName& role, std::string_view bytes) override;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

class MemoryStore : public MetadataStore {
 public:
  Result<std::optional<std::string>> load(const RoleName& role, std::size_t max_bytes) override;
  Status store(const RoleName& role, std::string_view bytes) override;
  std::map<std::string, std::string> files;  // file name -> bytes
};

}  // namespace docket::tuf
