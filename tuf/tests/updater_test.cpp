// Updater workflow over the simulator: exact request sequences, persistence, attacks
// (rollback, freeze, mix-and-match, endless data), delegation search.
#include <gtest/gtest.h>

#include "common/digest.h"
#include "tuf/simulator.h"
#include "tuf/updater.h"

namespace docket::tuf {
namespace {

const std::string kMeta = "http://repo/meta%2Fdata/";
const std::string kTargets = "http://repo/targets/";

class UpdaterTest : public ::testing::Test {
 protected:
  Simulator sim;
  MemoryFetcher fetcher;
  MemoryStore store;
  TimePoint when = docket::now();
  std::vector<std::string> log;

  void SetUp() override {
    sim.install(fetcher, kMeta, kTargets);
    store.files["root.json"] = sim.signed_roots.front();
  }
  std::unique_ptr<Updater> updater() {
    UpdaterOptions o;
    o.metadata_url = kMeta;
    o.target_base_url = kTargets;
    o.clock = [this] { return when; };
    o.log = [this](std::string_view l) { log.emplace_back(l); };
    return std::make_unique<Updater>(o, store, fetcher);
  }
  Status refresh() {
    fetcher.clear_requests();
    return updater()->refresh();
  }
  std::vector<std::string> requests() const {
    std::vector<std::string> out;
    for (const auto& r : fetcher.requests()) out.push_back(r.substr(r.rfind('/') + 1));
    return out;
  }
  std::int64_t stored_version(const std::string& file) {
    auto it = store.files.find(file);
    if (it == store.files.end()) return 0;
    return parse_header(it->second)->version;
  }
  std::string dump_log() const {
    std::string s;
    for (const auto& l : log) s += l + "\n";
    return s;
  }
};

using V = std::vector<std::string>;

TEST_F(UpdaterTest, FirstRefreshRequestsExactlyTheReferenceSequence) {
  ASSERT_TRUE(refresh()) << dump_log();
  EXPECT_EQ(fetcher.requests(), (V{kMeta + "2.root.json", kMeta + "timestamp.json",
                                   kMeta + "1.snapshot.json", kMeta + "1.targets.json"}));
  EXPECT_EQ(store.files["timestamp.json"], sim.published["timestamp"]);
  EXPECT_EQ(store.files["snapshot.json"], sim.published["snapshot"]);
  EXPECT_EQ(store.files["targets.json"], sim.published["targets"]);
  EXPECT_EQ(store.files.size(), 4u);
}

TEST(UpdaterKeyTypes, EcdsaAndRsaPemKeysInTufDialect) {
  // PEM public keys contain newlines: files must be valid JSON, signatures over canonical form.
  for (auto alg : {keys::Algorithm::ecdsa_p256, keys::Algorithm::rsa}) {
    Simulator::Options so;
    so.algorithm = alg;
    Simulator sim(so);
    sim.add_target("targets", "a", "a");
    sim.bump_targets();
    ASSERT_NE(sim.signed_roots.front().find("\\n"), std::string::npos);
    MemoryFetcher f;
    MemoryStore store;
    sim.install(f, kMeta, kTargets);
    store.files["root.json"] = sim.signed_roots.front();
    UpdaterOptions o;
    o.metadata_url = kMeta;
    o.target_base_url = kTargets;
    Updater u(o, store, f);
    auto s = u.refresh();
    ASSERT_TRUE(s) << s.error().describe();
    auto info = u.find_target(*TargetPath::make("a"));
    ASSERT_TRUE(info && *info);
    EXPECT_TRUE(u.download_target(**info));
  }
}

TEST_F(UpdaterTest, SecondRefreshOfUnchangedRepoReusesLocalSnapshotAndTargets) {
  ASSERT_TRUE(refresh());
  ASSERT_TRUE(refresh()) << dump_log();
  EXPECT_EQ(requests(), (V{"2.root.json", "timestamp.json"}));
}

TEST_F(UpdaterTest, TimestampWithSameVersionKeepsTheLocalBytes) {
  ASSERT_TRUE(refresh());
  std::string original = store.files["timestamp.json"];
  sim.overrides["timestamp.json"] = sim.published["timestamp"] + " ";
  ASSERT_TRUE(refresh()) << dump_log();
  EXPECT_EQ(store.files["timestamp.json"], original);
}

TEST_F(UpdaterTest, RootRotationsArePersistedOneByOne) {
  sim.bump_root();
  sim.bump_root();
  ASSERT_TRUE(refresh()) << dump_log();
  EXPECT_EQ(requests(), (V{"2.root.json", "3.root.json", "4.root.json", "timestamp.json",
                           "1.snapshot.json", "1.targets.json"}));
  EXPECT_EQ(store.files["root.json"], sim.signed_roots[2]);
}

TEST_F(UpdaterTest, BadRootStopsTheLoopAndKeepsEarlierRoots) {
  sim.bump_root();
  sim.root.version = 3;
  sim.signers["root"] = {sim.new_key()};  // v3 not signed by v2's keys
  sim.publish_root();
  auto s = refresh();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "bad_signature");
  EXPECT_EQ(stored_version("root.json"), 2);
  EXPECT_FALSE(store.files.contains("timestamp.json"));
  EXPECT_EQ(requests(), (V{"2.root.json", "3.root.json"}));
}

TEST_F(UpdaterTest, ExpiredFinalRootFailsBeforeTimestamp) {
  sim.root.expires = when - std::chrono::hours(1);
  sim.bump_root();
  auto s = refresh();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "expired");
  EXPECT_EQ(stored_version("root.json"), 2);
  EXPECT_EQ(requests(), (V{"2.root.json", "3.root.json"}));
}

