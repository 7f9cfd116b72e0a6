#include "common/time.h"

#include <gtest/gtest.h>

namespace docket {
namespace {

TEST(Rfc3339, ParsesAndFormats) {
  auto t = parse_rfc3339("2029-11-22T06:05:28.653112983Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(format_rfc3339_nano(*t), "2029-11-22T06:05:28.653112983Z");
  EXPECT_EQ(format_rfc3339(*t), "2029-11-22T06:05:28Z");
  EXPECT_EQ(format_rfc3339_nano(*parse_rfc3339("2030-01-01T00:00:00.500Z")), "2030-01-01T00:00:00.5Z");
  EXPECT_EQ(format_rfc3339_nano(*parse_rfc3339("2030-01-01T00:00:00Z")), "2030-01-01T00:00:00Z");
  // Offsets convert to UTC.
  EXPECT_EQ(format_rfc3339(*parse_rfc3339("2030-01-01T02:30:00+02:30")), "2030-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(*parse_rfc3339("2029-12-31T23:00:00-01:00")), "2030-01-01T00:00:00Z");
  EXPECT_EQ(format_http_date(*parse_rfc3339("2026-11-23T06:05:28Z")), "Mon, 23 Nov 2026 06:05:28 GMT");
}

TEST(Rfc3339, Rejects) {
  for (std::string bad : {"2030-01-01", "2030-01-01T00:00:00", "2030-02-30T00:00:00Z", "2030-01-01T24:00:00Z",
                          "2030-01-01T00:00:00.Z", "2030-01-01T00:00:00.1234567890Z", "2030-01-01T00:00:00Zjunk",
                          "30-01-01T00:00:00Z", "2030-01-01T00:00:00+0100"}) {
    auto r = parse_rfc3339(bad);
    EXPECT_FALSE(r.has_value()) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, "bad_time");
    }
  }
}

}  // namespace
}  // namespace docket
