// Pure state-machine tests of TrustedSet, fed with bytes from the simulator (in the style of
// python-tuf's test_trusted_metadata_set.py).
#include <gtest/gtest.h>

#include "tuf/simulator.h"
#include "tuf/trusted_set.h"

namespace docket::tuf {
namespace {

TimePoint fixed_now() {
  return docket::now();
}

class TrustedSetTest : public ::testing::Test {
 protected:
  Simulator sim;
  Limits limits;
  TimePoint when = fixed_now();

  TrustedSet fresh() {
    auto ts = TrustedSet::create(sim.signed_roots.front(), limits, [this] { return when; });
    EXPECT_TRUE(ts) << ts.error().describe();
    return std::move(*ts);
  }
  // Loads the whole current top level.
  TrustedSet loaded() {
    auto ts = fresh();
    for (std::size_t i = 1; i < sim.signed_roots.size(); ++i)
      EXPECT_TRUE(ts.update_root(sim.signed_roots[i]));
    EXPECT_TRUE(ts.update_timestamp(sim.published["timestamp"]));
    EXPECT_TRUE(ts.update_snapshot(sim.published["snapshot"]));
    EXPECT_TRUE(ts.update_targets(sim.published["targets"]));
    return ts;
  }
};

TEST_F(TrustedSetTest, HappyPathLoadsInOrder) {
  auto ts = loaded();
  EXPECT_EQ(ts.targets()->md.signed_.version, 1);
  EXPECT_EQ(ts.targets()->raw, sim.published["targets"]);
}

TEST_F(TrustedSetTest, RefusesOutOfOrderLoads) {
  auto ts = fresh();
  EXPECT_EQ(ts.update_snapshot(sim.published["snapshot"]).error().code, "out_of_order");
  EXPECT_EQ(ts.update_targets(sim.published["targets"]).error().code, "out_of_order");
  ASSERT_TRUE(ts.update_timestamp(sim.published["timestamp"]));
  sim.bump_root();
  EXPECT_EQ(ts.update_root(sim.signed_roots.back()).error().code, "out_of_order");
  ASSERT_TRUE(ts.update_snapshot(sim.published["snapshot"]));
  ASSERT_TRUE(ts.update_targets(sim.published["targets"]));
  EXPECT_EQ(ts.update_snapshot(sim.published["snapshot"]).error().code, "out_of_order");
  EXPECT_EQ(ts.update_timestamp(sim.published["timestamp"]).error().code, "out_of_order");
}

TEST_F(TrustedSetTest, TrustedRootMustBeSelfSigned) {
  sim.signers["root"] = {sim.new_key()};
  sim.publish_root();
  auto ts = TrustedSet::create(sim.signed_roots.front(), limits, [this] { return when; });
  ASSERT_FALSE(ts);
  EXPECT_EQ(ts.error().code, "bad_signature");
}

struct RootRotationCase {
  const char* name;
  int old_keys, old_threshold, old_signers;  // old root keys: how many of them sign v2
  int new_keys, new_threshold, new_signers;  // new root keys: how many sign v2
  bool ok;
};

TEST_F(TrustedSetTest, RootRotationTable) {
  // v1 has old_keys root keys (threshold old_threshold); v2 replaces them with new_keys keys.
  const RootRotationCase cases[] = {
      {"1-of-1 -> 1-of-1 both sign", 1, 1, 1, 1, 1, 1, true},
      {"old key does not sign", 1, 1, 0, 1, 1, 1, false},
      {"new key does not sign", 1, 1, 1, 1, 1, 0, false},
      {"2-of-3 old, 2 sign", 3, 2, 2, 1, 1, 1, true},
      {"2-of-3 old, 1 signs", 3, 2, 1, 1, 1, 1, false},
      {"2-of-2 old, both sign", 2, 2, 2, 1, 1, 1, true},
      {"2-of-2 old, 1 signs (and the new key)", 2, 2, 1, 1, 1, 1, false},
      {"new 3-of-3, 2 sign", 1, 1, 1, 3, 3, 2, false},
      {"new 2-of-2, both sign", 1, 1, 1, 2, 2, 2, true},
      {"threshold above key count", 1, 1, 1, 1, 2, 1, false},
  };
  for (const auto& c : cases) {
    Simulator s;
    s.rotate_keys(RoleType::root, c.old_keys, c.old_threshold);
    s.signed_roots.clear();
    s.publish_root();
    auto old_signers = s.signers["root"];
    s.rotate_keys(RoleType::root, c.new_keys, c.new_threshold);
    auto new_signers = s.signers["root"];
    std::vector<keys::PrivateKey> sign;
    for (int i = 0; i < c.old_signers; ++i)
      sign.push_back(old_signers[static_cast<std::size_t>(i)]);
    for (int i = 0; i < c.new_signers; ++i)
      sign.push_back(new_signers[static_cast<std::size_t>(i)]);
    s.signers["root"] = {};
    s.bump_root(sign);
    auto ts = TrustedSet::create(s.signed_roots[0], limits, [this] { return when; });
    ASSERT_TRUE(ts) << c.name << ": " << ts.error().describe();
    auto r = ts->update_root(s.signed_roots[1]);
    EXPECT_EQ(bool(r), c.ok) << c.name << ": " << (r ? "" : r.error().describe());
    if (!r) {
      EXPECT_EQ(r.error().code, "bad_signature") << c.name;
    }
  }
}

TEST_F(TrustedSetTest, RootVersionMustBeNext) {
  auto ts = fresh();
  sim.root.version = 3;  // skips v2
  sim.publish_root();
  auto r = ts.update_root(sim.signed_roots[2]);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "rollback");
  EXPECT_NE(r.error().message.find("root v3: expected version 2"), std::string::npos)
      << r.error().message;
  // Same version again is also refused.
  EXPECT_FALSE(ts.update_root(sim.signed_roots[0]));
}

TEST_F(TrustedSetTest, IntermediateRootMayBeExpiredFinalMayNot) {
  sim.root.expires = when - std::chrono::hours(1);
  sim.bump_root();
  auto ts = fresh();
  ASSERT_TRUE(ts.update_root(sim.signed_roots[1]));
  auto e = ts.check_root_expiry();
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, "expired");
  EXPECT_EQ(ts.update_timestamp(sim.published["timestamp"]).error().code, "expired");
  sim.root.expires = when + std::chrono::hours(1);
  sim.bump_root();
  ASSERT_TRUE(ts.update_root(sim.signed_roots[2]));
  EXPECT_TRUE(ts.check_root_expiry());
}