TEST_F(UpdaterTest, RefreshFromAVerifiedRootSkipsTheStoreAndMatchesRefresh) {
  Limits limits;
  auto root = TrustedSet::create(sim.signed_roots.front(), limits, [this] { return when; });
  ASSERT_TRUE(root) << root.error().describe();
  // The store's root.json is not read: unreadable bytes there change nothing.
  store.files["root.json"] = "not json";
  fetcher.clear_requests();
  auto u = updater();
  ASSERT_TRUE(u->refresh(std::move(*root))) << dump_log();
  EXPECT_EQ(fetcher.requests(), (V{kMeta + "2.root.json", kMeta + "timestamp.json",
                                   kMeta + "1.snapshot.json", kMeta + "1.targets.json"}));
  EXPECT_EQ(store.files["targets.json"], sim.published["targets"]);
  EXPECT_GT(u->stats().signature_checks, 0u);
  // Still once per Updater.
  auto again = TrustedSet::create(sim.signed_roots.front(), limits, [this] { return when; });
  ASSERT_TRUE(again);
  auto s = u->refresh(std::move(*again));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "out_of_order");
}

TEST_F(UpdaterTest, UntrustedLocalRootMakesNoRequest) {
  store.files["root.json"] = "{}";
  auto s = refresh();
  ASSERT_FALSE(s);
  EXPECT_TRUE(fetcher.requests().empty());
}

TEST_F(UpdaterTest, RootLoopIsCapped) {
  for (int i = 0; i < 5; ++i) sim.bump_root();
  UpdaterOptions o;
  o.metadata_url = kMeta;
  o.clock = [this] { return when; };
  o.limits.max_root_rotations = 3;
  Updater u(o, store, fetcher);
  ASSERT_TRUE(u.refresh());
  EXPECT_EQ(stored_version("root.json"), 4);
}

TEST_F(UpdaterTest, OnlyNotFoundEndsTheRootLoop) {
  fetcher.set_hook([](const std::string& url) -> std::optional<Result<std::string>> {
    return Result<std::string>(
        make_error(Fault::remote, "http_status", "GET " + url + ": HTTP 500"));
  });
  auto s = refresh();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "http_status");
  EXPECT_EQ(fetcher.requests().size(), 1u);  // no retries
}

TEST_F(UpdaterTest, TimestampRollbackIsRejectedAndNotPersisted) {
  sim.timestamp.version = 5;
  sim.publish();
  ASSERT_TRUE(refresh());
  sim.timestamp.version = 4;
  sim.publish();
  auto s = refresh();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "rollback");
  EXPECT_EQ(stored_version("timestamp.json"), 5);
}

TEST_F(UpdaterTest, FreezeAttackExpiredTimestamp) {
  ASSERT_TRUE(refresh());
  when += std::chrono::hours(24 * 8);  // everything the simulator signed is now expired
  sim.root.expires = when + std::chrono::hours(24);
  sim.bump_root();
  auto s = refresh();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "expired");
  EXPECT_EQ(stored_version("root.json"), 2);  // the accepted root stays
}

TEST_F(UpdaterTest, FastForwardRecoveryAfterTimestampKeyRotation) {
  sim.timestamp.version = 10;
  sim.publish();
  ASSERT_TRUE(refresh());
  // The repository rotates the timestamp key and restarts at version 1.
  sim.rotate_keys(RoleType::timestamp);
  sim.bump_root();
  sim.timestamp.version = 1;
  sim.publish();
  ASSERT_TRUE(refresh()) << dump_log();
  EXPECT_EQ(stored_version("timestamp.json"), 1);
}

