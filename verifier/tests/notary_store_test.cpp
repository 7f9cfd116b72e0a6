// The verifier's metadata cache uses Notary's trust-directory layout.
#include "verifier/notary_store.h"

#include <gtest/gtest.h>

#include "client/tests/test_util.h"
#include "common/file.h"

using namespace docket;
namespace fs = std::filesystem;

TEST(NotaryLayoutStore, DelegationsLiveInSubDirectoriesAsNotaryKeepsThem) {
  client::test::TempDir d;
  auto repo = value_or_raise(tuf::RepoStore::open(d.path, "example.com/team/app"));
  verifier::NotaryLayoutStore store(repo);
  fs::path meta = d.path / "tuf" / "example.com/team/app" / "metadata";
  ASSERT_TRUE(store.store(tuf::RoleName::root(), "root-bytes"));
  ASSERT_TRUE(store.store(*tuf::RoleName::make("targets/releases"), "releases-bytes"));
  ASSERT_TRUE(store.store(*tuf::RoleName::make("targets/team/alice"), "alice-bytes"));
  EXPECT_EQ(*read_file(meta / "root.json"), "root-bytes");
  EXPECT_EQ(*read_file(meta / "targets" / "releases.json"), "releases-bytes");
  EXPECT_EQ(*read_file(meta / "targets" / "team" / "alice.json"), "alice-bytes");
  EXPECT_FALSE(fs::exists(meta / "targets%2Freleases.json"));

  // What notary wrote is read back the same way.
  ASSERT_TRUE(atomic_write_file(meta / "targets.json", "targets-by-notary"));
  auto t = store.load(tuf::RoleName::targets(), 1 << 20);
  ASSERT_TRUE(t && *t);
  EXPECT_EQ(**t, "targets-by-notary");
  auto r = store.load(*tuf::RoleName::make("targets/releases"), 1 << 20);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ(**r, "releases-bytes");
  auto missing = store.load(*tuf::RoleName::make("targets/bob"), 1 << 20);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
  // Over the cap is an error, not a truncated read.
  EXPECT_FALSE(store.load(*tuf::RoleName::make("targets/releases"), 3));
}

TEST(NotaryLayoutStore, RoleNamesThatAreNoSafePathAreNeverWritten) {
  client::test::TempDir d;
  verifier::NotaryLayoutStore store(
      value_or_raise(tuf::RepoStore::open(d.path, "example.com/app")));
  for (std::string bad : {"targets/../../escape", "targets/./x", "targets//x"}) {
    auto role = tuf::RoleName::make(bad);
    if (!role) continue;  // refused even earlier
    auto s = store.store(*role, "x");
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().code, "bad_role");
    auto l = store.load(*role, 1 << 20);
    ASSERT_TRUE(l);
    EXPECT_FALSE(*l);
  }
  EXPECT_FALSE(fs::exists(d.path / "escape.json"));
  EXPECT_FALSE(fs::exists(d.path / "tuf" / "escape.json"));
}

