// Helpers shared by the keys tests.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"

namespace docket::keys::testing {

// Runs `cmd` through /bin/sh; returns its exit status (-1 if it could not run).
int run_shell(const std::string& cmd);
// Reads a whole file or fails the test.
std::string slurp(const std::filesystem::path& p);
// A fresh private temp directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace docket::keys::testing