TEST_F(UpdaterTest, FastForwardRecoveryAfterSnapshotKeyRotation) {
  sim.timestamp.version = 10;
  sim.snapshot.version = 10;
  sim.publish();
  ASSERT_TRUE(refresh());
  // New snapshot key; snapshot and timestamp restart at version 1.
  sim.rotate_keys(RoleType::snapshot);
  sim.bump_root();
  sim.timestamp.version = 1;
  sim.snapshot.version = 1;
  sim.publish();
  ASSERT_TRUE(refresh()) << dump_log();
  EXPECT_EQ(stored_version("timestamp.json"), 1);
  EXPECT_EQ(stored_version("snapshot.json"), 1);
  // Without a rotation the same reset is a rollback.
  sim.timestamp.version = 20;
  sim.snapshot.version = 20;
  sim.publish();
  ASSERT_TRUE(refresh());
  sim.timestamp.version = 2;
  sim.snapshot.version = 2;
  sim.publish();
  auto s = refresh();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "rollback");
}

TEST_F(UpdaterTest, SnapshotRollbackAgainstLocalSnapshot) {
  sim.add_delegation("targets", "a", {"*"});
  sim.targets["a"].version = 3;
  sim.publish();
  ASSERT_TRUE(refresh());
  sim.targets["a"].version = 2;
  sim.bump_snapshot();
  auto s = refresh();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "rollback");
  EXPECT_EQ(stored_version("snapshot.json"), 1);
  EXPECT_EQ(stored_version("timestamp.json"), 2);  // the timestamp itself was fine
}

// tuf-conformance test_targets_rollback[with hashes]: the timestamp gives the NEW snapshot's
// length; a trusted local snapshot longer than that must still be read and used as the §5.5.5
// rollback reference (it used to be cut at that length and silently ignored).
TEST_F(UpdaterTest, LongerLocalSnapshotIsStillTheRollbackReference) {
  sim.opts.meta_hashes = true;
  // Snapshot v2 carries two signatures (two listed keys, threshold 1); v3 will carry one, so
  // the trusted v2 is longer than the length the timestamp gives for v3.
  sim.add_key(RoleType::snapshot, sim.new_key());
  sim.bump_root();
  sim.bump_targets();  // targets, snapshot, timestamp v2
  ASSERT_TRUE(refresh()) << dump_log();
  ASSERT_EQ(stored_version("snapshot.json"), 2);
  // Snapshot v3 names targets v1 < v2.
  sim.signers["snapshot"].pop_back();
  sim.targets["targets"].version = 1;
  sim.snapshot.version = 3;
  sim.timestamp.version = 3;
  sim.publish();
  ASSERT_GT(store.files["snapshot.json"].size(), sim.published["snapshot"].size());
  auto s = refresh();
  ASSERT_FALSE(s) << dump_log();
  EXPECT_EQ(s.error().code, "rollback") << s.error().describe();
  EXPECT_EQ(stored_version("snapshot.json"), 2);
  EXPECT_EQ(stored_version("targets.json"), 2);
  EXPECT_EQ(stored_version("timestamp.json"), 3);
}

TEST_F(UpdaterTest, MixAndMatchSnapshotHashMismatch) {
  sim.opts.meta_hashes = true;
  sim.publish();
  std::string old_snapshot = sim.published["snapshot"];
  sim.bump_snapshot();
  // Serve an older, validly signed snapshot under the new name.
  sim.overrides["2.snapshot.json"] = old_snapshot;
  auto s = refresh();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "hash_mismatch");
  EXPECT_FALSE(store.files.contains("snapshot.json"));
}

TEST_F(UpdaterTest, EndlessDataIsCutAtTheLimit) {
  sim.overrides["timestamp.json"] = std::string(100'000, ' ');
  auto s = refresh();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "too_large");
}

TEST_F(UpdaterTest, SnapshotFailureKeepsOldSnapshotAndTargets) {
  ASSERT_TRUE(refresh());
  sim.bump_targets();
  sim.overrides["2.snapshot.json"] = "nope";
  ASSERT_FALSE(refresh());
  EXPECT_EQ(stored_version("timestamp.json"), 2);
  EXPECT_EQ(stored_version("snapshot.json"), 1);
  EXPECT_EQ(stored_version("targets.json"), 1);
}