// Background writes: the same bytes land under the same names, in the order stored; a load
// waits for that role's pending write (root.json: for all of them), flush() waits for all,
// and the destructor for whatever is left.
TEST(NotaryLayoutStore, BackgroundWritesLandInOrderBeforeFlushReturns) {
  client::test::TempDir d;
  auto repo = value_or_raise(tuf::RepoStore::open(d.path, "example.com/app"));
  fs::path meta = d.path / "tuf" / "example.com/app" / "metadata";
  auto releases = *tuf::RoleName::make("targets/releases");
  {
    verifier::NotaryLayoutStore store(repo, verifier::RootWrite::background);
    ASSERT_TRUE(store.store(tuf::RoleName::root(), "root-v1"));
    ASSERT_TRUE(store.store(tuf::RoleName::timestamp(), "ts-1"));
    ASSERT_TRUE(store.store(tuf::RoleName::timestamp(), "ts-2"));
    ASSERT_TRUE(store.store(releases, "rel"));
    auto ts = store.load(tuf::RoleName::timestamp(), 1 << 20);
    ASSERT_TRUE(ts && *ts);
    EXPECT_EQ(**ts, "ts-2");  // the newest stored, not an earlier one or nothing
    auto rel = store.load(releases, 1 << 20);
    ASSERT_TRUE(rel && *rel);
    EXPECT_EQ(**rel, "rel");
    EXPECT_EQ(*read_file(meta / "targets" / "releases.json"), "rel");
    auto r = store.load(tuf::RoleName::root(), 1 << 20);
    ASSERT_TRUE(r && *r);
    EXPECT_EQ(**r, "root-v1");
    ASSERT_TRUE(store.store(tuf::RoleName::root(), "root-v2"));
    ASSERT_TRUE(store.store(tuf::RoleName::snapshot(), "snap"));
    ASSERT_TRUE(store.flush());
    EXPECT_EQ(*read_file(meta / "root.json"), "root-v2");
    EXPECT_EQ(*read_file(meta / "snapshot.json"), "snap");
    EXPECT_TRUE(store.flush());  // nothing pending
    ASSERT_TRUE(store.store(tuf::RoleName::root(), "root-v3"));
    ASSERT_TRUE(store.store(tuf::RoleName::targets(), "tg"));
    // Moving the store moves its pending writes with it.
    verifier::NotaryLayoutStore moved(std::move(store));
    ASSERT_TRUE(moved.store(tuf::RoleName::timestamp(), "ts-3"));
  }  // the destructor waits for root-v3, tg and ts-3
  EXPECT_EQ(*read_file(meta / "root.json"), "root-v3");
  EXPECT_EQ(*read_file(meta / "targets.json"), "tg");
  EXPECT_EQ(*read_file(meta / "timestamp.json"), "ts-3");
  // No temp file is left behind.
  for (const auto& e : fs::directory_iterator(meta))
    EXPECT_FALSE(e.path().filename().string().starts_with(".")) << e.path();
}

// A background write of another role that fails is reported by flush(), once, so a lookup
// never answers from a cache that did not reach the disk.
TEST(NotaryLayoutStore, BackgroundWriteFailureOfAnyRoleIsReportedByFlush) {
  client::test::TempDir d;
  auto repo = value_or_raise(tuf::RepoStore::open(d.path, "example.com/app"));
  fs::path meta = d.path / "tuf" / "example.com/app" / "metadata";
  ASSERT_TRUE(make_directories(meta));
  fs::create_directory(meta / "targets.json");  // the rename cannot replace a directory
  verifier::NotaryLayoutStore store(repo, verifier::RootWrite::background);
  ASSERT_TRUE(store.store(tuf::RoleName::root(), "root-v1"));
  ASSERT_TRUE(store.store(tuf::RoleName::targets(), "tg"));  // queued, not yet failed
  ASSERT_TRUE(store.store(tuf::RoleName::snapshot(), "snap"));
  auto s = store.flush();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().fault, Fault::local);
  EXPECT_NE(s.error().message.find("targets.json"), std::string::npos) << s.error().message;
  EXPECT_TRUE(store.flush());  // reported once
  // The writes around the failed one still landed.
  EXPECT_EQ(*read_file(meta / "root.json"), "root-v1");
  EXPECT_EQ(*read_file(meta / "snapshot.json"), "snap");
  EXPECT_TRUE(fs::is_directory(meta / "targets.json"));
}

TEST(NotaryLayoutStore, BackgroundRootWriteFailureIsReportedByFlush) {
  client::test::TempDir d;
  auto repo = value_or_raise(tuf::RepoStore::open(d.path, "example.com/app"));
  fs::path meta = d.path / "tuf" / "example.com/app" / "metadata";
  ASSERT_TRUE(make_directories(meta));
  // A directory where root.json should go: the rename cannot replace it.
  fs::create_directory(meta / "root.json");
  verifier::NotaryLayoutStore store(repo, verifier::RootWrite::background);
  ASSERT_TRUE(store.store(tuf::RoleName::root(), "root-v1"));  // started, not finished
  auto s = store.flush();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().fault, Fault::local);
  EXPECT_TRUE(fs::is_directory(meta / "root.json"));
}
