// run_main builds only the part of the command tree an invocation names (cli/command.h).
// These tests hold it to "identical user-visible behaviour": the real `docket` and
// `docket-server` binaries are run on a table of command lines twice, once as users run them
// and once with DOCKET_INTERNAL_CLI_FULL_TREE=1 (the whole tree, as before, with the
// Registration command lists checked), and exit code, stdout and stderr must match byte for
// byte. In-process tests cover the selection rules with registrations of their own.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/command.h"
#include "common/file.h"

namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("docket-cli-tree-test-" + docket::random_hex_id());
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct Outcome {
  int rc = -1;
  std::string out, err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs `binary args` in `dir` with a private HOME/DOCKER_CONFIG/data directory.
Outcome run(const TempDir& dir, const std::string& binary, const std::vector<std::string>& args,
            bool full_tree) {
  std::string cmd = "cd " + quote(dir.path.string()) + " && env -u DOCKER_CONTENT_TRUST" +
                    " -u DOCKET_INTERNAL_CLI_FULL_TREE HOME=" + quote(dir.path.string()) +
                    " DOCKER_CONFIG=" + quote((dir.path / "docker").string()) +
                    " DOCKET_DATA_DIR=" + quote((dir.path / "data").string()) +
                    (full_tree ? " DOCKET_INTERNAL_CLI_FULL_TREE=1 " : " ") + quote(binary);
  for (const auto& a : args) cmd += " " + quote(a);
  cmd += " </dev/null >out 2>err";
  Outcome o;
  int st = std::system(cmd.c_str());
  o.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  o.out = slurp(dir.path / "out");
  o.err = slurp(dir.path / "err");
  return o;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> v;
  std::istringstream in(line);
  for (std::string w; in >> w;) v.push_back(w);
  return v;
}

// Every line of `lines` gives the same result both ways; returns the lazy outcomes by line.
// Each line runs in a directory of its own (both ways in the same one), several lines at a
// time: under ASan each process takes ~0.15 s.
std::map<std::string, Outcome> expect_same(const std::string& binary,
                                           const std::vector<std::string>& lines) {
  struct Result {
    Outcome full, fast;
  };
  std::vector<Result> results(lines.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i; (i = next++) < lines.size();) {
      TempDir dir;
      std::ofstream(dir.path / "file.txt") << "some bytes\n";
      auto args = split(lines[i]);
      results[i].full = run(dir, binary, args, true);
      results[i].fast = run(dir, binary, args, false);
    }
  };
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) workers.emplace_back(worker);
  for (auto& t : workers) t.join();
  std::map<std::string, Outcome> lazy;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& [full, fast] = results[i];
    const auto& line = lines[i];
    EXPECT_EQ(fast.rc, full.rc) << "`" << line << "`\n" << full.err << "\n---\n" << fast.err;
    EXPECT_EQ(fast.out, full.out) << "`" << line << "`";
    EXPECT_EQ(fast.err, full.err) << "`" << line << "`";
    lazy[line] = fast;
  }
  return lazy;
}

const std::string kDocket = DOCKET_BINARY_DIR "/cli/docket";
const std::string kServer = DOCKET_BINARY_DIR "/cli/docket-server";

