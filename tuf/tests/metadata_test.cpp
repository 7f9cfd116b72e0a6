#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/file.h"
#include "tuf/metadata.h"
#include "tuf/names.h"
#include "tuf/simulator.h"

namespace docket::tuf {
namespace {

std::string sample(const std::string& dir, const std::string& name) {
  return value_or_raise(
      read_file(std::string(DOCKET_SHARED_DIR) + "/notary/samples/" + dir + "/" + name));
}

TEST(Names, EncodedRoleNamesNeverLeaveTheDirectory) {
  EXPECT_EQ(RoleName::make("../x")->file_name(), "..%2Fx.json");
  EXPECT_EQ(RoleName::make("?")->file_name(), "%3F.json");
  EXPECT_EQ(RoleName::make("%2F")->file_name(), "%252F.json");
  EXPECT_EQ(RoleName::make("A")->file_name(), "A.json");
  EXPECT_EQ(RoleName::make("targets/releases")->file_name(), "targets%2Freleases.json");
  EXPECT_FALSE(RoleName::make(""));
  EXPECT_TRUE(RoleName::targets().is_top_level());
  EXPECT_FALSE(RoleName::make("targets/x")->is_top_level());
}

TEST(Names, TargetPathHashPrefix) {
  auto p = TargetPath::make("path/to/a.txt");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->with_hash_prefix("abc"), "path/to/abc.a.txt");
  EXPECT_EQ(TargetPath::make("a.txt")->with_hash_prefix("abc"), "abc.a.txt");
  EXPECT_EQ(p->encoded(), "path%2Fto%2Fa.txt");
}

TEST(Names, GunValidation) {
  EXPECT_TRUE(Gun::make("localhost:4443/library/demo"));
  for (const char* bad : {"", "/a", "a/", "a//b", "a/../b", "a b", "a*b", "./a"})
    EXPECT_FALSE(Gun::make(bad)) << bad;
}

TEST(Metadata, ParsesNotarySamplesInBothDirs) {
  for (const char* dir : {"local-ed25519", "remote-signer-ecdsa"}) {
    auto root = parse_root(sample(dir, "root.json"));
    ASSERT_TRUE(root) << root.error().describe();
    EXPECT_EQ(root->signed_.dialect, Dialect::notary);
    EXPECT_FALSE(root->signed_.consistent_snapshot);
    EXPECT_EQ(root->signed_.version, 7);
    auto ts = parse_timestamp(sample(dir, "timestamp.json"));
    ASSERT_TRUE(ts) << ts.error().describe();
    EXPECT_FALSE(ts->signed_.snapshot_meta().version);  // Notary meta has no version
    EXPECT_EQ(ts->signed_.snapshot_meta().hashes.size(), 2u);
    auto snap = parse_snapshot(sample(dir, "snapshot.json"));
    ASSERT_TRUE(snap) << snap.error().describe();
    EXPECT_TRUE(snap->signed_.find(*RoleName::make("targets/releases")));
    EXPECT_TRUE(snap->signed_.find(RoleName::root()));
    auto tg = parse_targets(sample(dir, "targets.json"));
    ASSERT_TRUE(tg) << tg.error().describe();
    ASSERT_TRUE(tg->signed_.delegations);
    ASSERT_EQ(tg->signed_.delegations->roles.size(), 1u);
    EXPECT_EQ(tg->signed_.delegations->roles[0].name.str(), "targets/releases");
    EXPECT_FALSE(tg->signed_.delegations->roles[0].terminating);
    auto rel = parse_targets(sample(dir, "targets-releases.json"));
    ASSERT_TRUE(rel) << rel.error().describe();
  }
}

TEST(Metadata, NotaryRoundTripIsByteIdenticalInSignedPart) {
  // Re-serialising the model of a Notary file gives the same canonical `signed` bytes.
  for (const char* f :
       {"root.json", "timestamp.json", "snapshot.json", "targets.json", "targets-releases.json"}) {
    std::string bytes = sample("local-ed25519", f);
    auto hdr = parse_header(bytes);
    ASSERT_TRUE(hdr) << f;
    std::string again;
    std::string canonical;
    switch (hdr->type) {
      case RoleType::root: {
        auto m = parse_root(bytes);
        canonical = m->canonical_signed;
        again = *canonical_signed(m->signed_);
        break;
      }
      case RoleType::timestamp: {
        auto m = parse_timestamp(bytes);
        canonical = m->canonical_signed;
        again = *canonical_signed(m->signed_);
        break;
      }
      case RoleType::snapshot: {
        auto m = parse_snapshot(bytes);
        canonical = m->canonical_signed;
        again = *canonical_signed(m->signed_);
        break;
      }
      case RoleType::targets: {
        auto m = parse_targets(bytes);
        canonical = m->canonical_signed;
        again = *canonical_signed(m->signed_);
        break;
      }
    }
    EXPECT_EQ(again, canonical) << f;
  }
}

const char* kTufTimestamp = R"({"signed":{"_type":"timestamp","spec_version":"1.0.31","version":3,
  "expires":"2030-01-01T00:00:00Z","meta":{"snapshot.json":{"version":2,"x-extra":[1,2]}},
  "x-unknown":{"b":1,"a":"\u0001"}},"signatures":[{"keyid":"ab","sig":"cd","x":1}],"top":true})";