TEST_F(TrustedSetTest, UnsafeIgnoreExpiry) {
  sim.root.expires = when - std::chrono::hours(1);
  sim.bump_root();
  auto ts = TrustedSet::create(
      sim.signed_roots[0], limits, [this] { return when; }, ExpirationEnforcement::unsafe_ignore);
  ASSERT_TRUE(ts);
  ASSERT_TRUE(ts->update_root(sim.signed_roots[1]));
  EXPECT_TRUE(ts->check_root_expiry());
}

TEST_F(TrustedSetTest, KeyChangeForEveryTopLevelRole) {
  for (auto role : {RoleType::timestamp, RoleType::snapshot, RoleType::targets}) {
    Simulator s;
    auto ts = TrustedSet::create(s.signed_roots[0], limits, [this] { return when; });
    ASSERT_TRUE(ts);
    // The repository signs with a key root does not list.
    s.signers[std::string(role_type_name(role))] = {s.new_key()};
    s.publish();
    auto t = ts->update_timestamp(s.published["timestamp"]);
    if (role == RoleType::timestamp) {
      ASSERT_FALSE(t);
      EXPECT_EQ(t.error().code, "bad_signature");
      EXPECT_NE(t.error().message.find("timestamp v1: threshold 1 of root v1 not met"),
                std::string::npos)
          << t.error().message;
      continue;
    }
    ASSERT_TRUE(t);
    auto sn = ts->update_snapshot(s.published["snapshot"]);
    if (role == RoleType::snapshot) {
      ASSERT_FALSE(sn);
      EXPECT_EQ(sn.error().code, "bad_signature");
      continue;
    }
    ASSERT_TRUE(sn);
    auto tg = ts->update_targets(s.published["targets"]);
    ASSERT_FALSE(tg);
    EXPECT_EQ(tg.error().code, "bad_signature");
  }
}

TEST_F(TrustedSetTest, TimestampRollbackAndEqualVersion) {
  sim.timestamp.version = 5;
  sim.publish();
  std::string v5 = sim.published["timestamp"];
  auto ts = fresh();
  ASSERT_TRUE(ts.update_timestamp(v5));
  // Equal version: kept, reported as such.
  auto eq = ts.update_timestamp(v5);
  ASSERT_TRUE(eq);
  EXPECT_EQ(*eq, TrustedSet::TimestampOutcome::equal_version);
  sim.timestamp.version = 4;
  sim.publish();
  auto lower = ts.update_timestamp(sim.published["timestamp"]);
  ASSERT_FALSE(lower);
  EXPECT_EQ(lower.error().code, "rollback");
  EXPECT_EQ(lower.error().message, "timestamp v4 < trusted v5");
  // Snapshot version named by the timestamp may not go back either.
  sim.timestamp.version = 6;
  sim.snapshot.version = 3;
  sim.publish();
  ASSERT_TRUE(ts.update_timestamp(sim.published["timestamp"]));
  sim.timestamp.version = 7;
  sim.snapshot.version = 2;
  sim.publish();
  auto snap_back = ts.update_timestamp(sim.published["timestamp"]);
  ASSERT_FALSE(snap_back);
  EXPECT_EQ(snap_back.error().code, "rollback");
}

