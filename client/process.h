// Runs a helper program (docker credential helpers) with bytes on stdin, capturing stdout
// and stderr. No shell is involved: argv[0] is looked up on PATH.
#pragma once

#include <string>
#include <vector>

#include "common/error.h"

namespace docket::client {

struct ProcessResult {
  int exit_code = -1;  // -1 if killed by a signal
  std::string out;
  std::string err;
};

// Largest stdout/stderr kept from a helper; more is an error (helpers print a few lines).
inline constexpr std::size_t kMaxHelperOutput = 1024 * 1024;

// Fails (Fault::user, "config") if the program cannot be started (not on PATH).
Result<ProcessResult> run_process(const std::vector<std::string>& argv, std::string_view input);

}  // namespace docket::client
