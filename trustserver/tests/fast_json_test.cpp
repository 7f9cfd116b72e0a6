// The publish path's fast JSON parser (common/fast_json.h) against parse_json: when the
// fast path accepts a document, parse_json must accept it too and build the identical DOM
// (number types included); parse_json_fast's answer must always be parse_json's.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/fast_json.h"
#include "common/file.h"
#include "common/json.h"
#include "trustserver/tests/test_repo.h"

using namespace docket;
using namespace docket::trustserver;

namespace {

// nlohmann's operator== says 5u == 5; publish validation looks at the types, so this does too.
::testing::AssertionResult same_dom(const Json& a, const Json& b, const std::string& at = "$") {
  if (a.type() != b.type())
    return ::testing::AssertionFailure()
           << at << ": type " << a.type_name() << " vs " << b.type_name();
  if (a.is_object()) {
    if (a.size() != b.size()) return ::testing::AssertionFailure() << at << ": object size";
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
      if (ia.key() != ib.key())
        return ::testing::AssertionFailure() << at << ": key " << ia.key() << " vs " << ib.key();
      if (auto r = same_dom(ia.value(), ib.value(), at + "." + ia.key()); !r) return r;
    }
    return ::testing::AssertionSuccess();
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return ::testing::AssertionFailure() << at << ": array size";
    for (std::size_t i = 0; i < a.size(); ++i)
      if (auto r = same_dom(a[i], b[i], at + "[" + std::to_string(i) + "]"); !r) return r;
    return ::testing::AssertionSuccess();
  }
  if (a != b) return ::testing::AssertionFailure() << at << ": " << a.dump() << " vs " << b.dump();
  return ::testing::AssertionSuccess();
}

// The property every input must have. Returns whether the fast path accepted it.
bool check(std::string_view text, std::size_t depth = 64) {
  SCOPED_TRACE(std::string(text.substr(0, 200)));
  JsonLimits lim;
  lim.max_depth = depth;
  auto slow = parse_json(text, "doc", Fault::user, lim);
  std::string_view canonical = "unset";
  auto fast = try_fast_parse_json(text, depth, &canonical);
  if (fast) {
    EXPECT_TRUE(slow) << "fast path accepted what parse_json rejects: " << slow.error().message;
    if (slow) EXPECT_TRUE(same_dom(*fast, *slow));
    // The claim the signature check relies on: these bytes are canonical_json(signed).
    if (slow && !canonical.empty()) {
      EXPECT_GE(canonical.data(), text.data());
      EXPECT_LE(canonical.data() + canonical.size(), text.data() + text.size());
      EXPECT_TRUE(slow->is_object() && slow->contains("signed"));
      if (slow->is_object() && slow->contains("signed")) {
        auto c = canonical_json((*slow)["signed"]);
        EXPECT_TRUE(c);
        if (c) EXPECT_EQ(canonical, *c);
      }
    }
  } else {
    EXPECT_TRUE(canonical.empty());
  }
  auto up = parse_json_fast(text, "doc", Fault::user, lim);
  EXPECT_EQ(up.has_value(), slow.has_value());
  if (up && slow) {
    EXPECT_TRUE(same_dom(*up, *slow));
  } else if (!up && !slow) {
    EXPECT_EQ(up.error().code, slow.error().code);
    EXPECT_EQ(up.error().message, slow.error().message);
  }
  return fast.has_value();
}

TEST(FastJson, AcceptsTheUsualDocumentsWithTheSameDom) {
  EXPECT_TRUE(check(R"({"a":1,"b":[true,false,null],"c":{"d":"e"}})"));
  EXPECT_TRUE(check(" \t\r\n{ \"a\" : [ 1 , -2 , 0 , -0 ] , \"b\" : { } , \"c\" : [ ] } \n"));
  EXPECT_TRUE(check(R"({"z":1,"a":2,"m":3})"));  // unsorted keys
  EXPECT_FALSE(check("18446744073709551615"));   // UINT64_MAX: 20 digits, left to parse_json
  EXPECT_TRUE(check("9999999999999999999"));     // 19 digits: number_unsigned
  EXPECT_TRUE(check("-9223372036854775808"));    // INT64_MIN: number_integer
  EXPECT_TRUE(check(R"("esc \" \\ \/ \b \f \n \r \t")"));
  EXPECT_TRUE(check(R"("\u0000 \u0041 \u00e9 \u20AC \ud83d\ude00")"));
  EXPECT_TRUE(check("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\x9f\xbf \xf4\x8f\xbf\xbf\""));
  EXPECT_TRUE(check("\"\x7f\""));
  EXPECT_TRUE(check("[[[[1]]]]", 4));
  EXPECT_TRUE(check("\"\""));
  EXPECT_TRUE(check("{\"\":0}"));
  // Real Notary metadata, and a generated targets file like the bench's.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(
           std::filesystem::path(DOCKET_SHARED_DIR) / "notary/samples/local-ed25519")) {
    if (e.path().extension() != ".json") continue;
    auto text = read_file(e.path());
    ASSERT_TRUE(text);
    EXPECT_TRUE(check(*text)) << e.path();
    ++files;
  }
  EXPECT_GE(files, 5);
  trustserver::testing::Repo repo("example.com/fast/json");
  repo.timestamp_pub = trustserver::testing::make_key().pub;
  repo.next_root();
  for (int i = 0; i < 200; ++i) repo.add_target("tag-" + std::to_string(i), std::to_string(i));
  repo.next_targets();
  EXPECT_TRUE(check(repo.root));
  EXPECT_TRUE(check(repo.targets));
  EXPECT_TRUE(check(repo.next_snapshot()));
}