TEST_F(UpdaterTest, NonConsistentSnapshotNames) {
  sim.root.consistent_snapshot = false;
  sim.signed_roots.clear();
  sim.publish_root();
  store.files["root.json"] = sim.signed_roots.front();
  sim.add_target("targets", "dir/a.txt", "hello");
  sim.publish();
  auto u = updater();
  fetcher.clear_requests();
  ASSERT_TRUE(u->refresh()) << dump_log();
  EXPECT_EQ(requests(), (V{"2.root.json", "timestamp.json", "snapshot.json", "targets.json"}));
  auto info = u->find_target(*TargetPath::make("dir/a.txt"));
  ASSERT_TRUE(info && *info);
  EXPECT_EQ(u->target_url(**info), kTargets + "dir/a.txt");
  auto bytes = u->download_target(**info);
  ASSERT_TRUE(bytes) << bytes.error().describe();
  EXPECT_EQ(*bytes, "hello");
}

TEST_F(UpdaterTest, TargetDownloadVerifiesLengthAndHashes) {
  sim.add_target("targets", "path/to/a.txt", "content");
  sim.publish();
  auto u = updater();
  ASSERT_TRUE(u->refresh());
  auto info = u->find_target(*TargetPath::make("path/to/a.txt"));
  ASSERT_TRUE(info && *info);
  EXPECT_EQ(u->target_url(**info),
            kTargets + "path/to/" + info->value().file.hashes.at("sha256") + ".a.txt");
  auto ok = u->download_target(**info);
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(*ok, "content");
  sim.artifacts["path/to/a.txt"] = "CONTENT";  // served content no longer matches
  EXPECT_FALSE(u->download_target(**info));
  EXPECT_FALSE(*u->find_target(*TargetPath::make("missing")));
}

// ---- delegations ----

TEST_F(UpdaterTest, DelegatedRolesAreFetchedLazilyInPreOrder) {
  sim.add_delegation("targets", "a", {"*.txt"});
  sim.add_delegation("a", "a1", {"*.txt"});
  sim.add_delegation("targets", "b", {"*.txt"});
  sim.add_target("b", "x.txt", "x");
  sim.publish();
  auto u = updater();
  fetcher.clear_requests();
  ASSERT_TRUE(u->refresh());
  EXPECT_EQ(requests().size(), 4u);  // nothing delegated during refresh
  fetcher.clear_requests();
  auto info = u->find_target(*TargetPath::make("x.txt"));
  ASSERT_TRUE(info && *info) << dump_log();
  EXPECT_EQ(info->value().role.str(), "b");
  EXPECT_EQ(requests(), (V{"1.a.json", "1.a1.json", "1.b.json"}));
  EXPECT_TRUE(store.files.contains("a1.json"));
  // Not matching pattern: no request for any delegated role.
  fetcher.clear_requests();
  EXPECT_FALSE(*u->find_target(*TargetPath::make("x.md")));
  EXPECT_TRUE(fetcher.requests().empty());
}

TEST_F(UpdaterTest, TerminatingDelegationStopsTheSearch) {
  sim.add_delegation("targets", "a", {"*"}, /*terminating=*/true);
  sim.add_delegation("targets", "b", {"*"});
  sim.add_target("b", "x", "x");
  sim.publish();
  auto u = updater();
  ASSERT_TRUE(u->refresh());
  fetcher.clear_requests();
  EXPECT_FALSE(*u->find_target(*TargetPath::make("x")));
  EXPECT_EQ(requests(), (V{"1.a.json"}));
}

TEST_F(UpdaterTest, CyclesAreVisitedOnce) {
  sim.add_delegation("targets", "a", {"*"});
  sim.add_delegation("a", "b", {"*"});
  // b delegates back to a, with a's key.
  auto a_key = sim.signers["a"].front();
  auto& back = sim.targets["b"];
  back.delegations = Delegations{};
  back.delegations->keys[sim.key_id(a_key)] = sim.key_json(a_key);
  DelegatedRole again;
  again.name = *RoleName::make("a");
  again.keys.keyids = {sim.key_id(a_key)};
  again.paths = std::vector<std::string>{"*"};
  back.delegations->roles.push_back(again);
  sim.publish();
  auto u = updater();
  ASSERT_TRUE(u->refresh());
  fetcher.clear_requests();
  auto r = u->find_target(*TargetPath::make("nothing"));
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_FALSE(*r);
  EXPECT_EQ(requests(), (V{"1.a.json", "1.b.json"}));
}

