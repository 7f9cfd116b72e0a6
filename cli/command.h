// Subcommand registration for the thin executables. Each feature area adds its commands
// in its own file under cli/<executable>/ with a static Registration, so no shared main()
// needs editing:
//
//   static docket::cli::Registration reg("docket-server", 20, [](CLI::App& app) {
//     auto* cmd = app.add_subcommand("registry", "Run the OCI registry");
//     cmd->callback([] { ... });
//   });
//
// Errors are thrown as docket::Exception; main() prints Error::describe() and exits 1.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace docket::cli {

using Setup = std::function<void(CLI::App&)>;

struct Registration {
  // order: position among the executable's subcommands in --help (lower first).
  Registration(const char* executable, int order, Setup setup);
};

// Builds the app for `executable` and runs it; returns the process exit code.
int run_main(const char* executable, const char* description, int argc, char** argv);

}  // namespace docket::cli
