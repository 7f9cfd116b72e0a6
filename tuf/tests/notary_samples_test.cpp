// The same updater verifies what a real Notary server serves: the captured metadata in
// shared/notary/samples, served by checksum the way notary-server does.
#include <gtest/gtest.h>

#include "common/digest.h"
#include "common/file.h"
#include "tuf/simulator.h"
#include "tuf/updater.h"

namespace docket::tuf {
namespace {

const std::string kBase = "https://notary.test/v2/localhost:4443/library/demo/_trust/tuf/";

std::string sample(const std::string& dir, const std::string& name) {
  return value_or_raise(
      read_file(std::string(DOCKET_SHARED_DIR) + "/notary/samples/" + dir + "/" + name));
}

// Serves a sample directory like notary-server: <role>.json, <role>.<sha256>.json and
// <N>.root.json.
void serve(MemoryFetcher& f, const std::string& dir) {
  auto put = [&](const std::string& role, const std::string& bytes) {
    f.put(kBase + role + ".json", bytes);
    f.put(kBase + role + "." + sha256_hex(bytes) + ".json", bytes);
  };
  put("root", sample(dir, "root.json"));
  put("timestamp", sample(dir, "timestamp.json"));
  put("snapshot", sample(dir, "snapshot.json"));
  put("targets", sample(dir, "targets.json"));
  put("targets/releases", sample(dir, "targets-releases.json"));
  for (int n = 1; n <= 7; ++n) {
    std::string b = sample(dir, std::to_string(n) + ".root.json");
    f.put(kBase + std::to_string(n) + ".root.json", b);
    f.put(kBase + "root." + sha256_hex(b) + ".json", b);
  }
}

class NotarySamples : public ::testing::TestWithParam<std::string> {
 protected:
  MemoryFetcher fetcher;
  MemoryStore store;
  std::vector<std::string> log;
  // The captured timestamp expires 14 days after capture: verify "as of" a moment inside
  // every file's validity window.
  TimePoint when = *parse_rfc3339("2026-11-24T00:00:00Z");