TEST(Metadata, TufDialectKeepsUnknownFieldsAndCanonicalisesOnce) {
  auto m = parse_timestamp(kTufTimestamp);
  ASSERT_TRUE(m) << m.error().describe();
  EXPECT_EQ(m->signed_.dialect, Dialect::tuf);
  EXPECT_EQ(m->signed_.version, 3);
  EXPECT_EQ(*m->signed_.snapshot_meta().version, 2);
  EXPECT_TRUE(m->signed_.unknown.contains("x-unknown"));
  EXPECT_TRUE(m->signed_.snapshot_meta().unknown.contains("x-extra"));
  // Canonical: sorted keys, no whitespace, control characters raw.
  EXPECT_NE(m->canonical_signed.find("\"x-unknown\":{\"a\":\"\x01\",\"b\":1}"), std::string::npos);
  EXPECT_EQ(m->canonical_signed.find(' '), std::string::npos);
  EXPECT_EQ(*canonical_signed(m->signed_), m->canonical_signed);
  auto whole = serialize(*m);
  ASSERT_TRUE(whole);
  EXPECT_NE(whole->find("\"top\":true"), std::string::npos);
  EXPECT_NE(whole->find("\"x\":1"), std::string::npos);
}

struct BadCase {
  const char* name;
  std::string json;
  const char* code;
};

std::string ts_with(const std::string& signed_body, const std::string& sigs = "[]") {
  return R"({"signed":)" + signed_body + R"(,"signatures":)" + sigs + "}";
}

TEST(Metadata, RejectsMalformedTimestampsWithNamedReasons) {
  const std::string meta = R"("meta":{"snapshot.json":{"version":1}})";
  std::vector<BadCase> cases = {
      {"wrong type",
       ts_with(
           R"({"_type":"snapshot","spec_version":"1.0","version":1,"expires":"2030-01-01T00:00:00Z",)" +
           meta + "}"),
       "wrong_type"},
      {"float version",
       ts_with(
           R"({"_type":"timestamp","spec_version":"1.0","version":1.5,"expires":"2030-01-01T00:00:00Z",)" +
           meta + "}"),
       "non_canonical_json"},
      {"zero version",
       ts_with(
           R"({"_type":"timestamp","spec_version":"1.0","version":0,"expires":"2030-01-01T00:00:00Z",)" +
           meta + "}"),
       "malformed_metadata"},
      {"bad expiry",
       ts_with(R"({"_type":"timestamp","spec_version":"1.0","version":1,"expires":"tomorrow",)" +
               meta + "}"),
       "bad_time"},
      {"spec 2",
       ts_with(
           R"({"_type":"timestamp","spec_version":"2.0.0","version":1,"expires":"2030-01-01T00:00:00Z",)" +
           meta + "}"),
       "unsupported_spec_version"},
      {"no spec_version",
       ts_with(R"({"_type":"timestamp","version":1,"expires":"2030-01-01T00:00:00Z",)" + meta +
               "}"),
       "malformed_metadata"},
      {"no snapshot meta",
       ts_with(
           R"({"_type":"timestamp","spec_version":"1.0","version":1,"expires":"2030-01-01T00:00:00Z","meta":{}})"),
       "malformed_metadata"},
      {"meta without version",
       ts_with(
           R"({"_type":"timestamp","spec_version":"1.0","version":1,"expires":"2030-01-01T00:00:00Z","meta":{"snapshot.json":{}}})"),
       "malformed_metadata"},
      {"duplicate signature",
       ts_with(
           R"({"_type":"timestamp","spec_version":"1.0","version":1,"expires":"2030-01-01T00:00:00Z",)" +
               meta + "}",
           R"([{"keyid":"a","sig":"00"},{"keyid":"a","sig":"01"}])"),
       "duplicate_signature"},
      {"signatures not array",
       ts_with(
           R"({"_type":"timestamp","spec_version":"1.0","version":1,"expires":"2030-01-01T00:00:00Z",)" +
               meta + "}",
           "{}"),
       "malformed_metadata"},
      {"duplicate json key", R"({"signed":{},"signed":{},"signatures":[]})", "malformed_json"},
      {"not json", "{", "malformed_json"},
  };
  for (const auto& c : cases) {
    auto m = parse_timestamp(c.json);
    ASSERT_FALSE(m) << c.name;
    EXPECT_EQ(m.error().code, c.code) << c.name << ": " << m.error().describe();
    EXPECT_EQ(m.error().fault, Fault::remote) << c.name;
  }
}