TEST(CliTree, DocketBehavesAsWithTheWholeTree) {
  const std::vector<std::string> lines = {
      "",
      "--help",
      "-h",
      "--version",
      "--version trust",
      "--version --help",
      "help",
      "bogus",
      "trus",
      "-- trust lookup",
      "--bogus trust",
      "trust",
      "trust --help",
      "trust -h",
      "trust --version",
      "trust bogus",
      "trust -- lookup",
      "trust lookup",
      "trust lookup --help",
      "trust lookup -h extra",
      "trust lookup a b",
      "trust lookup img inspect",
      "trust lookup img pull",
      "trust lookup img lookup",
      "trust lookup --bogus img",
      "trust lookup --trust-dir",
      "trust lookup -- img extra",
      "trust inspect --help",
      "trust inspect",
      "trust sign --help",
      "trust sign",
      "trust revoke --help",
      "trust key",
      "trust key --help",
      "trust key list --help",
      "trust key generate",
      "trust key generate --help",
      "trust key bogus",
      "trust key rotate foo bar",
      "trust key root-cert --help",
      "trust signer",
      "trust signer --help",
      "trust signer add --help",
      "trust signer add",
      "trust signer remove x",
      "trust threshold --help",
      "trust threshold set --help",
      "trust threshold set repo root 0",
      "trust status --help",
      "trust init --help",
      "trust publish --help",
      "trust reset --help",
      "trust cosign --help",
      "pull",
      "pull --help",
      "pull x images",
      "pull x y",
      "push --help",
      "images --help",
      "images extra",
      "images -q",
      "tag --help",
      "tag a",
      "rmi --help",
      "inspect --help",
      "key",
      "key --help",
      "key list --help",
      "key bogus",
      "key generate --help",
      "key generate bogus-algorithm --rsa-bits x",
      "key import",
      "key import --help",
      "key export --help",
      "key export --key",
      "key remove",
      "key remove --help",
      "key list extra",
      "login --help",
      "logout --help",
      "save --help",
      "load --help",
      "import --help",
      "search --help",
      "digest --help",
      "digest file.txt",
      "digest missing.txt",
      "digest file.txt trust",
  };
  auto lazy = expect_same(kDocket, lines);
  // Not only equal but right: the whole tree's help, CLI11's usage errors, the command's own
  // output.
  EXPECT_EQ(lazy["--help"].rc, 0);
  for (const char* c : {"trust", "pull", "images", "key", "digest", "search"})
    EXPECT_NE(lazy["--help"].out.find(std::string("\n  ") + c + " "), std::string::npos) << c;
  EXPECT_EQ(lazy["--version"].rc, 0);
  EXPECT_TRUE(lazy["--version"].out.starts_with("docket 0.1.0 (OpenSSL ")) << lazy["--version"].out;
  EXPECT_EQ(lazy["trust"].rc, 2);
  EXPECT_EQ(lazy["bogus"].rc, 2);
  EXPECT_EQ(lazy["trust lookup"].rc, 2);
  EXPECT_NE(lazy["trust lookup"].err.find("image is required"), std::string::npos)
      << lazy["trust lookup"].err;
  EXPECT_EQ(lazy["trust lookup a b"].rc, 2);
  EXPECT_EQ(lazy["trust lookup --help"].rc, 0);
  EXPECT_NE(lazy["trust lookup --help"].out.find("docket trust lookup"), std::string::npos);
  EXPECT_NE(lazy["trust --help"].out.find("cosign"), std::string::npos);
  EXPECT_NE(lazy["trust key --help"].out.find("root-cert"), std::string::npos);
  EXPECT_EQ(lazy["digest file.txt"].rc, 0);
  EXPECT_NE(lazy["digest file.txt"].out.find("sha256:"), std::string::npos);
  EXPECT_EQ(lazy["digest missing.txt"].rc, 2);  // CLI::ExistingFile: a usage error
}

TEST(CliTree, DocketServerBehavesAsWithTheWholeTree) {
  auto lazy = expect_same(kServer, {
                                       "",
                                       "--help",
                                       "--version",
                                       "bogus",
                                       "serve --help",
                                       "registry --help",
                                       "trust --help",
                                       "signer --help",
                                       "gc --help",
                                       "trust --bogus",
                                       "serve extra args",
                                       "gc trust",
                                   });
  EXPECT_EQ(lazy["--help"].rc, 0);
  EXPECT_NE(lazy["--help"].out.find("signer"), std::string::npos);
  EXPECT_EQ(lazy["bogus"].rc, 2);
  EXPECT_EQ(lazy["trust --bogus"].rc, 2);
}

// In-process: registrations of made-up executables, counting which setups run.
std::map<std::string, int> g_setups;
std::string g_ran;

docket::cli::Registration fruit_reg("tree-test", 10, {"apple", "pear"}, [](CLI::App& app) {
  ++g_setups["fruit"];
  app.add_subcommand("apple", "An apple")->callback([] { g_ran = "apple"; });
  app.add_subcommand("pear", "A pear")->callback([] { g_ran = "pear"; });
});

docket::cli::Registration box_reg("tree-test", 20, {"box"}, [](CLI::App& app) {
  ++g_setups["box"];
  auto* box = app.add_subcommand("box", "Boxes");
  box->require_subcommand(1);
  docket::cli::LazySubcommands subs(box);
  for (const char* name : {"open", "close", "label"})
    subs.add(name, std::string("Box ") + name, [name](CLI::App* cmd) {
      ++g_setups[std::string("box ") + name];
      cmd->callback([name] { g_ran = std::string("box ") + name; });
    });
  subs.build();
});