  std::unique_ptr<Updater> updater() {
    UpdaterOptions o;
    o.metadata_url = kBase;
    o.clock = [this] { return when; };
    o.log = [this](std::string_view l) { log.emplace_back(l); };
    return std::make_unique<Updater>(o, store, fetcher);
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& r : fetcher.requests()) out.push_back(r.substr(kBase.size()));
    return out;
  }
  std::string dump() const {
    std::string s;
    for (const auto& l : log) s += l + "\n";
    return s;
  }
};

TEST_P(NotarySamples, WalksTheSevenStepRootChainFromRootOne) {
  serve(fetcher, GetParam());
  store.files["root.json"] = sample(GetParam(), "1.root.json");
  auto u = updater();
  auto s = u->refresh();
  ASSERT_TRUE(s) << s.error().describe() << "\n" << dump();
  EXPECT_EQ(store.files["root.json"], sample(GetParam(), "7.root.json"));
  EXPECT_EQ(store.files["timestamp.json"], sample(GetParam(), "timestamp.json"));
  EXPECT_EQ(store.files["snapshot.json"], sample(GetParam(), "snapshot.json"));
  EXPECT_EQ(store.files["targets.json"], sample(GetParam(), "targets.json"));
  // The first attempt fails (timestamp key rotated in v7), then root.json, then v2..v6 by
  // version, then the update again by checksum.
  auto n = names();
  ASSERT_GE(n.size(), 9u);
  EXPECT_EQ(n[0], "timestamp.json");
  EXPECT_EQ(n[1], "root.json");
  for (int v = 2; v <= 6; ++v)
    EXPECT_EQ(n[static_cast<std::size_t>(v)], std::to_string(v) + ".root.json");
  EXPECT_EQ(n[7], "timestamp.json");
  EXPECT_EQ(n[8], "snapshot." + sha256_hex(sample(GetParam(), "snapshot.json")) + ".json");
  EXPECT_EQ(n[9], "targets." + sha256_hex(sample(GetParam(), "targets.json")) + ".json");

  // Top-level target and the delegated one, fetched by checksum.
  auto v3 = u->find_target(*TargetPath::make("v3"));
  ASSERT_TRUE(v3 && *v3) << dump();
  EXPECT_EQ(v3->value().file.length, 33);
  fetcher.clear_requests();
  auto v2 = u->find_target(*TargetPath::make("v2"));
  ASSERT_TRUE(v2 && *v2) << dump();
  EXPECT_EQ(v2->value().role.str(), "targets/releases");
  EXPECT_EQ(names(), (std::vector<std::string>{
                         "targets/releases." +
                         sha256_hex(sample(GetParam(), "targets-releases.json")) + ".json"}));
  EXPECT_TRUE(store.files.contains("targets%2Freleases.json"));
  // Second refresh from the persisted state: no root walk, no snapshot/targets fetch.
  fetcher.clear_requests();
  ASSERT_TRUE(updater()->refresh()) << dump();
  EXPECT_EQ(names(), (std::vector<std::string>{"timestamp.json"}));
}

TEST_P(NotarySamples, OneStepRotationVerifiesDirectly) {
  serve(fetcher, GetParam());
  store.files["root.json"] = sample(GetParam(), "6.root.json");
  auto s = updater()->refresh();
  ASSERT_TRUE(s) << s.error().describe() << "\n" << dump();
  auto n = names();
  EXPECT_EQ(n[1], "root.json");
  EXPECT_EQ(n[2], "timestamp.json");
  EXPECT_EQ(store.files["root.json"], sample(GetParam(), "7.root.json"));
}

TEST_P(NotarySamples, TamperedTargetsIsRejected) {
  serve(fetcher, GetParam());
  store.files["root.json"] = sample(GetParam(), "7.root.json");
  std::string t = sample(GetParam(), "targets.json");
  std::string tampered = t;
  tampered[tampered.find("\"length\":33") + 10] = '4';  // same size, different bytes
  fetcher.put(kBase + "targets." + sha256_hex(t) + ".json", tampered);
  auto s = updater()->refresh();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "hash_mismatch");
  EXPECT_FALSE(store.files.contains("targets.json"));
}

TEST_P(NotarySamples, ExpiredTimestampIsAFreeze) {
  serve(fetcher, GetParam());
  store.files["root.json"] = sample(GetParam(), "7.root.json");
  when = *parse_rfc3339("2027-01-01T00:00:00Z");
  auto s = updater()->refresh();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "expired");
}

INSTANTIATE_TEST_SUITE_P(Samples, NotarySamples,
                         ::testing::Values("local-ed25519", "remote-signer-ecdsa"));

// A Notary-dialect repository where the snapshot names a new root by checksum while the old
// timestamp key still works: root.<sha256>.json is fetched, not root.json.
TEST(NotaryRotation, SnapshotNamingNewRootFetchesItByChecksum) {
  Simulator::Options o;
  o.dialect = Dialect::notary;
  o.algorithm = keys::Algorithm::ecdsa_p256;
  Simulator sim(o);
  MemoryFetcher fetcher;
  MemoryStore store;
  sim.install(fetcher, kBase, "https://targets/");
  store.files["root.json"] = sim.signed_roots.front();
  auto old_root_signer = sim.signers["root"];
  sim.rotate_keys(RoleType::root);
  sim.bump_root(old_root_signer);
  sim.bump_targets();
  UpdaterOptions uo;
  uo.metadata_url = kBase;
  Updater u(uo, store, fetcher);
  auto s = u.refresh();
  ASSERT_TRUE(s) << s.error().describe();
  std::vector<std::string> names;
  for (const auto& r : fetcher.requests()) names.push_back(r.substr(kBase.size()));
  ASSERT_GE(names.size(), 4u);
  EXPECT_EQ(names[0], "timestamp.json");
  EXPECT_EQ(names[1].substr(0, 9), "snapshot.");
  EXPECT_EQ(names[2], "root." + sha256_hex(sim.signed_roots[1]) + ".json");
  EXPECT_EQ(store.files["root.json"], sim.signed_roots[1]);
}

}  // namespace
}  // namespace docket::tuf