// Target entries of the common shape take a direct path in the parser; every other shape
// the general one. Both must give the same model, and only the general one may accept the
// unusual shapes or report errors.
TEST(Metadata, TargetEntriesOfEveryShape) {
  auto targets = [](const std::string& entries) {
    return R"({"signed":{"_type":"Targets","expires":"2100-01-01T00:00:00Z","version":2,)"
           R"("targets":{)" +
           entries + R"(}},"signatures":[]})";
  };
  auto m = parse_targets(targets(R"("a":{"hashes":{"sha256":"AAA=","sha512":"BBB="},"length":3},)"
                                 R"("b":{"custom":{"x":1},"hashes":{"sha256":"CCC="},"length":0},)"
                                 R"("c":{"hashes":{},"length":9223372036854775807},)"
                                 R"("d":{"hashes":{"sha256":"DDD="},"length":4,"x-extra":true})"));
  ASSERT_TRUE(m) << m.error().describe();
  const auto& t = m->signed_.targets;
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t.at("a").length, 3);
  EXPECT_EQ(t.at("a").hashes, (Hashes{{"sha256", "AAA="}, {"sha512", "BBB="}}));
  EXPECT_FALSE(t.at("a").custom);
  EXPECT_EQ(t.at("a").unknown, Json::object());
  EXPECT_EQ(t.at("b").custom, Json({{"x", 1}}));
  EXPECT_EQ(t.at("c").length, INT64_MAX);
  EXPECT_TRUE(t.at("c").hashes.empty());
  EXPECT_EQ(t.at("d").unknown, Json({{"x-extra", true}}));
  // The signed bytes are canonical whichever path read the entries.
  EXPECT_EQ(m->canonical_signed, *canonical_json(value_or_raise(parse_json(
                                     targets(R"("a":{"hashes":{"sha256":"AAA=","sha512":"BBB="},)"
                                             R"("length":3},"b":{"custom":{"x":1},"hashes":)"
                                             R"({"sha256":"CCC="},"length":0},"c":{"hashes":{},)"
                                             R"("length":9223372036854775807},"d":{"hashes":)"
                                             R"({"sha256":"DDD="},"length":4,"x-extra":true})"),
                                     "t", Fault::bug))["signed"]));
  for (const auto& [entry, why] : std::vector<std::pair<std::string, std::string>>{
           {R"("a":{"hashes":{"sha256":"AAA="},"length":-1})", "length is negative"},
           {R"("a":{"hashes":{"sha256":"AAA="},"length":9223372036854775808})", "out of range"},
           {R"("a":{"hashes":{"sha256":"AAA="},"length":"1"})", "not an integer"},
           {R"("a":{"hashes":{"sha256":1},"length":1})", "hashes.sha256 is not a string"},
           {R"("a":{"hashes":[],"length":1})", "hashes is not a JSON object"},
           {R"("a":{"hashes":{"sha256":"AAA="},"size":1})", "length is missing"},
           {R"("a":{"digests":{"sha256":"AAA="},"length":1})", "hashes is missing"},
           {R"("a":[])", "is not a JSON object"}}) {
    auto bad = parse_targets(targets(entry));
    ASSERT_FALSE(bad) << entry;
    EXPECT_NE(bad.error().message.find(why), std::string::npos) << bad.error().message;
    EXPECT_NE(bad.error().message.find("targets[\"a\"]"), std::string::npos) << bad.error().message;
  }
}

