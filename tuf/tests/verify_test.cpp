#include <gtest/gtest.h>

#include "common/encoding.h"
#include "tuf/simulator.h"
#include "tuf/verify.h"

namespace docket::tuf {
namespace {

struct Fixture {
  Simulator sim;
  std::vector<keys::PrivateKey> ks;
  std::map<std::string, Json> keyring;
  Fixture() {
    for (int i = 0; i < 3; ++i) {
      ks.push_back(sim.new_key());
      keyring[sim.key_id(ks.back())] = sim.key_json(ks.back());
    }
  }
  RoleKeys role(std::vector<int> idx, std::int64_t threshold) {
    RoleKeys r;
    for (int i : idx) r.keyids.push_back(sim.key_id(ks[static_cast<std::size_t>(i)]));
    r.threshold = threshold;
    return r;
  }
  Metadata<Targets> signed_by(std::vector<int> idx) {
    Targets t = sim.targets.at("targets");
    std::vector<keys::PrivateKey> signers;
    for (int i : idx) signers.push_back(ks[static_cast<std::size_t>(i)]);
    return *parse_targets(sim.sign(to_json(t), signers));
  }
};

TEST(Verify, ThresholdCountsDistinctValidKeys) {
  Fixture f;
  auto md = f.signed_by({0, 1});
  EXPECT_TRUE(verify_delegate("targets v1", "root v1", md, f.keyring, f.role({0, 1, 2}, 2)));
  auto s = verify_delegate("targets v1", "root v1", md, f.keyring, f.role({0, 1, 2}, 3));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, "bad_signature");
  EXPECT_EQ(s.error().message,
            "targets v1: threshold 3 of root v1 not met: 2 valid signatures from 3 keys");
}

TEST(Verify, KeyListedTwiceInRoleCountsOnce) {
  Fixture f;
  auto md = f.signed_by({0});
  auto s = verify_delegate("targets v1", "root v1", md, f.keyring, f.role({0, 0}, 2));
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("1 valid signature from 1 key"), std::string::npos)
      << s.error().message;
}

TEST(Verify, InvalidSignaturesDoNotCountButDoNotFail) {
  Fixture f;
  auto md = f.signed_by({0, 1});
  md.signatures[1].sig = "";  // empty sig
  EXPECT_TRUE(verify_delegate("t", "r", md, f.keyring, f.role({0, 1}, 1)));
  EXPECT_FALSE(verify_delegate("t", "r", md, f.keyring, f.role({0, 1}, 2)));
  auto md2 = f.signed_by({0});
  md2.signatures[0].sig[0] = md2.signatures[0].sig[0] == '0' ? '1' : '0';  // corrupted
  EXPECT_FALSE(verify_delegate("t", "r", md2, f.keyring, f.role({0}, 1)));
  // Signature by a key that is not in the role.
  auto md3 = f.signed_by({2});
  EXPECT_FALSE(verify_delegate("t", "r", md3, f.keyring, f.role({0, 1}, 1)));
  // Unknown key type: does not count.
  auto ring = f.keyring;
  ring[f.sim.key_id(f.ks[0])] =
      Json{{"keytype", "weird"}, {"scheme", "weird"}, {"keyval", {{"public", "x"}}}};
  EXPECT_FALSE(verify_delegate("t", "r", f.signed_by({0}), ring, f.role({0}, 1)));
}

TEST(Verify, SignedBytesAreTheCanonicalFormAsReceived) {
  Fixture f;
  Targets t = f.sim.targets.at("targets");
  t.unknown["x-field"] = "kept";
  std::string bytes = f.sim.sign(to_json(t), {f.ks[0]});
  auto md = parse_targets(bytes);
  ASSERT_TRUE(md);
  EXPECT_TRUE(verify_delegate("t", "r", *md, f.keyring, f.role({0}, 1)));
  // Dropping the unknown field changes the signed bytes: the signature no longer holds.
  std::string stripped = bytes;
  auto pos = stripped.find(",\"x-field\":\"kept\"");
  ASSERT_NE(pos, std::string::npos);
  stripped.erase(pos, std::string(",\"x-field\":\"kept\"").size());
  auto md2 = parse_targets(stripped);
  ASSERT_TRUE(md2);
  EXPECT_FALSE(verify_delegate("t", "r", *md2, f.keyring, f.role({0}, 1)));
}

TEST(Verify, EcdsaAndNotaryDialect) {
  Simulator::Options o;
  o.algorithm = keys::Algorithm::ecdsa_p256;
  o.dialect = Dialect::notary;
  Simulator sim(o);
  auto k = sim.new_key();
  std::map<std::string, Json> ring{{sim.key_id(k), sim.key_json(k)}};
  auto md = parse_targets(sim.sign(to_json(sim.targets.at("targets")), {k}));
  ASSERT_TRUE(md) << md.error().describe();
  EXPECT_EQ(md->signed_.dialect, Dialect::notary);
  EXPECT_FALSE(md->signatures[0].method.empty());
  RoleKeys r{{sim.key_id(k)}, 1, Json::object()};
  EXPECT_TRUE(verify_delegate("t", "r", *md, ring, r));
}

}  // namespace
}  // namespace docket::tuf