TEST(FastJson, LeavesEverythingElseToParseJson) {
  // Each is either invalid, or valid but outside the fast path; parse_json decides.
  for (std::string_view t : {"",
                             " ",
                             "{",
                             "}",
                             "[1,]",
                             "{\"a\":1,}",
                             "{\"a\" 1}",
                             "{a:1}",
                             "[1 2]",
                             "01",
                             "-",
                             "-a",
                             "1.5",
                             "1e3",
                             "1E3",
                             "-0.0",
                             "123456789012345678901",
                             "-9223372036854775809",
                             "tru",
                             "nul",
                             "falsey",
                             "[1]x",
                             "\"abc",
                             "\"a\x01\"",
                             "\"\\x\"",
                             "\"\\u12\"",
                             "\"\\ud83d\"",
                             "\"\\ud83d\\u0041\"",
                             "\"\\ude00\"",
                             "\"\xc0\xaf\"",
                             "\"\xe0\x80\xaf\"",
                             "\"\xed\xa0\x80\"",
                             "\"\xf4\x90\x80\x80\"",
                             "\"\xff\"",
                             "\"\xc3\"",
                             "\"\x80\"",
                             "\xef\xbb\xbf{}",
                             "{\"a\":1,\"a\":2}",
                             "{\"b\":{\"x\":1,\"x\":1}}",
                             "//c\n{}"}) {
    check(t);
  }
  check(std::string("[1]\0", 4));
  check(std::string("\"a\0b\"", 5));
  EXPECT_FALSE(check("[[[[1]]]]", 3));  // too deep
  EXPECT_FALSE(check("{\"a\":1,\"a\":2}"));
  EXPECT_FALSE(check("1.5"));
  EXPECT_FALSE(check(std::string(300, '[') + std::string(300, ']'), 1000));  // past its own cap
}

std::string_view canonical_of(std::string_view text) {
  std::string_view c = "unset";
  EXPECT_TRUE(try_fast_parse_json(text, 64, &c)) << text;
  return c;
}

TEST(FastJson, FindsTheReceivedSignedBytesOnlyWhenTheyAreCanonical) {
  EXPECT_EQ(canonical_of(R"({"signatures":[],"signed":{"a":1,"b":[-1,"x\"y\\z"]}})"),
            R"({"a":1,"b":[-1,"x\"y\\z"]})");
  EXPECT_EQ(canonical_of(R"({"signed" : {"a":{},"b":[]} , "x": 1})"), R"({"a":{},"b":[]})");
  EXPECT_EQ(canonical_of("{\"signed\":\"caf\xc3\xa9\x7f\"}"), "\"caf\xc3\xa9\x7f\"");
  for (std::string_view t :
       {R"({"signed":{"a":1, "b":2}})", R"({"signed":{"b":1,"a":2}})",
        R"({"signed":{"a":{"y":1,"x":2}}})", R"({"signed":[ 1]})", R"({"signed":{"a":-0}})",
        R"({"signed":"a\/b"})", R"({"signed":"a\nb"})", R"({"signed":"\u0041"})",
        R"({"signed":{"\u0061":1}})", R"({"x":{"signed":{}}})", R"([{"signed":{}}])"}) {
    EXPECT_EQ(canonical_of(t), "") << t;
    check(t);
  }
  // As the notary client sends them.
  for (const auto& e : std::filesystem::directory_iterator(
           std::filesystem::path(DOCKET_SHARED_DIR) / "notary/samples/local-ed25519")) {
    const auto name = e.path().filename().string();
    if (e.path().extension() != ".json" || name.starts_with("error-") ||
        name.starts_with("changefeed") || name.ends_with(".key.json"))
      continue;
    auto text = read_file(e.path());
    ASSERT_TRUE(text);
    EXPECT_NE(canonical_of(*text), "") << e.path();
  }
}

// Random damage to a real document: insertions, deletions and replacements of bytes that
// matter to JSON. Whatever comes out, the fast path never disagrees with parse_json.
TEST(FastJson, AgreesWithParseJsonOnDamagedDocuments) {
  trustserver::testing::Repo repo("example.com/fast/json");
  repo.timestamp_pub = trustserver::testing::make_key().pub;
  repo.next_root();
  for (int i = 0; i < 5; ++i) repo.add_target("t\xc3\xa9-" + std::to_string(i), std::to_string(i));
  repo.next_targets();
  const std::string base = repo.targets;
  const std::string alphabet = "{}[]\",:\\ -0123456789.eEtrufalsn\x01\x7f\x80\xc3\xa9\xed\xf0";
  std::mt19937 rng(20261124);
  int accepted = 0, canonical = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string t = base;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !t.empty(); ++e) {
      std::size_t at = rng() % t.size();
      char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          t.insert(t.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        case 1:
          t.erase(at, 1);
          break;
        default:
          t[at] = c;
          break;
      }
    }
    if (check(t)) ++accepted;
    std::string_view c;
    if (try_fast_parse_json(t, 64, &c) && !c.empty()) ++canonical;
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(accepted, 0);   // some edits (inside strings, say) leave a valid document
  EXPECT_GT(canonical, 0);  // ... and some of those leave signed canonical
}

}  // namespace
