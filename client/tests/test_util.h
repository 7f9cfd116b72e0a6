// Shared helpers for client tests: a temporary directory removed at scope end.
#pragma once

#include <filesystem>
#include <string>

#include "common/file.h"

namespace docket::client::test {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("docket-client-test-" + random_hex_id());
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace docket::client::test
