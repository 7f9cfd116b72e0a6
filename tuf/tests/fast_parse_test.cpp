// tuf/ parses metadata bytes through common/fast_json.h (parse_json_fast) and, when the
// received "signed" text is already canonical, checks signatures over those bytes. These
// tests hold that path to the reference one (parse_json, then canonical_json of the tree):
// the same model, the same signed bytes, the same verdicts, the same rejections.
#include <gtest/gtest.h>

#include "common/fast_json.h"
#include "common/file.h"
#include "common/json.h"
#include "common/time.h"
#include "tuf/metadata.h"
#include "tuf/trusted_set.h"

namespace docket::tuf {
namespace {

std::string sample(const std::string& dir, const std::string& name) {
  return value_or_raise(
      read_file(std::string(DOCKET_SHARED_DIR) + "/notary/samples/" + dir + "/" + name));
}

const char* kDirs[] = {"local-ed25519", "remote-signer-ecdsa"};
const char* kFiles[] = {"root.json",      "1.root.json",   "2.root.json",  "3.root.json",
                        "4.root.json",    "5.root.json",   "6.root.json",  "7.root.json",
                        "timestamp.json", "snapshot.json", "targets.json", "targets-releases.json"};

// The reference: parse_json, then the model and signed bytes from the tree
// (canonical_json). Targets has a tree entry point; the other roles are given the tree
// indented, text the fast path never finds canonical, so their signed bytes are
// canonical_json of the tree too.
template <class T>
Result<Metadata<T>> reference_parse(std::string_view bytes) {
  auto doc = parse_json(bytes, std::string(role_type_name(T::kType)) + " metadata", Fault::remote);
  if (!doc) return std::unexpected(doc.error());
  if constexpr (std::is_same_v<T, Targets>) {
    return parse_targets_json(std::move(*doc));
  } else {
    return parse_metadata<T>(doc->dump(1));
  }
}

template <class T>
void expect_same(const std::string& what, std::string_view bytes) {
  auto fast = parse_metadata<T>(bytes);
  auto ref = reference_parse<T>(bytes);
  ASSERT_EQ(bool(fast), bool(ref)) << what;
  if (!fast) {
    EXPECT_EQ(fast.error().code, ref.error().code) << what;
    return;
  }
  EXPECT_EQ(fast->canonical_signed, ref->canonical_signed) << what;
  auto tree = parse_json(bytes, what, Fault::remote);
  ASSERT_TRUE(tree);
  EXPECT_EQ(fast->canonical_signed, *canonical_json((*tree)["signed"])) << what;
  ASSERT_EQ(fast->signatures.size(), ref->signatures.size()) << what;
  for (std::size_t i = 0; i < fast->signatures.size(); ++i) {
    EXPECT_EQ(fast->signatures[i].keyid, ref->signatures[i].keyid) << what;
    EXPECT_EQ(fast->signatures[i].sig, ref->signatures[i].sig) << what;
    EXPECT_EQ(fast->signatures[i].method, ref->signatures[i].method) << what;
  }
  EXPECT_EQ(to_json(fast->signed_), to_json(ref->signed_)) << what;
  EXPECT_EQ(*serialize(*fast), *serialize(*ref)) << what;
}

void expect_same_any(const std::string& what, std::string_view bytes) {
  auto hdr = parse_header(bytes);
  ASSERT_TRUE(hdr) << what;
  switch (hdr->type) {
    case RoleType::root:
      return expect_same<Root>(what, bytes);
    case RoleType::timestamp:
      return expect_same<Timestamp>(what, bytes);
    case RoleType::snapshot:
      return expect_same<Snapshot>(what, bytes);
    case RoleType::targets:
      return expect_same<Targets>(what, bytes);
  }
}

TEST(FastParse, NotarySamplesGiveTheReferenceModelAndSignedBytes) {
  for (const char* dir : kDirs)
    for (const char* f : kFiles) {
      std::string bytes = sample(dir, f);
      expect_same_any(std::string(dir) + "/" + f, bytes);
      // The samples are what the notary client uploads: canonical "signed", which the fast
      // path must recognise (else these tests would not exercise the received-bytes path).
      std::string_view canonical;
      ASSERT_TRUE(try_fast_parse_json(bytes, 64, &canonical)) << dir << "/" << f;
      EXPECT_FALSE(canonical.empty()) << dir << "/" << f;
    }
}

TEST(FastParse, NonCanonicalLayoutsGiveTheCanonicalSignedBytes) {
  // Whitespace, keys out of order, needless escapes: the signed bytes are still
  // canonical_json of the tree, so the signatures verify exactly as before.
  for (const char* dir : kDirs)
    for (const char* f : {"root.json", "timestamp.json", "snapshot.json", "targets.json"}) {
      std::string bytes = sample(dir, f);
      Json doc = *parse_json(bytes, f, Fault::remote);
      std::string pretty = doc.dump(2);
      expect_same_any(std::string(dir) + "/" + f + " (indented)", pretty);
      // "_type" spelled with an escape: the same string, not the same bytes.
      std::string escaped = bytes;
      auto at = escaped.find("\"_type\"");
      ASSERT_NE(at, std::string::npos);
      escaped.replace(at, 7, "\"\\u005ftype\"");
      expect_same_any(std::string(dir) + "/" + f + " (escaped key)", escaped);
      std::string_view canonical;
      ASSERT_TRUE(try_fast_parse_json(escaped, 64, &canonical));
      EXPECT_TRUE(canonical.empty()) << "an escaped key is not canonical";
    }
}

TEST(FastParse, SignaturesStillCheckTheSignedBytes) {
  for (const char* dir : kDirs) {
    std::string root = sample(dir, "root.json");
    Limits limits;
    auto clock = [] { return *parse_rfc3339("2026-11-24T00:00:00Z"); };
    ASSERT_TRUE(TrustedSet::create(root, limits, clock));
    // Indented: other bytes, the same canonical form, still valid.
    std::string pretty = parse_json(root, "root", Fault::remote)->dump(1);
    auto ok = TrustedSet::create(pretty, limits, clock);
    EXPECT_TRUE(ok) << (ok ? "" : ok.error().describe());
    // One byte of the canonical signed text changed (the version): refused.
    std::string forged = root;
    auto at = forged.find("\"version\":");
    ASSERT_NE(at, std::string::npos);
    at += 10;
    forged[at] = forged[at] == '9' ? '8' : static_cast<char>(forged[at] + 1);
    std::string_view canonical;
    ASSERT_TRUE(try_fast_parse_json(forged, 64, &canonical));
    EXPECT_FALSE(canonical.empty());  // still canonical: the received-bytes path is taken
    auto bad = TrustedSet::create(forged, limits, clock);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, "bad_signature") << bad.error().describe();
  }
}

TEST(FastParse, MalformedInputsAreRejectedAsTheReferenceRejectsThem) {
  std::string ts = sample("remote-signer-ecdsa", "timestamp.json");
  std::string tg = sample("remote-signer-ecdsa", "targets.json");
  auto cut = [](std::string s, std::size_t n) { return s.substr(0, s.size() - n); };
  auto replace = [](std::string s, const std::string& from, const std::string& to) {
    auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  std::vector<std::pair<std::string, std::string>> cases = {
      {"truncated", cut(ts, 1)},
      {"trailing garbage", ts + "x"},
      {"two documents", ts + ts},
      {"duplicate key in signed", replace(ts, "{\"_type\":", "{\"_type\":\"x\",\"_type\":")},
      {"duplicate top-level signed", replace(ts, "{\"signed\":", "{\"signed\":{},\"signed\":")},
      {"float version", replace(ts, "\"version\":", "\"version\":1.5,\"x\":")},
      {"invalid UTF-8", replace(ts, "\"_type\":\"", "\"_type\":\"\xc3\x28")},
      {"lone surrogate", replace(ts, "\"_type\":\"", "\"_type\":\"\\udc00")},
      {"control character", replace(ts, "\"_type\":\"", "\"_type\":\"\x01")},
      {"huge integer", replace(ts, "\"version\":", "\"version\":123456789012345678901,\"y\":")},
      {"not an object", "[" + ts + "]"},
      {"empty", ""},
      {"targets truncated", cut(tg, 10)},
      {"targets duplicate target",
       replace(tg, "\"targets\":{", "\"targets\":{\"a\":{\"hashes\":{},\"length\":1},\"a\":")},
  };
  for (const auto& [name, bytes] : cases) {
    if (name.starts_with("targets")) {
      auto fast = parse_targets(bytes);
      auto ref = reference_parse<Targets>(bytes);
      ASSERT_FALSE(fast) << name;
      ASSERT_FALSE(ref) << name;
      EXPECT_EQ(fast.error().code, ref.error().code) << name;
      EXPECT_EQ(fast.error().message, ref.error().message) << name;
      continue;
    }
    auto fast = parse_timestamp(bytes);
    auto ref = reference_parse<Timestamp>(bytes);
    ASSERT_FALSE(fast) << name;
    ASSERT_FALSE(ref) << name;
    EXPECT_EQ(fast.error().code, ref.error().code) << name;
    // parse_json's own verdict, where it has one, is the one reported, message and all.
    if (!parse_json(bytes, "x", Fault::remote))
      EXPECT_EQ(fast.error().message, ref.error().message) << name;
  }
}

}  // namespace
}  // namespace docket::tuf