TEST_F(UpdaterTest, MaxDelegationsBoundsTheSearch) {
  std::string parent = "targets";
  for (int i = 0; i < 40; ++i) {
    std::string n = "r" + std::to_string(i);
    sim.add_delegation(parent, n, {"*"});
    parent = n;
  }
  sim.add_target(parent, "deep", "x");
  sim.publish();
  auto u = updater();
  ASSERT_TRUE(u->refresh());
  fetcher.clear_requests();
  auto r = u->find_target(*TargetPath::make("deep"));
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  EXPECT_LE(fetcher.requests().size(), 32u);
}

TEST_F(UpdaterTest, RoleMissingFromSnapshotFailsWithoutRequest) {
  sim.add_delegation("targets", "a", {"*"});
  sim.publish();
  sim.snapshot.meta.erase("a.json");
  sim.published["snapshot"] = sim.sign_snapshot();
  sim.timestamp.meta.begin()->second = MetaFile{1, std::nullopt, {}, Json::object()};
  sim.published["timestamp"] = sim.sign_timestamp();
  auto u = updater();
  ASSERT_TRUE(u->refresh()) << dump_log();
  fetcher.clear_requests();
  auto r = u->find_target(*TargetPath::make("x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "not_in_snapshot");
  EXPECT_TRUE(fetcher.requests().empty());
}

TEST_F(UpdaterTest, DubiousRoleNamesAreEncodedInFileNamesAndUrls) {
  for (const char* name : {"../x", "?", "%2F", "a/b"}) sim.add_delegation("targets", name, {"*"});
  sim.add_target("%2F", "t", "t");
  sim.publish();
  auto u = updater();
  ASSERT_TRUE(u->refresh());
  fetcher.clear_requests();
  auto r = u->find_target(*TargetPath::make("t"));
  ASSERT_TRUE(r && *r) << dump_log();
  EXPECT_EQ(requests(), (V{"1...%2Fx.json", "1.%3F.json", "1.%252F.json"}));
  EXPECT_TRUE(store.files.contains("..%2Fx.json"));
  EXPECT_TRUE(store.files.contains("%3F.json"));
  EXPECT_TRUE(store.files.contains("%252F.json"));
}

TEST_F(UpdaterTest, RoleReachedViaAnotherDelegatorIsReverifiedWithItsKeys) {
  // a and b both delegate "shared"; only a's delegation lists the key that signs it.
  sim.add_delegation("targets", "a", {"one"});
  sim.add_delegation("targets", "b", {"two"});
  sim.add_delegation("a", "shared", {"*"});
  sim.add_target("shared", "one", "1");
  sim.add_target("shared", "two", "2");
  // b delegates "shared" to a different key.
  auto other = sim.new_key();
  sim.targets["b"].delegations = Delegations{};
  sim.targets["b"].delegations->keys[sim.key_id(other)] = sim.key_json(other);
  DelegatedRole r;
  r.name = *RoleName::make("shared");
  r.keys.keyids = {sim.key_id(other)};
  r.paths = std::vector<std::string>{"*"};
  sim.targets["b"].delegations->roles.push_back(r);
  sim.publish();
  auto u = updater();
  ASSERT_TRUE(u->refresh());
  auto one = u->find_target(*TargetPath::make("one"));
  ASSERT_TRUE(one && *one) << dump_log();
  auto two = u->find_target(*TargetPath::make("two"));
  ASSERT_FALSE(two && *two) << "shared must not be trusted via b";
  if (!two) {
    EXPECT_EQ(two.error().code, "bad_signature");
  }
}

TEST_F(UpdaterTest, HashBinDelegation) {
  auto k = sim.new_key();
  Delegations d;
  d.keys[sim.key_id(k)] = sim.key_json(k);
  SuccinctRoles s;
  s.keys.keyids = {sim.key_id(k)};
  s.bit_length = 4;
  s.name_prefix = "bins";
  d.succinct_roles = s;
  sim.targets["targets"].delegations = d;
  auto path = *TargetPath::make("file.bin");
  std::string bin = s.role_for(path);
  for (std::uint32_t i = 0; i < s.bin_count(); ++i) {
    Targets t = sim.targets["targets"];
    t.delegations.reset();
    t.targets.clear();
    sim.targets[s.role_name(i)] = t;
    sim.signers[s.role_name(i)] = {k};
  }
  sim.add_target(bin, "file.bin", "bits");
  sim.publish();
  auto u = updater();
  ASSERT_TRUE(u->refresh());
  fetcher.clear_requests();
  auto r = u->find_target(path);
  ASSERT_TRUE(r && *r) << dump_log();
  EXPECT_EQ(r->value().role.str(), bin);
  EXPECT_EQ(requests(), (V{"1." + bin + ".json"}));
}

}  // namespace
}  // namespace docket::tuf
