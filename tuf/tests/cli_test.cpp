// docket-tuf end to end (CLIENT-CONTRACT.md): the real binary, a loopback HTTP/1.0 server
// serving a simulator repository, exact request sequences and the metadata-dir layout.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <set>

#include "common/digest.h"
#include "common/file.h"
#include "common/time.h"
#include "net/testing/loopback_server.h"
#include "tuf/simulator.h"

extern char** environ;

namespace docket::tuf {
namespace {

namespace fs = std::filesystem;
using net::testing::LoopbackServer;
using V = std::vector<std::string>;

const std::string kBinary = std::string(DOCKET_BINARY_DIR) + "/cli/docket-tuf";
// Percent-encoded test-name-like prefixes: must be used verbatim.
const std::string kMetaPrefix = "/test%5Bx%5D%2Fmeta/";
const std::string kTargetPrefix = "/test%20t/targets/";

struct RunResult {
  int status = -1;
  std::string output;
};

RunResult run(std::vector<std::string> args, const std::vector<std::string>& prefix = {}) {
  std::vector<std::string> full = prefix;
  full.push_back(kBinary);
  for (auto& a : args) full.push_back(std::move(a));
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  fs::path out = fs::temp_directory_path() / ("docket-tuf-out-" + random_hex_id());
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  RunResult r;
  if (posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return r;
  }
  posix_spawn_file_actions_destroy(&fa);
  int st = 0;
  waitpid(pid, &st, 0);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.output = read_file(out).value_or("");
  fs::remove(out);
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  Simulator sim;
  std::mutex mu;
  std::vector<std::string> seen;  // request targets relative to the prefixes
  std::unique_ptr<LoopbackServer> server;
  fs::path dir, mdir, tdir;

  void SetUp() override {
    dir = fs::temp_directory_path() / ("docket-tuf-cli-" + random_hex_id());
    mdir = dir / "metadata";
    tdir = dir / "targets";
    fs::create_directories(mdir);
    fs::create_directories(tdir);
    server = std::make_unique<LoopbackServer>([this](LoopbackServer::Connection& c) {
      auto req = c.read_request();
      if (!req) return;
      std::optional<std::string> body;
      {
        std::lock_guard lock(mu);
        const std::string& t = req->target;
        if (t.rfind(kMetaPrefix, 0) == 0) {
          seen.push_back(t.substr(kMetaPrefix.size()));
          body = sim.serve_metadata(t.substr(kMetaPrefix.size()));
        } else if (t.rfind(kTargetPrefix, 0) == 0) {
          seen.push_back("T:" + t.substr(kTargetPrefix.size()));
          body = sim.serve_target(t.substr(kTargetPrefix.size()));
        } else {
          seen.push_back("?" + t);
        }
      }
      // HTTP/1.0: Content-Length, then close.
      std::string status = body ? "200 OK" : "404 Not Found";
      std::string b = body.value_or("not found");
      c.write("HTTP/1.0 " + status + "\r\nContent-Length: " + std::to_string(b.size()) +
              "\r\n\r\n" + b);
    });
    std::string root_file = (dir / "trusted-root.json").string();
    ASSERT_TRUE(atomic_write_file(root_file, sim.signed_roots.front()));
    auto r = run({"--metadata-dir", mdir.string(), "init", root_file});
    ASSERT_EQ(r.status, 0) << r.output;
  }
  void TearDown() override {
    server.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string meta_url() const { return server->url(kMetaPrefix); }
  std::string target_url() const { return server->url(kTargetPrefix); }
  RunResult refresh() {
    clear();
    return run({"--metadata-url", meta_url(), "--metadata-dir", mdir.string(), "refresh"});
  }
  RunResult download(const std::vector<std::string>& names) {
    clear();
    std::vector<std::string> a{"--metadata-url", meta_url(), "--metadata-dir", mdir.string()};
    for (const auto& n : names) {
      a.push_back("--target-name");
      a.push_back(n);
    }
    for (std::string s : std::vector<std::string>{"--target-dir", tdir.string(),
                                                  "--target-base-url", target_url(), "download"})
      a.push_back(s);
    return run(a);
  }
  void clear() {
    std::lock_guard lock(mu);
    seen.clear();
  }
  V requests() {
    std::lock_guard lock(mu);
    return seen;
  }
  // (file, version) of every *.json in the metadata dir.
  std::map<std::string, std::int64_t> md_files() {
    std::map<std::string, std::int64_t> out;
    for (const auto& e : fs::directory_iterator(mdir)) {
      if (e.path().extension() != ".json") continue;
      auto h = parse_header(*read_file(e.path()));
      out[e.path().filename().string()] = h ? h->version : -1;
    }
    return out;
  }
  std::set<std::string> target_files() {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(tdir))
      if (e.is_regular_file()) out.insert(fs::relative(e.path(), tdir).string());
    return out;
  }
};

TEST_F(CliTest, InitCopiesTheRootByteForByte) {
  EXPECT_EQ(*read_file(mdir / "root.json"), sim.signed_roots.front());
  EXPECT_TRUE(requests().empty());
}

TEST_F(CliTest, FirstRefreshMakesExactlyTheReferenceRequests) {
  auto r = refresh();
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(requests(), (V{"2.root.json", "timestamp.json", "1.snapshot.json", "1.targets.json"}));
  EXPECT_EQ(
      md_files(),
      (std::map<std::string, std::int64_t>{
          {"root.json", 1}, {"timestamp.json", 1}, {"snapshot.json", 1}, {"targets.json", 1}}));
  EXPECT_EQ(*read_file(mdir / "timestamp.json"), sim.published["timestamp"]);
  r = refresh();
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(requests(), (V{"2.root.json", "timestamp.json"}));
}

TEST_F(CliTest, OptionsInAnyOrderAndUsageErrorsExitOne) {
  clear();
  auto r = run({"refresh", "--metadata-dir", mdir.string(), "--metadata-url", meta_url()});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(run({"--metadata-dir", mdir.string(), "--bogus", "x", "refresh"}).status, 1);
  EXPECT_EQ(run({"--metadata-dir", mdir.string()}).status, 1);
  EXPECT_EQ(run({"--metadata-dir", mdir.string(), "frobnicate"}).status, 1);
  EXPECT_EQ(run({"--metadata-dir"}).status, 1);
  EXPECT_EQ(run({"--metadata-dir", mdir.string(), "refresh"}).status, 1);  // no URL
}

TEST_F(CliTest, RefreshFailsWithoutRequestsOnBadTrustedRoot) {
  ASSERT_TRUE(atomic_write_file(mdir / "root.json", "{\"signed\":{}}"));
  auto r = refresh();
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(requests().empty()) << r.output;
}

TEST_F(CliTest, RotationThenFailureKeepsAcceptedFiles) {
  ASSERT_EQ(refresh().status, 0);
  sim.bump_root();
  sim.bump_snapshot();
  sim.overrides["2.snapshot.json"] = "{}";  // broken snapshot
  auto r = refresh();
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(requests(), (V{"2.root.json", "3.root.json", "timestamp.json", "2.snapshot.json"}));
  EXPECT_EQ(
      md_files(),
      (std::map<std::string, std::int64_t>{
          {"root.json", 2}, {"timestamp.json", 2}, {"snapshot.json", 1}, {"targets.json", 1}}));
  // No temp files left that end in .json, and nothing else named *.json.
  for (const auto& e : fs::directory_iterator(mdir))
    EXPECT_EQ(e.path().filename().string()[0] == '.', false);
}

TEST_F(CliTest, TimestampSameVersionKeepsLocalBytes) {
  ASSERT_EQ(refresh().status, 0);
  sim.overrides["timestamp.json"] = sim.published["timestamp"] + " ";
  ASSERT_EQ(refresh().status, 0);
  EXPECT_EQ(*read_file(mdir / "timestamp.json"), sim.published["timestamp"]);
}

TEST_F(CliTest, DownloadVerifiesCachesAndReplaces) {
  sim.add_target("targets", "path/to/a.txt", "hello");
  sim.add_delegation("targets", "../x", {"deleg/*"});
  sim.add_target("../x", "deleg/b.txt", "from delegation");
  sim.bump_targets();
  auto r = download({"path/to/a.txt", "deleg/b.txt"});
  ASSERT_EQ(r.status, 0) << r.output;
  std::string ha = sha256_hex("hello");
  std::string hb = sha256_hex("from delegation");
  EXPECT_EQ(requests(),
            (V{"2.root.json", "timestamp.json", "2.snapshot.json", "2.targets.json",
               "T:path/to/" + ha + ".a.txt", "1...%2Fx.json", "T:deleg/" + hb + ".b.txt"}));
  EXPECT_EQ(target_files(), (std::set<std::string>{"path%2Fto%2Fa.txt", "deleg%2Fb.txt"}));
  EXPECT_EQ(*read_file(tdir / "path%2Fto%2Fa.txt"), "hello");
  EXPECT_TRUE(fs::exists(mdir / "..%2Fx.json"));
  // Cached: no target request.
  r = download({"path/to/a.txt"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(requests(), (V{"2.root.json", "timestamp.json"}));
  // Content changes legitimately: downloaded again, replaced.
  sim.add_target("targets", "path/to/a.txt", "hello v2");
  sim.bump_targets();
  r = download({"path/to/a.txt"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(*read_file(tdir / "path%2Fto%2Fa.txt"), "hello v2");
  EXPECT_EQ(requests().back(), "T:path/to/" + sha256_hex("hello v2") + ".a.txt");
}

TEST_F(CliTest, DownloadFailuresExitOneAndStoreNothing) {
  sim.add_target("targets", "a.txt", "good");
  sim.add_target("targets", "b.txt", "also good");
  sim.bump_targets();
  sim.artifacts["a.txt"] = "evil";  // served bytes do not match (and hash name differs)
  EXPECT_EQ(download({"missing.txt"}).status, 1);
  auto r = download({"b.txt", "a.txt"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(target_files(), (std::set<std::string>{"b.txt"}));
}

TEST_F(CliTest, UnknownOnlyHashAlgorithmIsRejected) {
  sim.add_target("targets", "a.txt", "data");
  sim.targets["targets"].targets["a.txt"].hashes = {{"md5", "8d777f385d3dfec8815d20f7496026dc"}};
  sim.bump_targets();
  auto r = download({"a.txt"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(target_files().empty());
}

TEST_F(CliTest, FaketimeMovesNowIntoTheFuture) {
  if (!fs::exists("/usr/bin/faketime")) GTEST_SKIP() << "faketime is not installed";
  ASSERT_EQ(refresh().status, 0);
  clear();
  // Everything the simulator signed expires in 7 days.
  // The harness's format: "YYYY-MM-DD HH:MM:SS+00:00" (absolute, UTC).
  std::string t = format_rfc3339(docket::now() + std::chrono::hours(24 * 10));  // ...T...Z
  t[10] = ' ';
  t = t.substr(0, 19) + "+00:00";
  auto r = run({"--metadata-url", meta_url(), "--metadata-dir", mdir.string(), "refresh"},
               {"faketime", t});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("expired"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace docket::tuf
