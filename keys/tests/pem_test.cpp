#include "keys/pem.h"

#include <gtest/gtest.h>

namespace docket::keys {
namespace {

TEST(Pem, RoundTripWithHeadersSortedLikeGo) {
  PemBlock b;
  b.type = "ENCRYPTED PRIVATE KEY";
  b.headers = {{"role", "targets"}, {"gun", "example.com/app"}};
  b.bytes = std::string(100, '\x5a');
  std::string text = encode_pem(b);
  EXPECT_TRUE(text.starts_with(
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\ngun: example.com/app\nrole: targets\n\n"))
      << text;
  EXPECT_TRUE(text.ends_with("\n-----END ENCRYPTED PRIVATE KEY-----\n"));
  auto back = parse_single_pem(text, "t", Fault::local);
  ASSERT_TRUE(back.has_value()) << back.error().describe();
  EXPECT_EQ(back->type, b.type);
  EXPECT_EQ(back->bytes, b.bytes);
  EXPECT_EQ(back->header("role"), "targets");
  EXPECT_EQ(back->header("gun"), "example.com/app");
  EXPECT_EQ(back->header("path"), "");
}

TEST(Pem, LinesAre64Columns) {
  PemBlock b{"CERTIFICATE", {}, std::string(200, 'x')};
  std::string text = encode_pem(b);
  std::size_t start = text.find('\n') + 1;
  EXPECT_EQ(text.find('\n', start) - start, 64u);
}

TEST(Pem, CrlfAndMultipleBlocks) {
  std::string text =
      "-----BEGIN A-----\r\nAAEC\r\n-----END A-----\r\n\r\n-----BEGIN B-----\nAwQ=\n-----END "
      "B-----\n";
  auto blocks = parse_pem(text, "t", Fault::remote);
  ASSERT_TRUE(blocks.has_value()) << blocks.error().describe();
  ASSERT_EQ(blocks->size(), 2u);
  EXPECT_EQ((*blocks)[0].bytes, std::string("\x00\x01\x02", 3));
  EXPECT_EQ((*blocks)[1].bytes, "\x03\x04");
  EXPECT_FALSE(parse_single_pem(text, "t", Fault::remote).has_value());
}

TEST(Pem, RejectsMalformed) {
  struct Case {
    const char* name;
    std::string text;
  } cases[] = {
      {"empty", ""},
      {"whitespace only", " \n\t\n"},
      {"leading garbage", "hello\n-----BEGIN A-----\nAAEC\n-----END A-----\n"},
      {"trailing garbage", "-----BEGIN A-----\nAAEC\n-----END A-----\nhello\n"},
      {"no end", "-----BEGIN A-----\nAAEC\n"},
      {"mismatched end", "-----BEGIN A-----\nAAEC\n-----END B-----\n"},
      {"bad base64", "-----BEGIN A-----\nAA!C\n-----END A-----\n"},
      {"missing padding", "-----BEGIN A-----\nAAE\n-----END A-----\n"},
      {"empty body", "-----BEGIN A-----\n-----END A-----\n"},
      {"lower-case label", "-----BEGIN a-----\nAAEC\n-----END a-----\n"},
      {"header without blank line", "-----BEGIN A-----\nrole: x\n-----END A-----\n"},
      {"truncated begin", "-----BEGIN "},
      {"oversized", "-----BEGIN A-----\n" + std::string(kMaxPemBytes, 'A') + "\n-----END A-----\n"},
  };
  for (const auto& c : cases) {
    auto r = parse_pem(c.text, "t", Fault::remote);
    EXPECT_FALSE(r.has_value()) << c.name;
    if (!r) {
      EXPECT_EQ(r.error().code, "bad_key") << c.name;
      EXPECT_EQ(r.error().fault, Fault::remote) << c.name;
    }
  }
}

}  // namespace
}  // namespace docket::keys
