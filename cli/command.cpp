#include "cli/command.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <openssl/crypto.h>

#include "common/error.h"

namespace docket::cli {
namespace {
struct Entry {
  std::string executable;
  int order;
  Setup setup;
};
std::vector<Entry>& registry() {
  static std::vector<Entry> r;
  return r;
}
}  // namespace

Registration::Registration(const char* executable, int order, Setup setup) {
  registry().push_back(Entry{executable, order, std::move(setup)});
}

int run_main(const char* executable, const char* description, int argc, char** argv) {
  CLI::App app{description, executable};
  // The OpenSSL in use: the built-in copy where it is linked statically (the docket client,
  // see cli/CMakeLists.txt), so a user can tell whether a rebuild picked up an update.
  app.set_version_flag(
      "--version", std::string(executable) + " 0.1.0 (" + OpenSSL_version(OPENSSL_VERSION) + ")");
  app.require_subcommand(1);
  std::vector<Entry*> mine;
  for (auto& e : registry())
    if (e.executable == executable) mine.push_back(&e);
  std::stable_sort(mine.begin(), mine.end(), [](auto* a, auto* b) { return a->order < b->order; });
  for (auto* e : mine) e->setup(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 uses 0 for --help/--version; any usage error exits 2 with its message.
    int rc = app.exit(e);
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
