#include "common/encoding.h"

#include <gtest/gtest.h>

namespace docket {
namespace {

TEST(Hex, RoundTripAndRejects) {
  EXPECT_EQ(hex_encode(std::string("\x00\xff\x10", 3)), "00ff10");
  EXPECT_EQ(*hex_decode("00FF10"), std::string("\x00\xff\x10", 3));
  EXPECT_FALSE(hex_decode("abc").has_value());
  auto bad = hex_decode("zz");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, "bad_encoding");
  EXPECT_TRUE(is_lower_hex("0123456789abcdef"));
  EXPECT_FALSE(is_lower_hex("ABC"));
}

struct B64Case {
  std::string plain, encoded;
};

TEST(Base64, Rfc4648Vectors) {
  for (const auto& c : std::vector<B64Case>{{"", ""},
                                            {"f", "Zg=="},
                                            {"fo", "Zm8="},
                                            {"foo", "Zm9v"},
                                            {"foob", "Zm9vYg=="},
                                            {"fooba", "Zm9vYmE="},
                                            {"foobar", "Zm9vYmFy"}}) {
    EXPECT_EQ(base64_encode(c.plain), c.encoded);
    auto d = base64_decode(c.encoded);
    ASSERT_TRUE(d.has_value()) << c.encoded;
    EXPECT_EQ(*d, c.plain);
  }
}

TEST(Base64, RejectsMalformed) {
  for (std::string bad : {"Zg=", "Zg", "Z===", "Zh==", "Zm9v\n", "Zm9v!A==", "Zm=v"}) {
    EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
  }
}

TEST(Base64Url, NoPadding) {
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(*base64url_decode("-_8"), "\xfb\xff");
  EXPECT_FALSE(base64url_decode("A").has_value());
}

TEST(Percent, EncodesLikePythonQuoteSafeEmpty) {
  EXPECT_EQ(percent_encode("../x"), "..%2Fx");
  // Characters named in `keep` stay literal; everything else is encoded as without it.
  EXPECT_EQ(percent_encode("a+b/c d?%", "+/"), "a+b/c%20d%3F%25");
  EXPECT_EQ(percent_encode("\xc3\xa9", "\xc3"), "%C3%A9");
  EXPECT_EQ(percent_encode("?"), "%3F");
  EXPECT_EQ(percent_encode("A-._~z"), "A-._~z");
  EXPECT_EQ(percent_encode("%2F"), "%252F");
  EXPECT_EQ(*percent_decode("..%2Fx"), "../x");
  EXPECT_FALSE(percent_decode("%2").has_value());
  EXPECT_FALSE(percent_decode("%zz").has_value());
}

}  // namespace
}  // namespace docket