TEST(Metadata, SizeLimitIsCheckedBeforeParsing) {
  ParseOptions o;
  o.max_bytes = 10;
  auto m = parse_timestamp(std::string(11, ' '), o);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, "too_large");
}

TEST(Metadata, DelegationRulesAreStrict) {
  auto targets = [](const std::string& roles) {
    return R"({"signed":{"_type":"targets","spec_version":"1.0.0","version":1,"expires":"2030-01-01T00:00:00Z","targets":{},"delegations":{"keys":{},"roles":)" +
           roles + R"(}},"signatures":[]})";
  };
  auto ok = parse_targets(
      targets(R"([{"name":"../x","keyids":[],"threshold":1,"terminating":false,"paths":["*"]}])"));
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(ok->signed_.delegations->roles[0].name.str(), "../x");
  EXPECT_FALSE(parse_targets(targets(
      R"([{"name":"a","keyids":[],"threshold":1,"terminating":false,"paths":[]},{"name":"a","keyids":[],"threshold":1,"terminating":false,"paths":[]}])")));
  EXPECT_FALSE(parse_targets(targets(
      R"([{"name":"snapshot","keyids":[],"threshold":1,"terminating":false,"paths":[]}])")));
  EXPECT_FALSE(parse_targets(
      targets(R"([{"name":"a","keyids":[],"threshold":0,"terminating":false,"paths":[]}])")));
  EXPECT_FALSE(parse_targets(targets(
      R"([{"name":"a","keyids":[],"threshold":1,"terminating":false,"paths":[],"path_hash_prefixes":[]}])")));
  EXPECT_FALSE(parse_targets(
      targets(R"([{"name":"a","keyids":[],"threshold":1,"paths":[]}])")));  // TUF needs terminating
}

TEST(Metadata, SuccinctRolesBins) {
  SuccinctRoles s;
  s.bit_length = 8;
  s.name_prefix = "bin";
  EXPECT_EQ(s.bin_count(), 256u);
  EXPECT_EQ(s.role_name(5), "bin-05");
  EXPECT_TRUE(s.is_bin("bin-ff"));
  EXPECT_FALSE(s.is_bin("bin-100"));
  EXPECT_FALSE(s.is_bin("bin-0g"));
  // sha256("a.txt") starts with 0x5e... -> bin 0x5e for 8 bits (computed independently).
  auto p = *TargetPath::make("a.txt");
  std::string name = s.role_for(p);
  EXPECT_TRUE(s.is_bin(name));
  s.bit_length = 1;
  EXPECT_EQ(s.role_name(1), "bin-1");
}

TEST(Metadata, LengthAndHashes) {
  Hashes h{{"sha256", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}};
  EXPECT_TRUE(verify_length_and_hashes("hello", 5, h, Dialect::tuf, true, "t"));
  EXPECT_EQ(verify_length_and_hashes("hello", 6, h, Dialect::tuf, true, "t").error().code,
            "hash_mismatch");
  EXPECT_EQ(verify_length_and_hashes("hellp", 5, h, Dialect::tuf, true, "t").error().code,
            "hash_mismatch");
  Hashes unknown{{"md5", "5d41402abc4b2a76b9719d911017c592"}};
  EXPECT_EQ(verify_length_and_hashes("hello", 5, unknown, Dialect::tuf, true, "t").error().code,
            "unsupported_algorithm");
  EXPECT_FALSE(verify_length_and_hashes("hello", 5, {}, Dialect::tuf, true, "t"));
  Hashes b64{{"sha256", "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="}};
  EXPECT_TRUE(verify_length_and_hashes("hello", std::nullopt, b64, Dialect::notary, true, "t"));
}

}  // namespace
}  // namespace docket::tuf