// A command with a positional: its subcommands are always built whole.
docket::cli::Registration crate_reg("tree-test", 30, {"crate"}, [](CLI::App& app) {
  ++g_setups["crate"];
  auto* crate = app.add_subcommand("crate", "Crates");
  crate->add_option("label", "Label");
  docket::cli::LazySubcommands crate_subs(crate);
  for (const char* name : {"open", "close"})
    crate_subs.add(name, name, [name](CLI::App*) { ++g_setups[std::string("crate ") + name]; });
  crate_subs.build();
});

// Lists "gone", which its setup does not add (a stale list).
docket::cli::Registration stale_reg("tree-test-stale", 10, {"gone"}, [](CLI::App& app) {
  ++g_setups["stale"];
  app.add_subcommand("here", "Here")->callback([] { g_ran = "here"; });
});

int run(const char* exe, std::vector<std::string> args) {
  std::vector<char*> argv{const_cast<char*>(exe)};
  for (auto& a : args) argv.push_back(a.data());
  g_setups.clear();
  g_ran.clear();
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  int rc = docket::cli::run_main(exe, "test", static_cast<int>(argv.size()), argv.data());
  testing::internal::GetCapturedStdout();
  testing::internal::GetCapturedStderr();
  return rc;
}

TEST(CliTree, RunsOnlyTheSetupsTheInvocationNames) {
  ::unsetenv("DOCKET_INTERNAL_CLI_FULL_TREE");
  EXPECT_EQ(run("tree-test", {"pear"}), 0);
  EXPECT_EQ(g_ran, "pear");
  EXPECT_EQ(g_setups, (std::map<std::string, int>{{"fruit", 1}}));

  EXPECT_EQ(run("tree-test", {"box", "label"}), 0);
  EXPECT_EQ(g_ran, "box label");
  EXPECT_EQ(g_setups, (std::map<std::string, int>{{"box", 1}, {"box label", 1}}));

  // Not a subcommand of box, or an option first: every box subcommand is built.
  EXPECT_EQ(run("tree-test", {"box", "--help"}), 0);
  EXPECT_EQ(g_setups, (std::map<std::string, int>{
                          {"box", 1}, {"box open", 1}, {"box close", 1}, {"box label", 1}}));
  EXPECT_EQ(run("tree-test", {"box", "bogus"}), 2);
  EXPECT_EQ(g_setups["box open"], 1);

  // A parent with a positional builds all of its subcommands.
  EXPECT_EQ(run("tree-test", {"crate", "open"}), 0);
  EXPECT_EQ(g_setups["crate open"], 1);
  EXPECT_EQ(g_setups["crate close"], 1);

  // Unknown, option-first or empty invocations build everything.
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"bogus"}, {"--help"}, {}, {"--", "pear"}}) {
    run("tree-test", args);
    EXPECT_EQ(g_setups["fruit"], 1);
    EXPECT_EQ(g_setups["box"], 1);
    EXPECT_EQ(g_setups["box open"], 1);
  }

  // `--version` alone builds nothing.
  EXPECT_EQ(run("tree-test", {"--version"}), 0);
  EXPECT_TRUE(g_setups.empty());
}

TEST(CliTree, FullTreeModeBuildsEverythingAndChecksTheLists) {
  ::setenv("DOCKET_INTERNAL_CLI_FULL_TREE", "1", 1);
  EXPECT_EQ(run("tree-test", {"box", "label"}), 0);
  EXPECT_EQ(g_ran, "box label");
  EXPECT_EQ(g_setups["fruit"], 1);
  EXPECT_EQ(g_setups["box open"], 1);
  // The stale list is a bug the check names.
  testing::internal::CaptureStderr();
  std::vector<std::string> args{"here"};
  std::vector<char*> argv{const_cast<char*>("tree-test-stale"), args[0].data()};
  EXPECT_EQ(docket::cli::run_main("tree-test-stale", "test", 2, argv.data()), 1);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("lists the commands {gone} but its setup adds {here}"), std::string::npos)
      << err;
  ::unsetenv("DOCKET_INTERNAL_CLI_FULL_TREE");
}

TEST(CliTree, AStaleListFallsBackToTheWholeTree) {
  ::unsetenv("DOCKET_INTERNAL_CLI_FULL_TREE");
  // `gone` is listed but not added: the whole tree is built, and CLI11 rejects `gone` as usual.
  EXPECT_EQ(run("tree-test-stale", {"gone"}), 2);
  EXPECT_EQ(g_setups["stale"], 2);
  // `here` is added but not listed: it still works, through the whole tree.
  EXPECT_EQ(run("tree-test-stale", {"here"}), 0);
  EXPECT_EQ(g_ran, "here");
  EXPECT_EQ(g_setups["stale"], 1);
}

}  // namespace
