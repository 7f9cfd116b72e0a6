#include "common/json.h"

#include <gtest/gtest.h>

namespace docket {
namespace {

std::string canon(std::string_view text) {
  auto r = canonicalize(text, "test", Fault::remote);
  if (!r) return "ERROR " + r.error().code + ": " + r.error().message;
  return *r;
}

struct CanonCase {
  std::string in, out;
};

TEST(CanonicalJson, Table) {
  std::vector<CanonCase> cases = {
      {R"({"b":1, "a":[true,false,null], "c":{"z":"", "y":-5}})", R"({"a":[true,false,null],"b":1,"c":{"y":-5,"z":""}})"},
      // Only " and \ are escaped; control characters and non-ASCII are written raw.
      {R"({"s":"a\"b\\c\n\t\u0001\u00e9<>&"})", "{\"s\":\"a\\\"b\\\\c\n\t\x01\xc3\xa9<>&\"}"},
      // Keys sort bytewise: upper case before lower case, "_type" between.
      {R"({"b":0,"B":0,"_type":0,"a":0})", R"({"B":0,"_type":0,"a":0,"b":0})"},
      // Non-ASCII keys sort by UTF-8 bytes, after ASCII.
      {"{\"\xc3\xa9\":1,\"z\":2}", "{\"z\":2,\"\xc3\xa9\":1}"},
      {"9223372036854775807", "9223372036854775807"},
      {"18446744073709551615", "18446744073709551615"},
      {"  [ ]  ", "[]"},
  };
  for (const auto& c : cases) EXPECT_EQ(canon(c.in), c.out) << c.in;
}

TEST(CanonicalJson, RejectsWhatCannotBeCanonical) {
  struct Bad {
    std::string in, code;
  };
  std::vector<Bad> cases = {
      {R"({"a":1.5})", "non_canonical_json"},
      {R"({"a":1e3})", "non_canonical_json"},
      {"184467440737095516160", "non_canonical_json"},  // beyond 64 bits: parsed as float
      {R"({"a":1,"a":2})", "malformed_json"},
      {R"({"x":{"a":1,"b":{"a":1},"a":3}})", "malformed_json"},
      {"{\"a\":\"\xff\"}", "malformed_json"},  // invalid UTF-8
      {"{\"a\":\"\xc3\"}", "malformed_json"},  // truncated UTF-8
      {R"({"a":1} x)", "malformed_json"},
      {R"({"a":)", "malformed_json"},
      {"", "malformed_json"},
  };
  for (const auto& c : cases) {
    auto r = canonicalize(c.in, "doc", Fault::remote);
    ASSERT_FALSE(r.has_value()) << c.in;
    EXPECT_EQ(r.error().code, c.code) << c.in;
    EXPECT_EQ(r.error().fault, Fault::remote);
    EXPECT_NE(r.error().message.find("doc"), std::string::npos) << r.error().message;
  }
}

TEST(ParseJson, Limits) {
  JsonLimits lim;
  lim.max_bytes = 10;
  auto r = parse_json(R"({"a":"0123456789"})", "big", Fault::remote, lim);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "too_large");

  lim = JsonLimits{};
  lim.max_depth = 3;
  EXPECT_TRUE(parse_json("[[[1]]]", "ok", Fault::remote, lim).has_value());
  auto deep = parse_json("[[[[1]]]]", "deep", Fault::remote, lim);
  ASSERT_FALSE(deep.has_value());
  EXPECT_EQ(deep.error().code, "too_deep");
}

TEST(JsonAccessors, NameFieldAndDocument) {
  Json j = Json::parse(R"({"v":"x","n":3,"big":18446744073709551615})");
  EXPECT_EQ(*json_int(j, "n", "root.json", Fault::remote), 3);
  auto e = json_int(j, "v", "root.json", Fault::remote);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().message, "root.json: \"v\" must be an integer");
  EXPECT_FALSE(json_int(j, "big", "root.json", Fault::remote).has_value());
  auto missing = json_string(j, "nope", "root.json", Fault::remote);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().message, "root.json has no \"nope\" field");
}

}  // namespace
}  // namespace docket
