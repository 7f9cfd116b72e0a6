#include "cli/command.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/crypto.h>

#include "common/error.h"

namespace docket::cli {
namespace {
struct Entry {
  std::string executable;
  int order;
  std::vector<std::string> commands;
  Setup setup;
};
std::vector<Entry>& registry() {
  static std::vector<Entry> r;
  return r;
}

// The arguments (after the program name) of the invocation run_main is building the command
// tree for, while it builds it and only then; `lazy` is false when every level is to be built
// whole.
struct Invocation {
  std::vector<std::string_view> args;
  bool lazy = false;
};
Invocation& invocation() {
  static Invocation i;
  return i;
}

bool has_positionals(const CLI::App& app) {
  return !app.get_options([](const CLI::Option* o) { return o->get_positional(); }).empty();
}

// The argument that names `parent`'s subcommand, when building only the subcommand it names is
// certain to parse the invocation exactly as building all of them would (CLI11 2.1, App.hpp):
// - the arguments before it are exactly the command path from the root to `parent`, and none
//   of those commands takes a positional (else an argument could be a positional's value);
// - `parent` takes at most one subcommand, so once that one is parsed CLI11 never looks for a
//   sibling's name again (App::_valid_subcommand, App::_parse_positional).
// Whether the argument names one of `parent`'s subcommands at all is the caller's check.
// (The one CLI11 feature this would not hold for is an option read from the environment,
// `envname`: CLI11 reads those for unparsed subcommands too. No docket command uses one.)
std::optional<std::string_view> named_subcommand(const CLI::App& parent) {
  const Invocation& inv = invocation();
  if (!inv.lazy || parent.get_require_subcommand_max() != 1) return std::nullopt;
  std::vector<const CLI::App*> path;  // parent first, root last
  for (const CLI::App* a = &parent; a != nullptr; a = a->get_parent()) path.push_back(a);
  const std::size_t depth = path.size() - 1;
  if (inv.args.size() <= depth) return std::nullopt;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (has_positionals(*path[i])) return std::nullopt;
    bool is_root = i + 1 == path.size();
    if (!is_root && (path[i]->get_name().empty() || path[i]->get_name() != inv.args[depth - 1 - i]))
      return std::nullopt;
  }
  return inv.args[depth];
}

// Names of `app`'s subcommands from the `from`-th on.
std::vector<std::string> subcommand_names(CLI::App& app, std::size_t from = 0) {
  std::vector<std::string> names;
  auto subs = app.get_subcommands({});
  for (std::size_t i = from; i < subs.size(); ++i) names.push_back(subs[i]->get_name());
  return names;
}

std::string join(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  std::string s;
  for (const auto& n : v) s += (s.empty() ? "" : ", ") + n;
  return "{" + s + "}";
}

// Clears the invocation when run_main leaves the building phase, whatever way.
struct InvocationScope {
  InvocationScope(int argc, char** argv, bool lazy) {
    auto& inv = invocation();
    inv.args.assign(argv + std::min(argc, 1), argv + argc);
    inv.lazy = lazy;
  }
  ~InvocationScope() { invocation() = Invocation{}; }
};
}  // namespace

Registration::Registration(const char* executable, int order,
                           std::initializer_list<const char*> commands, Setup setup) {
  registry().push_back(Entry{executable, order,
                             std::vector<std::string>(commands.begin(), commands.end()),
                             std::move(setup)});
}

void LazySubcommands::add(std::string name, std::string description, SubSetup setup) {
  subs_.push_back(Sub{std::move(name), std::move(description), std::move(setup)});
}

void LazySubcommands::build() {
  const Sub* only = nullptr;
  if (auto named = named_subcommand(*parent_))
    for (const auto& s : subs_)
      if (s.name == *named) {
        only = &s;
        break;
      }
  for (auto& s : subs_)
    if (only == nullptr || &s == only)
      s.setup(parent_->add_subcommand(std::move(s.name), std::move(s.description)));
  subs_.clear();
}

int run_main(const char* executable, const char* description, int argc, char** argv) {
  const char* full_env = std::getenv("DOCKET_INTERNAL_CLI_FULL_TREE");
  const bool check_full = full_env != nullptr && *full_env != '\0';

  std::vector<Entry*> mine;
  for (auto& e : registry())
    if (e.executable == executable) mine.push_back(&e);
  std::stable_sort(mine.begin(), mine.end(), [](auto* a, auto* b) { return a->order < b->order; });

  auto new_app = [&] {
    auto app = std::make_unique<CLI::App>(description, executable);
    // The OpenSSL in use: the built-in copy where it is linked statically (the docket client,
    // see cli/CMakeLists.txt), so a user can tell whether a rebuild picked up an update.
    app->set_version_flag(
        "--version", std::string(executable) + " 0.1.0 (" + OpenSSL_version(OPENSSL_VERSION) + ")");
    app->require_subcommand(1);
    return app;
  };
  std::unique_ptr<CLI::App> app = new_app();
  {
    InvocationScope scope(argc, argv, !check_full);
    bool built = false;
    if (!check_full && argc == 2 && std::string_view(argv[1]) == "--version") {
      // Printed before anything looks at a subcommand: App::_process_callbacks runs the
      // flag's callback, which throws CallForVersion, before requirements are checked.
      built = true;
    } else if (auto named = named_subcommand(*app)) {
      std::vector<Entry*> chosen;
      for (auto* e : mine)
        if (std::find(e->commands.begin(), e->commands.end(), *named) != e->commands.end())
          chosen.push_back(e);
      if (!chosen.empty()) {
        for (auto* e : chosen) e->setup(*app);
        auto names = subcommand_names(*app);
        built = std::find(names.begin(), names.end(), *named) != names.end();
        if (!built) app = new_app();  // a stale command list: fall back to the whole tree
      }
    }
    if (!built) {
      invocation().lazy = false;
      for (auto* e : mine) {
        if (!check_full) {
          e->setup(*app);
          continue;
        }
        std::size_t before = app->get_subcommands({}).size();
        e->setup(*app);
        auto added = subcommand_names(*app, before);
        if (join(added) != join(e->commands)) {
          std::fprintf(stderr,
                       "%s: bug error (unexpected): the Registration of order %d lists the "
                       "commands %s but its setup adds %s\n",
                       executable, e->order, join(e->commands).c_str(), join(added).c_str());
          return 1;
        }
      }
    }
  }
  try {
    app->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 uses 0 for --help/--version; any usage error exits 2 with its message.
    int rc = app->exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const Exception& e) {
    std::fprintf(stderr, "%s: %s\n", executable, e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: bug error (unexpected): %s\n", executable, e.what());
    return 1;
  }
  return 0;
}

}  // namespace docket::cli
