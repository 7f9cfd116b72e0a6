// docket-tuf end to end (CLIENT-CONTRACT.md): the real binary, a loopback HTTP/1.0 server
// serving a simulator repository, exact request sequences and the metadata-dir layout.
#include "tuf/tests/cli_harness.h"

namespace docket::tuf {
namespace {

using namespace cli_testing;
namespace fs = std::filesystem;

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
