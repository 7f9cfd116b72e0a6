// Time: RFC 3339 with nanoseconds, HTTP dates. "Now" comes from std::chrono::system_clock,
// i.e. libc's clock_gettime, so libfaketime can move it in tests.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/error.h"

namespace docket {

using TimePoint = std::chrono::sys_time<std::chrono::nanoseconds>;

TimePoint now();

// Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)" (fraction up to 9 digits; 't'/'z' too).
Result<TimePoint> parse_rfc3339(std::string_view s);
// Go's RFC3339Nano: UTC, trailing zeros of the fraction trimmed ("2029-11-22T06:05:28.653Z").
std::string format_rfc3339_nano(TimePoint t);
// Whole seconds: "2030-01-01T00:00:00Z" (what the TUF spec writes).
std::string format_rfc3339(TimePoint t);
// IMF-fixdate, "Mon, 23 Nov 2026 06:05:28 GMT".
std::string format_http_date(TimePoint t);

}  // namespace docket