TEST_F(TrustedSetTest, ExpiredTimestampIsRejectedButStaysTheRollbackReference) {
  sim.timestamp.version = 3;
  sim.timestamp.expires = when - std::chrono::seconds(1);
  sim.publish();
  auto ts = fresh();
  auto r = ts.update_timestamp(sim.published["timestamp"]);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "expired");
  EXPECT_NE(r.error().message.find("timestamp v3 expired at"), std::string::npos);
  sim.timestamp.version = 2;
  sim.timestamp.expires = when + std::chrono::hours(1);
  sim.publish();
  EXPECT_EQ(ts.update_timestamp(sim.published["timestamp"]).error().code, "rollback");
}

TEST_F(TrustedSetTest, SnapshotChecks) {
  sim.opts.meta_hashes = true;
  sim.publish();
  {
    // Hash/length from timestamp meta.
    auto ts = fresh();
    ASSERT_TRUE(ts.update_timestamp(sim.published["timestamp"]));
    auto r = ts.update_snapshot(sim.published["snapshot"] + " ");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "hash_mismatch");
  }
  {
    // Version must equal the timestamp's.
    std::string good_ts = sim.published["timestamp"];
    sim.snapshot.version = 2;
    sim.opts.meta_hashes = false;
    sim.publish();
    auto ts = fresh();
    sim.snapshot.version = 1;
    sim.timestamp.meta.begin()->second.version = 2;
    ASSERT_TRUE(ts.update_timestamp(sim.sign_timestamp()));
    auto r = ts.update_snapshot(sim.sign_snapshot());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "version_mismatch");
  }
  {
    // Expired snapshot.
    Simulator s;
    s.snapshot.expires = when - std::chrono::seconds(1);
    s.publish();
    auto ts = TrustedSet::create(s.signed_roots[0], limits, [this] { return when; });
    ASSERT_TRUE(ts->update_timestamp(s.published["timestamp"]));
    EXPECT_EQ(ts->update_snapshot(s.published["snapshot"]).error().code, "expired");
  }
  {
    // A snapshot served as timestamp (validly signed by the snapshot key) is the wrong type.
    auto ts = fresh();
    auto r = ts.update_timestamp(sim.published["snapshot"]);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "wrong_type");
  }
}

TEST_F(TrustedSetTest, SnapshotRollbackOfListedRoles) {
  sim.add_delegation("targets", "a", {"*"});
  sim.targets["a"].version = 3;
  sim.publish();
  std::string s1 = sim.published["snapshot"];  // snapshot v1 lists a.json v3
  sim.targets["a"].version = 2;
  sim.snapshot.version = 2;
  sim.timestamp.version = 2;
  sim.publish();
  {
    auto ts = fresh();
    ASSERT_TRUE(ts.update_timestamp(sim.published["timestamp"]));  // names snapshot v2
    // The local snapshot v1 is not final (timestamp wants v2) but stays the reference.
    auto r1 = ts.update_snapshot(s1, /*trusted_local=*/true);
    ASSERT_FALSE(r1);
    EXPECT_EQ(r1.error().code, "version_mismatch");
    auto r2 = ts.update_snapshot(sim.published["snapshot"]);
    ASSERT_FALSE(r2);
    EXPECT_EQ(r2.error().code, "rollback");
    EXPECT_EQ(r2.error().message, "snapshot v2: a.json v2 < trusted v3");
  }
  {
    // A role that disappears from the snapshot is a rollback too.
    sim.targets.erase("a");
    sim.snapshot.meta.erase("a.json");
    sim.targets["targets"].delegations.reset();
    sim.publish();
    auto ts = fresh();
    ASSERT_TRUE(ts.update_timestamp(sim.published["timestamp"]));
    ASSERT_FALSE(ts.update_snapshot(s1, true));
    auto r = ts.update_snapshot(sim.published["snapshot"]);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "rollback");
    EXPECT_NE(r.error().message.find("a.json is missing"), std::string::npos) << r.error().message;
  }
}

TEST_F(TrustedSetTest, DelegatedRolesVerifyWithTheirDelegatorsKeys) {
  sim.add_delegation("targets", "a", {"*"});
  sim.add_delegation("targets", "b", {"*"});
  sim.publish();
  auto ts = loaded();
  ASSERT_TRUE(
      ts.update_delegated_targets(sim.published["a"], *RoleName::make("a"), RoleName::targets()));
  EXPECT_EQ(ts.targets(*RoleName::make("a"))->delegator, RoleName::targets());
  // a's bytes offered as b: b's keys did not sign them (and the type/name check is by keys).
  auto r =
      ts.update_delegated_targets(sim.published["a"], *RoleName::make("b"), RoleName::targets());
  ASSERT_FALSE(r);
  // Not in snapshot.
  auto c =
      ts.update_delegated_targets(sim.published["a"], *RoleName::make("c"), RoleName::targets());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, "not_delegated");
  // Delegator not loaded yet.
  auto d =
      ts.update_delegated_targets(sim.published["a"], *RoleName::make("x"), *RoleName::make("b"));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, "out_of_order");
}

}  // namespace
}  // namespace docket::tuf
