// docket-tuf against the scenarios of the TUF conformance suite (theupdateframework/
// tuf-conformance), reproduced with our own simulator and the real binary: for each suite
// test, the same repository changes, the same client commands, and the same assertions on
// exit codes, on the exact metadata requests and on the (role, version) list the harness reads
// back from the metadata directory. Keys are ECDSA P-256, the suite's default key type, and
// metadata is valid for 30 days, as in the suite's simulator.
#include <nlohmann/json.hpp>

#include "tuf/tests/cli_harness.h"

namespace docket::tuf {
namespace {

using namespace cli_testing;
namespace fs = std::filesystem;
using Trusted = std::vector<std::pair<std::string, std::int64_t>>;

Simulator::Options suite_options() {
  Simulator::Options o;
  o.algorithm = keys::Algorithm::ecdsa_p256;
  o.validity = std::chrono::hours(24 * 30);
  return o;
}

class SuiteTest : public CliTest {
 protected:
  SuiteTest() : CliTest(suite_options()) {}

  // The suite's add_delegation: a new key for `name` in the delegator; a role that already
  // exists keeps its metadata and gains a signer (two delegators of one role both sign it).
  void delegate(const std::string& delegator, const std::string& name,
                std::vector<std::string> paths = {"*"}, bool terminating = false) {
    std::optional<Targets> had;
    std::vector<keys::PrivateKey> had_signers;
    if (auto it = sim.targets.find(name); it != sim.targets.end()) {
      had = it->second;
      had_signers = sim.signers[name];
    }
    sim.add_delegation(delegator, name, std::move(paths), terminating);
    if (had) {
      sim.targets[name] = *had;
      auto& s = sim.signers[name];
      s.insert(s.begin(), had_signers.begin(), had_signers.end());
    }
  }
  // Re-initialise the client with another trusted root (the suite's init_client).
  void init_with(const std::string& root_bytes) {
    fs::path f = dir / "trusted-root.json";
    ASSERT_TRUE(atomic_write_file(f, root_bytes));
    auto r = run({"--metadata-dir", mdir.string(), "init", f.string()});
    ASSERT_EQ(r.status, 0) << r.output;
  }
  std::string stored(const std::string& file) { return read_file(mdir / file).value_or(""); }
  // One case of a table: a fresh simulated repository and a freshly initialised client.
  void fresh_case() {
    TearDown();
    sim = Simulator(suite_options());
    SetUp();
  }
};

// ---- test_basic.py ----

// test_basic_refresh_requests / test_basic_refresh_trusted_data / test_implicit_refresh.
TEST_F(SuiteTest, ImplicitRefreshBeforeDownloadStoresTheServedBytes) {
  auto r = download({"nonexistent artifact"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(requests(), (V{"2.root.json", "timestamp.json", "1.snapshot.json", "1.targets.json"}));
  EXPECT_EQ(stored("root.json"), sim.signed_roots[0]);
  EXPECT_EQ(stored("timestamp.json"), sim.published["timestamp"]);
  EXPECT_EQ(stored("snapshot.json"), sim.published["snapshot"]);
  EXPECT_EQ(stored("targets.json"), sim.published["targets"]);
  EXPECT_TRUE(target_files().empty());
}

// test_invalid_initial_root / test_unsigned_initial_root: refresh fails with no request.
TEST_F(SuiteTest, BrokenInitialRootMakesNoRequest) {
  for (int which = 0; which < 2; ++which) {
    auto j = nlohmann::json::parse(sim.signed_roots[0]);
    if (which == 0)
      j["signed"].erase("version");
    else
      j["signatures"][0]["sig"] = std::string(140, 'a');  // plausible length, wrong value
    // init may or may not validate; the refresh must fail before any request.
    fs::path f = dir / "bad-root.json";
    ASSERT_TRUE(atomic_write_file(f, j.dump()));
    run({"--metadata-dir", mdir.string(), "init", f.string()});
    ASSERT_TRUE(atomic_write_file(mdir / "root.json", j.dump()));
    auto r = refresh();
    EXPECT_EQ(r.status, 1) << which << r.output;
    EXPECT_TRUE(requests().empty()) << which;
  }
}

// test_unsigned_metadata[root|timestamp|snapshot|targets]: a role published with no valid
// signature; everything accepted before it in the workflow is stored, nothing after.
TEST_F(SuiteTest, UnsignedMetadataTable) {
  struct Case {
    std::string role;
    Trusted trusted;
  };
  const Case cases[] = {
      {"root", {{"root", 1}}},
      {"timestamp", {{"root", 2}}},
      {"snapshot", {{"root", 2}, {"timestamp", 2}}},
      {"targets", {{"root", 2}, {"snapshot", 2}, {"timestamp", 2}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.role);
    fresh_case();
    sim.signers[c.role].clear();
    sim.bump_root();
    sim.bump_targets();
    auto r = refresh();
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_EQ(trusted_roles(), c.trusted) << r.output;
  }
}

// test_url_and_metadata_version_mismatch: N.role.json holds version N+1.
TEST_F(SuiteTest, UrlAndMetadataVersionMismatchTable) {
  struct Case {
    std::string role;
    Trusted trusted;
  };
  const Case cases[] = {
      {"root", {{"root", 1}}},
      {"snapshot", {{"root", 2}, {"timestamp", 2}}},
      {"targets", {{"root", 2}, {"snapshot", 2}, {"timestamp", 2}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.role);
    fresh_case();
    sim.bump_root();
    sim.bump_targets();  // targets, snapshot, timestamp v2
    if (c.role == "root") {
      Root r = sim.root;
      r.version = 3;
      sim.overrides["2.root.json"] = sim.sign(to_json(r), sim.signers["root"]);
    } else if (c.role == "snapshot") {
      Snapshot s = sim.snapshot;
      s.version = 3;
      sim.overrides["2.snapshot.json"] = sim.sign(to_json(s), sim.signers["snapshot"]);
    } else {
      Targets t = sim.targets["targets"];
      t.version = 3;
      sim.overrides["2.targets.json"] = sim.sign(to_json(t), sim.signers["targets"]);
    }
    auto r = refresh();
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_EQ(trusted_roles(), c.trusted) << r.output;
  }
}

// test_timestamp_content_changes / test_timestamp_eq_versions_check / test_metadata_bytes_match.
TEST_F(SuiteTest, SameVersionTimestampIsIgnoredAndBytesAreKept) {
  std::string ts1 = sim.published["timestamp"] + " ";  // unique serialisation
  sim.overrides["timestamp.json"] = ts1;
  ASSERT_EQ(refresh().status, 0);
  EXPECT_EQ(stored("timestamp.json"), ts1);
  // Same version, different content (claims snapshot v100): kept local, no snapshot request.
  Timestamp t = sim.timestamp;
  t.meta["snapshot.json"].version = 100;
  sim.overrides["timestamp.json"] = sim.sign(to_json(t), sim.signers["timestamp"]);
  auto r = refresh();
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(requests(), (V{"2.root.json", "timestamp.json"}));
  EXPECT_EQ(stored("timestamp.json"), ts1);
}

// test_basic_metadata_hash_support: snapshot lists a wrong sha256 for targets.json.
TEST_F(SuiteTest, MetadataHashesAreVerified) {
  sim.opts.meta_hashes = true;
  sim.bump_targets();  // all v2 with hashes
  ASSERT_EQ(refresh().status, 0);
  sim.bump_targets();  // v3
  sim.snapshot.meta["targets.json"].hashes["sha256"] = std::string(64, '4');
  sim.published["snapshot"] = sim.sign_snapshot();
  sim.timestamp.meta["snapshot.json"].length =
      static_cast<std::int64_t>(sim.published["snapshot"].size());
  sim.timestamp.meta["snapshot.json"].hashes["sha256"] = sha256_hex(sim.published["snapshot"]);
  sim.published["timestamp"] = sim.sign_timestamp();
  auto r = refresh();
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(trusted_roles(),
            (Trusted{{"root", 1}, {"snapshot", 3}, {"targets", 2}, {"timestamp", 3}}));
}

// test_new_targets_version_mismatch: a new targets version not named by snapshot is ignored.
TEST_F(SuiteTest, TargetsNotNamedBySnapshotAreNotFetched) {
  ASSERT_EQ(refresh().status, 0);
  sim.targets["targets"].version = 2;
  sim.published["targets"] = sim.sign_targets("targets");  // served as 2.targets.json only
  auto r = refresh();
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(requests(), (V{"2.root.json", "timestamp.json"}));
}

// test_custom_fields / test_deprecated_keyid_hash_algorithms: unknown fields in root, in a
// role and in keys (keyid_hash_algorithms is ignored); keyids are not recomputed.
TEST_F(SuiteTest, UnknownFieldsAndKeyidHashAlgorithms) {
  ASSERT_EQ(refresh().status, 0);
  auto j = nlohmann::json::parse(sim.signed_roots[0])["signed"];
  j["version"] = 2;
  j["custom-field"] = "value";
  j["roles"]["root"]["another-field"] = "value";
  for (auto& [id, key] : j["keys"].items()) {
    key["extra-field"] = {{"a", 1}, {"b", 2}};
    key["keyid_hash_algorithms"] = "md5";
  }
  sim.signed_roots.push_back(sim.sign(j, sim.signers["root"]));
  auto r = refresh();
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(stored("root.json"), sim.signed_roots[1]);
}

// Spec §4 for targets metadata: unknown fields in the signed object, in a target entry, in
// `delegations`, in a delegated role and in a delegation key are all signed over and kept.
TEST_F(SuiteTest, UnknownFieldsInTargetsAndDelegations) {
  delegate("targets", "A");
  sim.add_target("A", "file.txt", "content");
  sim.bump_targets();
  auto j = nlohmann::json::parse(sim.published["targets"])["signed"];
  j["x-custom"] = {{"nested", {1, 2, 3}}};
  j["delegations"]["x-custom"] = "d";
  j["delegations"]["roles"][0]["x-custom"] = "r";
  for (auto& [id, key] : j["delegations"]["keys"].items()) key["x-custom"] = "k";
  sim.overrides["2.targets.json"] = sim.sign(j, sim.signers["targets"]);
  auto a = nlohmann::json::parse(sim.published["A"])["signed"];
  a["targets"]["file.txt"]["custom"] = {{"type", "blob"}};
  sim.overrides["1.A.json"] = sim.sign(a, sim.signers["A"]);
  auto r = download({"file.txt"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(stored("targets.json"), sim.overrides["2.targets.json"]);
  EXPECT_EQ(stored("A.json"), sim.overrides["1.A.json"]);
  EXPECT_EQ(*read_file(tdir / "file.txt"), "content");
}

// Static repositories (sigstore root-signing) list key types a client may not support, in
// the root role itself: such a key is not counted, but does not break the metadata.
TEST_F(SuiteTest, UnsupportedKeyTypesDoNotCount) {
  auto j = nlohmann::json::parse(sim.signed_roots[0])["signed"];
  j["version"] = 2;
  j["keys"]["00ff"] = {{"keytype", "sigstore-oidc"},
                       {"scheme", "Fulcio"},
                       {"keyval", {{"identity", "someone@example.com"}, {"issuer", "https://x"}}}};
  j["roles"]["root"]["keyids"].push_back("00ff");
  j["roles"]["snapshot"]["keyids"].push_back("00ff");
  sim.signed_roots.push_back(sim.sign(j, sim.signers["root"]));
  auto r = refresh();
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(stored("root.json"), sim.signed_roots[1]);
  // ...and with threshold 2 the unsupported key cannot make up the second signature.
  j["version"] = 3;
  j["roles"]["root"]["threshold"] = 2;
  sim.signed_roots.push_back(sim.sign(j, sim.signers["root"]));
  r = refresh();
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(stored("root.json"), sim.signed_roots[1]);
}

// test_snapshot_404 / test_targets_404 / test_timestamp_404.
TEST_F(SuiteTest, MissingFilesTable) {
  struct Case {
    std::string missing;
    Trusted trusted;
  };
  const Case cases[] = {
      {"2.snapshot.json", {{"root", 1}, {"snapshot", 1}, {"targets", 1}, {"timestamp", 2}}},
      {"2.targets.json", {{"root", 1}, {"snapshot", 2}, {"targets", 1}, {"timestamp", 2}}},
      {"timestamp.json", {{"root", 1}, {"snapshot", 1}, {"targets", 1}, {"timestamp", 1}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.missing);
    fresh_case();
    ASSERT_EQ(refresh().status, 0);
    if (c.missing == "2.targets.json") sim.bump_targets();
    if (c.missing == "2.snapshot.json") sim.bump_snapshot();
    sim.missing.insert(c.missing);
    auto r = refresh();
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_EQ(metadata_requests().back(), c.missing);
    EXPECT_EQ(trusted_roles(), c.trusted);
  }
}

// test_incorrect_metadata_type: a validly signed snapshot served as timestamp.json.
TEST_F(SuiteTest, SnapshotServedAsTimestampIsRejected) {
  sim.add_key(RoleType::snapshot, sim.signers["timestamp"][0]);
  sim.bump_root();
  Snapshot s = sim.snapshot;
  s.version = 2;
  s.meta.clear();
  s.meta["snapshot.json"].version = 1;
  sim.overrides["timestamp.json"] = sim.sign(to_json(s), sim.signers["snapshot"]);
  auto r = refresh();
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(trusted_roles(), (Trusted{{"root", 2}}));
}

// test_faketime: root expiring in 7 days is fine now and expired 8 days from now.
TEST_F(SuiteTest, FaketimeExpiresRoot) {
  if (!have_faketime()) GTEST_SKIP() << "faketime is not installed";
  sim.root.expires =
      std::chrono::floor<std::chrono::seconds>(docket::now()) + std::chrono::hours(24 * 7);
  sim.bump_root();
  ASSERT_EQ(refresh().status, 0);
  auto r = refresh(faketime_at(docket::now() + std::chrono::hours(24 * 8)));
  EXPECT_EQ(r.status, 1) << r.output;
}

// ---- test_updater_key_rotations.py ----

struct MdVersion {
  std::vector<int> keys;
  std::int64_t threshold;
  std::vector<int> sigs;
  bool ok = true;
};

// test_root_rotation: each case is a chain of root versions (keys, threshold, signers); the
// client starts from v1 and ends with the newest root, or the one before a bad last version.
TEST_F(SuiteTest, RootRotationTable) {
  const std::vector<std::pair<std::string, std::vector<MdVersion>>> cases = {
      {"1-of-1-key-rotation", {{{1}, 1, {1}}, {{2}, 1, {2, 1}}, {{2}, 1, {2}}}},
      {"1-of-1-key-rotation-unused-signatures",
       {{{1}, 1, {3, 1, 4}}, {{2}, 1, {3, 2, 1, 4}}, {{2}, 1, {3, 2, 4}}}},
      {"3-of-5-sign-with-different-keycombos",
       {{{0, 1, 2, 3, 4}, 3, {0, 2, 4}},
        {{0, 1, 2, 3, 4}, 3, {0, 4, 1}},
        {{0, 1, 2, 3, 4}, 3, {0, 1, 3}},
        {{0, 1, 2, 3, 4}, 3, {0, 1, 3}}}},
      {"3-of-5-one-key-rotated",
       {{{0, 1, 2, 3, 4}, 3, {0, 2, 4}}, {{0, 1, 3, 4, 5}, 3, {0, 4, 1}}}},
      {"3-of-5-one-key-rotated-with-intermediate-step",
       {{{0, 1, 2, 3, 4}, 3, {0, 2, 4}},
        {{0, 1, 3, 4, 5}, 3, {0, 2, 4, 5}},
        {{0, 1, 3, 4, 5}, 3, {0, 4, 5}}}},
      {"3-of-5-all-keys-rotated-with-intermediate-step",
       {{{0, 1, 2, 3, 4}, 3, {0, 2, 4}},
        {{5, 6, 7, 8, 9}, 3, {0, 2, 4, 5, 6, 7}},
        {{5, 6, 7, 8, 9}, 3, {5, 6, 7}}}},
      {"1-of-3-threshold-increase-to-2-of-3", {{{1, 2, 3}, 1, {1}}, {{1, 2, 3}, 2, {1, 2}}}},
      {"2-of-3-threshold-decrease-to-1-of-3",
       {{{1, 2, 3}, 2, {1, 2}}, {{1, 2, 3}, 1, {1, 2}}, {{1, 2, 3}, 1, {1}}}},
      {"1-of-2-threshold-increase-to-2-of-2", {{{1}, 1, {1}}, {{1, 2}, 2, {1, 2}}}},
      {"1-of-1-key-rotation-fail-not-signed-with-old-key",
       {{{1}, 1, {1}}, {{2}, 1, {2, 3, 4}, false}}},
      {"1-of-1-key-rotation-fail-not-signed-with-new-key",
       {{{1}, 1, {1}}, {{2}, 1, {1, 3, 4}, false}}},
      {"3-of-5-one-key-rotate-fails-not-signed-with-3-new-keys",
       {{{0, 1, 2, 3, 4}, 3, {0, 2, 4}}, {{0, 1, 3, 4, 5}, 3, {0, 2, 4}, false}}},
      {"3-of-5-one-key-rotate-fails-not-signed-with-3-old-keys",
       {{{0, 1, 2, 3, 4}, 3, {0, 2, 4}}, {{0, 1, 3, 4, 5}, 3, {0, 4, 5}, false}}},
      {"1-of-3-threshold-bump-to-2-of-3-fails-new-threshold-not-reached",
       {{{1, 2, 3}, 1, {1}}, {{1, 2, 3}, 2, {2}, false}}},
      {"2-of-3-threshold-decr-to-1-of-3-fails-old-threshold-not-eached",
       {{{1, 2, 3}, 2, {1, 2}}, {{1, 2, 3}, 1, {1}, false}}},
  };
  std::vector<keys::PrivateKey> ks;
  for (int i = 0; i < 10; ++i) ks.push_back(sim.new_key());
  for (const auto& [name, versions] : cases) {
    SCOPED_TRACE(name);
    sim.signed_roots.clear();
    for (std::size_t v = 0; v < versions.size(); ++v) {
      const auto& mv = versions[v];
      sim.root.version = static_cast<std::int64_t>(v + 1);
      auto& role = sim.root.roles["root"];
      role.keyids.clear();
      role.threshold = mv.threshold;
      for (int i : mv.keys) {
        sim.root.keys[sim.key_id(ks[i])] = sim.key_json(ks[i]);
        role.keyids.push_back(sim.key_id(ks[i]));
      }
      sim.signers["root"].clear();
      for (int i : mv.sigs) sim.signers["root"].push_back(ks[i]);
      sim.publish_root();
    }
    std::error_code ec;
    fs::remove_all(mdir, ec);
    fs::create_directories(mdir);
    init_with(sim.signed_roots[0]);
    bool ok = versions.back().ok;
    auto r = refresh();
    EXPECT_EQ(r.status, ok ? 0 : 1) << r.output;
    EXPECT_EQ(stored("root.json"), sim.signed_roots[sim.signed_roots.size() - (ok ? 1 : 2)]);
  }
}

// test_non_root_rotations: timestamp, snapshot and targets keys/threshold/signers changed in
// turn (with a new root each time); the stored role equals the served bytes on success.
TEST_F(SuiteTest, NonRootRotationTable) {
  const std::vector<std::pair<std::string, MdVersion>> cases = {
      {"1-of-1-key-rotation", {{2}, 1, {2}}},
      {"1-of-1-key-rotation-unused-signatures", {{1}, 1, {3, 1, 4}}},
      {"1-of-1-key-rotation-fail-not-signed-with-new-key", {{2}, 1, {1, 3, 4}, false}},
      {"3-of-5-one-key-signature-wrong-not-signed-with-3-expected-keys",
       {{0, 1, 3, 4, 5}, 3, {0, 2, 4}, false}},
      {"2-of-5-one-key-signature-mising-threshold-not-reached",
       {{0, 1, 3, 4, 5}, 3, {0, 4}, false}},
      {"3-of-5-sign-first-combo", {{0, 1, 2, 3, 4}, 3, {0, 2, 4}}},
      {"3-of-5-sign-second-combo", {{0, 1, 2, 3, 4}, 3, {0, 4, 1}}},
      {"3-of-5-sign-third-combo", {{0, 1, 2, 3, 4}, 3, {0, 1, 3}}},
      {"3-of-5-sign-fourth-combo", {{0, 1, 2, 3, 4}, 3, {1, 2, 3}}},
      {"3-of-5-sign-fifth-combo", {{0, 1, 2, 3, 4}, 3, {2, 3, 4}}},
  };
  std::vector<keys::PrivateKey> ks;
  for (int i = 0; i < 10; ++i) ks.push_back(sim.new_key());
  for (const auto& [name, mv] : cases) {
    SCOPED_TRACE(name);
    fresh_case();
    for (const std::string role : {"timestamp", "snapshot", "targets"}) {
      SCOPED_TRACE(role);
      auto& rk = sim.root.roles[role];
      rk.keyids.clear();
      rk.threshold = mv.threshold;
      for (int i : mv.keys) {
        sim.root.keys[sim.key_id(ks[i])] = sim.key_json(ks[i]);
        rk.keyids.push_back(sim.key_id(ks[i]));
      }
      sim.signers[role].clear();
      for (int i : mv.sigs) sim.signers[role].push_back(ks[i]);
      sim.bump_root();
      sim.bump_targets();
      auto r = refresh();
      EXPECT_EQ(r.status, mv.ok ? 0 : 1) << r.output;
      if (mv.ok) EXPECT_EQ(stored(role + ".json"), sim.published[role]);
    }
  }
}

// ---- test_keys.py ----

// test_snapshot_does_not_meet_threshold / test_snapshot_has_too_few_keys.
TEST_F(SuiteTest, SnapshotThresholds) {
  sim.root.roles["snapshot"].threshold = 3;
  sim.add_key(RoleType::snapshot, sim.new_key());
  sim.add_key(RoleType::snapshot, sim.new_key());
  sim.bump_root();
  sim.bump_targets();
  ASSERT_EQ(refresh().status, 0);
  sim.signers["snapshot"].pop_back();  // 2 of 3
  sim.bump_targets();
  auto r = refresh();
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(trusted_roles(),
            (Trusted{{"root", 2}, {"snapshot", 2}, {"targets", 2}, {"timestamp", 3}}));
  // Threshold above the number of keys: never met, even with every key signing.
  sim.signers["snapshot"].push_back(sim.new_key());
  sim.add_key(RoleType::snapshot, sim.signers["snapshot"].back());
  sim.signers["snapshot"].pop_back();
  sim.root.roles["snapshot"].threshold = 6;
  sim.bump_root();
  sim.bump_snapshot();
  r = refresh();
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(stored("root.json"), sim.signed_roots.back());
  EXPECT_EQ(parse_header(stored("snapshot.json"))->version, 2);
}

// test_duplicate_keys / test_duplicate_sig_keyids: one key listed nine times (threshold 6)
// and its signature repeated; the same keyid twice in `signatures` rejects the metadata.
TEST_F(SuiteTest, DuplicateKeysAndSignaturesNeverReachAThreshold) {
  {
    auto j = nlohmann::json::parse(sim.published["snapshot"]);
    j["signatures"].push_back(j["signatures"][0]);
    sim.overrides["1.snapshot.json"] = j.dump();
    auto r = refresh();
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_FALSE(fs::exists(mdir / "snapshot.json"));
    sim.overrides.clear();
  }
  auto k = sim.new_key();
  for (int i = 0; i < 9; ++i) sim.add_key(RoleType::snapshot, k);
  sim.signers["snapshot"].erase(sim.signers["snapshot"].begin() + 2,
                                sim.signers["snapshot"].end());  // original key + k once
  sim.root.roles["snapshot"].threshold = 6;
  sim.bump_root();
  sim.bump_snapshot();
  auto j = nlohmann::json::parse(sim.published["snapshot"]);
  for (int i = 0; i < 8; ++i) j["signatures"].push_back(j["signatures"][1]);
  sim.overrides["2.snapshot.json"] = j.dump();
  auto r = refresh();
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_FALSE(fs::exists(mdir / "snapshot.json"));
}

// test_invalid_sig_in_valid_metadata: a wrong or empty signature from a second listed key
// does not count, and does not fail metadata whose threshold is met.
TEST_F(SuiteTest, InvalidSignatureAlongsideValidOnesIsIgnored) {
  std::string old_sig = nlohmann::json::parse(sim.published["timestamp"])["signatures"][0]["sig"];
  sim.add_key(RoleType::timestamp, sim.new_key());
  sim.bump_root();
  for (std::string bad : {old_sig, std::string()}) {
    sim.bump_timestamp();
    auto j = nlohmann::json::parse(sim.published["timestamp"]);
    j["signatures"][0]["sig"] = bad;  // the first key's signature; the second one is valid
    sim.overrides["timestamp.json"] = j.dump();
    auto r = refresh();
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(stored("timestamp.json"), j.dump());
  }
}

// test_keytype_and_scheme[ed25519|ecdsa|rsa]: a root key of each type is required (threshold
// + 1); a plausible but wrong signature from it makes the next root fail.
TEST_F(SuiteTest, KeyTypesAndSchemes) {
  for (auto alg : {keys::Algorithm::ed25519, keys::Algorithm::ecdsa_p256, keys::Algorithm::rsa}) {
    SCOPED_TRACE(static_cast<int>(alg));
    fresh_case();
    auto k =
        value_or_raise(keys::PrivateKey::generate(alg, alg == keys::Algorithm::rsa ? 3072 : 0));
    sim.add_key(RoleType::root, k);
    sim.root.roles["root"].threshold += 1;
    sim.bump_root();
    auto r = refresh();
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(trusted_roles().front(), (std::pair<std::string, std::int64_t>{"root", 2}));
    sim.bump_root();
    auto j = nlohmann::json::parse(sim.signed_roots.back());
    for (auto& s : j["signatures"])
      if (s["keyid"] == sim.key_id(k)) {
        std::string sig = s["sig"];
        sig[sig.size() / 2] = sig[sig.size() / 2] == '0' ? '1' : '0';
        s["sig"] = sig;
      }
    sim.signed_roots.back() = j.dump();
    r = refresh();
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_EQ(trusted_roles().front(), (std::pair<std::string, std::int64_t>{"root", 2}));
  }
}

// ---- test_rollback.py ----

// test_new_timestamp_version_rollback / test_simple_snapshot_rollback / test_snapshot_rollback
// / test_targets_rollback, with and without hashes in meta.
TEST_F(SuiteTest, RollbacksAreRejected) {
  for (bool hashes : {false, true}) {
    SCOPED_TRACE(hashes);
    TearDown();
    sim = Simulator(suite_options());
    sim.opts.meta_hashes = hashes;
    sim.publish();
    SetUp();
    sim.bump_targets();  // targets/snapshot/timestamp v2
    ASSERT_EQ(refresh().status, 0);
    // Timestamp v1 again.
    sim.timestamp.version = 1;
    sim.publish();
    auto r = refresh();
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_EQ(metadata_requests().back(), "timestamp.json");
    EXPECT_EQ(parse_header(stored("timestamp.json"))->version, 2);
    // Snapshot v1 named by timestamp v3.
    sim.timestamp.version = 3;
    sim.snapshot.version = 1;
    sim.publish();
    r = refresh();
    EXPECT_EQ(r.status, 1) << r.output;
    // §5.4.3.2: a timestamp naming an older snapshot is itself rejected.
    EXPECT_EQ(trusted_roles(),
              (Trusted{{"root", 1}, {"snapshot", 2}, {"targets", 2}, {"timestamp", 2}}));
    // Snapshot v3 naming targets v1 (the trusted snapshot names v2).
    sim.snapshot.version = 3;
    sim.targets["targets"].version = 1;
    sim.timestamp.version = 4;
    sim.publish();
    r = refresh();
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_EQ(trusted_roles(),
              (Trusted{{"root", 1}, {"snapshot", 2}, {"targets", 2}, {"timestamp", 4}}));
  }
}

// test_new_snapshot_version_mismatch: snapshot bumped without timestamp meta.
TEST_F(SuiteTest, SnapshotVersionMustMatchTimestampMeta) {
  Snapshot s = sim.snapshot;
  s.version = 2;
  sim.overrides["1.snapshot.json"] = sim.sign(to_json(s), sim.signers["snapshot"]);
  auto r = refresh();
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(trusted_roles(), (Trusted{{"root", 1}, {"timestamp", 1}}));
  EXPECT_EQ(metadata_requests().back(), "1.snapshot.json");
}

// test_new_timestamp/snapshot/targets_fast_forward_recovery: after an attacker-inflated
// version, rotating the keys of the role that signs the rollback reference lets the client
// accept the lower version.
TEST_F(SuiteTest, FastForwardRecovery) {
  // Timestamp.
  sim.timestamp.version = 99999;
  sim.publish();
  ASSERT_EQ(refresh().status, 0);
  sim.rotate_keys(RoleType::timestamp);
  sim.bump_root();
  sim.timestamp.version = 1;
  sim.publish();
  auto r = refresh();
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(parse_header(stored("timestamp.json"))->version, 1);
  // Snapshot (needs timestamp and snapshot key rotation).
  sim.snapshot.version = 99999;
  sim.timestamp.version = 2;
  sim.publish();
  ASSERT_EQ(refresh().status, 0);
  EXPECT_EQ(parse_header(stored("snapshot.json"))->version, 99999);
  sim.rotate_keys(RoleType::timestamp);
  sim.rotate_keys(RoleType::snapshot);
  sim.bump_root();
  sim.snapshot.version = 1;
  sim.timestamp.version = 3;
  sim.publish();
  r = refresh();
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(parse_header(stored("snapshot.json"))->version, 1);
  // Targets (needs snapshot key rotation).
  sim.targets["targets"].version = 99999;
  sim.bump_snapshot();
  ASSERT_EQ(refresh().status, 0);
  EXPECT_EQ(parse_header(stored("targets.json"))->version, 99999);
  sim.rotate_keys(RoleType::snapshot);
  sim.bump_root();
  sim.targets["targets"].version = 1;
  sim.bump_snapshot();
  r = refresh();
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(parse_header(stored("targets.json"))->version, 1);
}

// ---- test_expiration.py ----

// test_root_expired (final root expired: stored, nothing else), test_timestamp_expired,
// test_snapshot_expired, test_targets_expired (an expired new version is not stored).
TEST_F(SuiteTest, ExpiredMetadataTable) {
  auto past = std::chrono::floor<std::chrono::seconds>(docket::now()) - std::chrono::hours(24 * 5);
  for (const std::string role : {"root", "timestamp", "snapshot", "targets"}) {
    SCOPED_TRACE(role);
    fresh_case();
    ASSERT_EQ(refresh().status, 0);
    if (role == "root") {
      sim.root.expires = past;
      sim.bump_root();
      sim.bump_timestamp();
    } else if (role == "timestamp") {
      sim.timestamp.expires = past;
      sim.bump_timestamp();
    } else if (role == "snapshot") {
      sim.snapshot.expires = past;
      sim.bump_snapshot();
    } else {
      sim.targets["targets"].expires = past;
      sim.bump_targets();
    }
    auto r = refresh();
    EXPECT_EQ(r.status, 1) << r.output;
    EXPECT_NE(r.output.find("expired"), std::string::npos) << r.output;
    auto t = trusted_roles();
    for (auto& [name, v] : t) {
      bool newer = (role == "root" && name == "root") ||
                   (role == "snapshot" && name == "timestamp") ||
                   (role == "targets" && (name == "timestamp" || name == "snapshot"));
      EXPECT_EQ(v, newer ? 2 : 1) << name;
    }
    EXPECT_EQ(t.size(), 4u);
  }
}

// test_expired_metadata: local timestamp expired by the time of the next refresh; the new
// one is not. The expired local copy is still the rollback reference and the update works.
TEST_F(SuiteTest, ExpiredLocalTimestampStillAllowsUpdate) {
  if (!have_faketime()) GTEST_SKIP() << "faketime is not installed";
  auto now = std::chrono::floor<std::chrono::seconds>(docket::now());
  sim.timestamp.expires = now + std::chrono::hours(24 * 7);
  sim.publish();
  ASSERT_EQ(refresh().status, 0);
  sim.timestamp.expires = now + std::chrono::hours(24 * 21);
  sim.bump_targets();
  auto r = refresh(faketime_at(now + std::chrono::hours(24 * 18)));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(trusted_roles(),
            (Trusted{{"root", 1}, {"snapshot", 2}, {"targets", 2}, {"timestamp", 2}}));
}

// ---- test_delegated_expiration.py ----

TEST_F(SuiteTest, DelegatedTargetsExpiry) {
  if (!have_faketime()) GTEST_SKIP() << "faketime is not installed";
  auto now = std::chrono::floor<std::chrono::seconds>(docket::now());
  // test_delegated_targets_expired: the role is already expired when first seen.
  delegate("targets", "delegated", {"delegatedpath/*"});
  sim.targets["delegated"].expires = now - std::chrono::hours(24);
  sim.add_target("delegated", "delegatedpath/target", "delegated content");
  sim.bump_targets();
  ASSERT_EQ(refresh().status, 0);
  auto r = download({"delegatedpath/target"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(target_files().empty());
  EXPECT_EQ(trusted_roles(),
            (Trusted{{"root", 1}, {"snapshot", 2}, {"targets", 2}, {"timestamp", 2}}));

  // test_expired_local_delegated_targets(_updates): v2 valid for 7 days is trusted on day 0;
  // on day 18 it is expired and must not be used; once v3 (valid 21 days) is published, it is.
  sim.targets["delegated"].expires = now + std::chrono::hours(24 * 7);
  sim.add_target("delegated", "delegatedpath/first", "first");
  sim.add_target("delegated", "delegatedpath/second", "second");
  sim.targets["delegated"].version = 2;
  sim.bump_snapshot();
  r = download({"delegatedpath/first"});
  ASSERT_EQ(r.status, 0) << r.output;
  auto day18 = faketime_at(now + std::chrono::hours(24 * 18));
  r = download({"delegatedpath/second"}, day18);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(target_files(), (std::set<std::string>{"delegatedpath%2Ffirst"}));
  sim.targets["delegated"].expires = now + std::chrono::hours(24 * 21);
  sim.targets["delegated"].version = 3;
  sim.bump_snapshot();
  r = download({"delegatedpath/second"}, day18);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(*read_file(tdir / "delegatedpath%2Fsecond"), "second");
}

// ---- test_updater_delegation_graphs.py ----

struct Delegation {
  std::string delegator, role;
  std::vector<std::string> paths = {"*"};
  bool terminating = false;
};

// test_graph_traversal: pre-order depth-first, in listing order, each role once, terminating
// delegations end the search; the only requests after the top level are the visited roles.
TEST_F(SuiteTest, GraphTraversalTable) {
  struct Case {
    std::string name;
    std::vector<Delegation> delegations;
    V visited;
  };
  const std::vector<Case> cases = {
      {"basic-delegation", {{"targets", "A"}}, {"A"}},
      {"single-level-delegations", {{"targets", "A"}, {"targets", "B"}}, {"A", "B"}},
      {"two-level-delegations", {{"targets", "A"}, {"targets", "B"}, {"B", "C"}}, {"A", "B", "C"}},
      {"two-level-test-DFS-order-of-traversal",
       {{"targets", "A"}, {"targets", "B"}, {"A", "C"}, {"A", "D"}},
       {"A", "C", "D", "B"}},
      {"three-level-delegation-test-DFS-order-of-traversal",
       {{"targets", "A"}, {"targets", "B"}, {"A", "C"}, {"C", "D"}},
       {"A", "C", "D", "B"}},
      {"two-level-terminating-ignores-all-but-roles-descendants",
       {{"targets", "A"}, {"targets", "B"}, {"A", "C", {"*"}, true}, {"A", "D"}},
       {"A", "C"}},
      {"three-level-terminating-ignores-all-but-roles-descendants",
       {{"targets", "A"}, {"targets", "B"}, {"A", "C", {"*"}, true}, {"C", "D"}},
       {"A", "C", "D"}},
      {"two-level-ignores-all-branches-not-matching-paths",
       {{"targets", "A", {"*.py"}}, {"targets", "B"}, {"A", "C"}},
       {"B"}},
      {"three-level-ignores-all-branches-not-matching-paths",
       {{"targets", "A"}, {"targets", "B"}, {"A", "C", {"*.py"}}, {"C", "D"}},
       {"A", "B"}},
      {"cyclic-graph",
       {{"targets", "A"}, {"targets", "B"}, {"B", "C"}, {"C", "D"}, {"D", "B"}},
       {"A", "B", "C", "D"}},
      {"two-roles-delegating-to-a-third",
       {{"targets", "A"}, {"targets", "B"}, {"B", "C"}, {"A", "C"}},
       {"A", "C", "B"}},
      {"two-roles-delegating-to-a-third-different-paths",
       {{"targets", "A"}, {"targets", "B"}, {"B", "C"}, {"A", "C", {"*.py"}}},
       {"A", "B", "C"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    fresh_case();
    for (const auto& d : c.delegations) delegate(d.delegator, d.role, d.paths, d.terminating);
    sim.bump_targets();
    auto r = download({"missingpath"});
    EXPECT_EQ(r.status, 1) << r.output;
    V want{"2.root.json", "timestamp.json", "2.snapshot.json", "2.targets.json"};
    for (const auto& v : c.visited) want.push_back("1." + v + ".json");
    EXPECT_EQ(requests(), want) << r.output;
    std::size_t files = 4 + c.visited.size();
    EXPECT_EQ(trusted_roles().size(), files);
  }
}

// test_targetfile_search: a tree with path patterns; the target is found in the right role
// after visiting exactly the roles on the way, or not found.
TEST_F(SuiteTest, TargetfileSearchTable) {
  struct Case {
    std::string path;
    bool found;
    V visited;
  };
  const Case cases[] = {
      {"targetfile", true, {}},
      {"README.md", true, {"A"}},
      {"releases/x/x_v1", true, {"B", "C"}},
      {"releases/y/y_v1.zip", true, {"B", "D"}},
      {"releases/z/z_v1.zip", false, {"B"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path);
    fresh_case();
    delegate("targets", "A", {"*.doc", "*.md"});
    delegate("targets", "B", {"releases/*/*"});
    delegate("B", "C", {"releases/x/*"});
    delegate("B", "D", {"releases/y/*.zip"});
    sim.add_target("targets", "targetfile", "targetfile content");
    sim.add_target("A", "README.md", "README by A");
    sim.add_target("C", "releases/x/x_v1", "x release by C");
    sim.add_target("D", "releases/y/y_v1.zip", "y release by D");
    sim.add_target("D", "releases/z/z_v1.zip", "z release by D");
    sim.bump_targets();
    auto r = download({c.path});
    EXPECT_EQ(r.status, c.found ? 0 : 1) << r.output;
    V want{"2.root.json", "timestamp.json", "2.snapshot.json", "2.targets.json"};
    for (const auto& v : c.visited) want.push_back("1." + v + ".json");
    EXPECT_EQ(metadata_requests(), want) << r.output;
    auto files = target_files();
    if (c.found) {
      ASSERT_EQ(files.size(), 1u);
      EXPECT_EQ(*read_file(tdir / *files.begin()), sim.artifacts[c.path]);
    } else {
      EXPECT_TRUE(files.empty());
    }
  }
}

// test_cached_role_is_verified_against_current_delegator (python-tuf's expected failure): C
// is delegated by A (whose key signs it) and by B (whose key does not). Reaching C through B
// must verify it with B's keys, whether C is already in memory (same run) or on disk.
TEST_F(SuiteTest, CachedRoleIsVerifiedAgainstTheCurrentDelegator) {
  delegate("targets", "A", {"a/*"});
  delegate("targets", "B", {"b/*"});
  delegate("A", "C", {"a/*"});
  Targets c = sim.targets["C"];
  auto c_signers = sim.signers["C"];
  sim.add_delegation("B", "C", {"b/*"});  // lists a new key that does not sign C
  sim.targets["C"] = c;
  sim.signers["C"] = c_signers;
  sim.add_target("C", "a/x", "x via A");
  sim.add_target("C", "b/y", "y via B");
  sim.bump_targets();
  auto r = download({"a/x", "b/y"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(target_files(), (std::set<std::string>{"a%2Fx"}));
  r = download({"b/y"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(target_files(), (std::set<std::string>{"a%2Fx"}));
  // Through A it is still fine.
  fs::remove(tdir / "a%2Fx");
  r = download({"a/x"});
  EXPECT_EQ(r.status, 0) << r.output;
}

// ---- test_quoting_issues.py ----

// test_unusual_role_name: the request is ENC(role) = quote(role, safe=""), and the role is
// stored inside the metadata directory (five *.json files).
TEST_F(SuiteTest, UnusualRoleNames) {
  const std::pair<std::string, std::string> cases[] = {{"?", "%3F"},
                                                       {"#", "%23"},
                                                       {"/delegatedrole", "%2Fdelegatedrole"},
                                                       {"../delegatedrole", "..%2Fdelegatedrole"}};
  for (const auto& [role, enc] : cases) {
    SCOPED_TRACE(role);
    fresh_case();
    delegate("targets", role);
    // A second key for the role in the delegation (the suite's repo.add_key(role, "targets")).
    auto k = sim.new_key();
    auto& d = *sim.targets["targets"].delegations;
    d.keys[sim.key_id(k)] = sim.key_json(k);
    d.roles.back().keys.keyids.push_back(sim.key_id(k));
    sim.signers[role].push_back(k);
    sim.bump_targets();
    auto r = download({"nonexistent target"});
    EXPECT_EQ(r.status, 1) << r.output;
    auto reqs = requests();
    EXPECT_NE(std::find(reqs.begin(), reqs.end(), "1." + enc + ".json"), reqs.end()) << r.output;
    EXPECT_EQ(trusted_roles().size(), 5u);
    EXPECT_TRUE(fs::exists(mdir / (enc + ".json")));
  }
}

// ---- test_file_download.py ----

// test_client_downloads_expected_file(_in_sub_dir), test_repository_substitutes_target_file,
// test_multiple_changes_to_target: only verified bytes ever land in the target directory.
TEST_F(SuiteTest, ArtifactDownloadsAndSubstitution) {
  sim.add_target("targets", "target_file.txt", "target file contents");
  sim.add_target("targets", "path/to/a/target_file.txt", "sub dir contents");
  sim.add_target("targets", "another_target_file.txt", "content");
  sim.bump_targets();
  ASSERT_EQ(refresh().status, 0);
  EXPECT_TRUE(target_files().empty());
  ASSERT_EQ(download({"target_file.txt"}).status, 0);
  ASSERT_EQ(download({"path/to/a/target_file.txt"}).status, 0);
  EXPECT_EQ(target_files(),
            (std::set<std::string>{"target_file.txt", "path%2Fto%2Fa%2Ftarget_file.txt"}));
  // The repository substitutes both artifacts (same names, same hash-prefixed URLs).
  std::string evil = "malicious data - should not download";
  sim.artifacts["target_file.txt"] = evil;
  sim.artifacts["another_target_file.txt"] = evil;
  // Cached and valid: success without a request.
  auto r = download({"target_file.txt"});
  EXPECT_EQ(r.status, 0) << r.output;
  for (const auto& q : requests()) EXPECT_FALSE(q.starts_with("T:")) << q;
  r = download({"another_target_file.txt"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(*read_file(tdir / "target_file.txt"), "target file contents");
  EXPECT_FALSE(fs::exists(tdir / "another_target_file.txt"));
  EXPECT_EQ(target_files().size(), 2u);
}

// test_TestDelegateConsistentSnapshotDisabled (older test_expiration.py): root v2 turns
// consistent snapshots off; metadata and targets are then fetched by plain names, including
// delegated roles named "." and "..".
TEST_F(SuiteTest, ConsistentSnapshotTurnedOff) {
  ASSERT_EQ(refresh().status, 0);
  sim.root.consistent_snapshot = false;
  sim.bump_root();
  delegate("targets", "role1");
  delegate("targets", "..");
  delegate("targets", ".");
  sim.add_target(".", "file.txt", "from dot");
  sim.bump_targets();
  auto r = refresh();
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(requests(),
            (V{"2.root.json", "3.root.json", "timestamp.json", "snapshot.json", "targets.json"}));
  r = download({"file.txt"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(requests(),
            (V{"3.root.json", "timestamp.json", "role1.json", "...json", "..json", "T:file.txt"}));
  EXPECT_EQ(*read_file(tdir / "file.txt"), "from dot");
  // Sorted by file name: "...json" sorts before "..json".
  EXPECT_EQ(trusted_roles(), (Trusted{{"..", 1},
                                      {".", 1},
                                      {"role1", 1},
                                      {"root", 2},
                                      {"snapshot", 2},
                                      {"targets", 2},
                                      {"timestamp", 2}}));
}

// Target paths with characters a URL path carries literally (sub-delims, ':', '@') are
// requested as such, like python-tuf and go-tuf do; characters it cannot carry (space,
// non-ASCII, '%', '?', '#') are percent-encoded. Stored names stay flat and encoded.
TEST_F(SuiteTest, SpecialCharactersInTargetPaths) {
  const std::string literal = "dir/a+b=c@d:e,f;g!h$i'j(k)l*m&n~o.txt";
  sim.add_target("targets", literal, "literal");
  sim.add_target("targets", "dir/\xc3\xa4 %?#.txt", "encoded");
  sim.bump_targets();
  auto r = download({literal});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(requests().back(),
            "T:dir/" + sha256_hex("literal") + ".a+b=c@d:e,f;g!h$i'j(k)l*m&n~o.txt");
  EXPECT_EQ(target_files(), (std::set<std::string>{TargetPath::make(literal)->encoded()}));
  // The loopback server does not decode, so this one is a 404: only the request is checked.
  r = download({"dir/\xc3\xa4 %?#.txt"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(requests().back(), "T:dir/" + sha256_hex("encoded") + ".%C3%A4%20%25%3F%23.txt");
}

// Zero-length targets are valid artifacts.
TEST_F(SuiteTest, ZeroLengthTarget) {
  sim.add_target("targets", "empty", "");
  sim.bump_targets();
  auto r = download({"empty"});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(*read_file(tdir / "empty"), "");
}

}  // namespace
}  // namespace docket::tuf
