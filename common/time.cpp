#include "common/time.h"

#include <cstdio>

namespace docket {

using namespace std::chrono;

TimePoint now() { return time_point_cast<nanoseconds>(system_clock::now()); }

namespace {
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}
}  // namespace

Result<TimePoint> parse_rfc3339(std::string_view s) {
  auto bad = [&](std::string why) {
    return make_error(Fault::remote, "bad_time",
                      "\"" + std::string(s.substr(0, 64)) + "\" is not an RFC 3339 time: " + why);
  };
  int Y, M, D, h, m, sec;
  if (!digits(s, 0, 4, Y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, M) || s[7] != '-' ||
      !digits(s, 8, 2, D) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, m) || s[16] != ':' || !digits(s, 17, 2, sec))
    return bad("expected YYYY-MM-DDTHH:MM:SS");
  year_month_day ymd{year{Y}, month{static_cast<unsigned>(M)}, day{static_cast<unsigned>(D)}};
  if (!ymd.ok()) return bad("no such date");
  if (h > 23 || m > 59 || sec > 60) return bad("time of day out of range");
  std::size_t pos = 19;
  long long frac_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    long long scale = 100000000;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (pos - start >= 9) return bad("more than 9 fractional digits");
      frac_ns += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad("empty fraction");
  }
  int offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om) ||
        oh > 23 || om > 59)
      return bad("malformed zone offset");
    offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad("missing zone (Z or ±HH:MM)");
  }
  if (pos != s.size()) return bad("trailing characters");
  TimePoint t = sys_days{ymd} + hours{h} + minutes{m} + seconds{sec} + nanoseconds{frac_ns};
  return t - minutes{offset_min};
}

std::string format_rfc3339(TimePoint t) {
  auto secs = floor<seconds>(t);
  auto day = floor<days>(secs);
  year_month_day ymd{day};
  hh_mm_ss hms{secs - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lldZ", int(ymd.year()), unsigned(ymd.month()),
                unsigned(ymd.day()), (long long)hms.hours().count(), (long long)hms.minutes().count(),
                (long long)hms.seconds().count());
  return buf;
}

std::string format_rfc3339_nano(TimePoint t) {
  auto secs = floor<seconds>(t);
  long long ns = (t - secs).count();
  std::string base = format_rfc3339(secs);
  if (ns == 0) return base;
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09lld", ns);
  std::string f = frac;
  while (f.back() == '0') f.pop_back();
  base.insert(base.size() - 1, f);
  return base;
}

std::string format_http_date(TimePoint t) {
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto secs = floor<seconds>(t);
  auto day = floor<days>(secs);
  year_month_day ymd{day};
  weekday wd{day};
  hh_mm_ss hms{secs - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02lld:%02lld:%02lld GMT", kDays[wd.c_encoding()],
                unsigned(ymd.day()), kMonths[unsigned(ymd.month()) - 1], int(ymd.year()),
                (long long)hms.hours().count(), (long long)hms.minutes().count(),
                (long long)hms.seconds().count());
  return buf;
}

}  // namespace docket
