// Subcommand registration for the thin executables. Each feature area adds its commands
// in its own file under cli/<executable>/ with a static Registration, so no shared main()
// needs editing:
//
//   static docket::cli::Registration reg("docket-server", 20, {"registry"}, [](CLI::App& app) {
//     auto* cmd = app.add_subcommand("registry", "Run the OCI registry");
//     cmd->callback([] { ... });
//   });
//
// The list names exactly the top-level commands the setup adds: a process whose first
// argument is one of them runs only that registration's setup (building the whole command
// tree is a third of a short command's start-up), every other invocation (`docket --help`,
// an unknown or mistyped command, an option first) builds the whole tree, so its help and
// errors are those of the whole tree. A name left out of the list only costs that
// command the shortcut; a listed name the setup does not add makes run_main build the whole
// tree; cli/tests/cli_tree_test.cpp checks that the lists are exact.
//
// A command with many subcommands builds them through LazySubcommands (below) so that
// `docket trust lookup …` builds one of the trust commands, not all of them.
//
// Errors are thrown as docket::Exception; main() prints Error::describe() and exits 1.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

namespace docket::cli {

using Setup = std::function<void(CLI::App&)>;

struct Registration {
  // order: position among the executable's subcommands in --help (lower first).
  // commands: the top-level commands `setup` adds, all of them and nothing else.
  Registration(const char* executable, int order, std::initializer_list<const char*> commands,
               Setup setup);
};

// The subcommands of one command, each built by its own setup, in the order added:
//
//   auto* trust = app.add_subcommand("trust", "…");
//   trust->require_subcommand(1);
//   docket::cli::LazySubcommands subs(trust);
//   subs.add("lookup", "Resolve IMAGE[:TAG] …", [](CLI::App* cmd) {
//     cmd->add_option(…);
//     cmd->callback(…);
//   });
//   …
//   subs.build();
//
// build() creates every subcommand (add_subcommand(name, description)) and runs its setup,
// except when run_main is parsing an invocation that names one of them right after the
// parent's own command path (`docket trust lookup …`): then only that one is built. That is
// done only where it parses exactly as the whole set would: the parent takes exactly one
// subcommand (require_subcommand(1), so CLI11 never tries a sibling's name later) and it and
// its ancestors take no positional arguments. Call build() once, after the parent's options.
class LazySubcommands {
 public:
  using SubSetup = std::function<void(CLI::App* cmd)>;

  explicit LazySubcommands(CLI::App* parent) : parent_(parent) {}
  void add(std::string name, std::string description, SubSetup setup);
  void build();

 private:
  struct Sub {
    std::string name, description;
    SubSetup setup;
  };
  CLI::App* parent_;
  std::vector<Sub> subs_;
};

// Builds the app for `executable` and runs it; returns the process exit code.
//
// DOCKET_INTERNAL_CLI_FULL_TREE=1 in the environment makes it build the whole command tree
// whatever the arguments and fail (exit 1, a "bug" error) if a Registration's command list
// is not exactly what its setup adds. It exists for cli/tests/cli_tree_test.cpp, which
// compares the two ways of building; it changes nothing else.
int run_main(const char* executable, const char* description, int argc, char** argv);

}  // namespace docket::cli
