#include "common/fast_json.h"

#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <utility>

namespace docket {
namespace {

// Deepest recursion the fast path attempts whatever the limit (a deeper document goes to
// parse_json, which is iterative).
constexpr std::size_t kMaxFastDepth = 256;

// Every method returns false to give up; the result is then discarded.
class FastParser {
 public:
  FastParser(std::string_view text, std::size_t max_depth)
      : p_(text.data()), end_(text.data() + text.size()), max_depth_(max_depth) {}

  bool document(Json& out) {
    ws();
    if (!value(out, 0)) return false;
    ws();
    return p_ == end_;
  }

  // The received text of the top-level object's "signed" member when that text is exactly
  // the member's canonical JSON (common/json.h canonical_json), else empty.
  std::string_view canonical_signed() const { return signed_canonical_; }

 private:
  void ws() {
    const char* start = p_;
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    if (p_ != start) ++noncanonical_;  // canonical JSON has no whitespace
  }

  // `depth`: containers enclosing this value. parse_json refuses to open a container when
  // `max_depth` are already open.
  bool value(Json& out, std::size_t depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{':
        return object(out, depth);
      case '[':
        return array(out, depth);
      case '"': {
        std::string s;
        if (!string(s)) return false;
        out = Json(std::move(s));
        return true;
      }
      case 't':
        return literal("true", Json(true), out);
      case 'f':
        return literal("false", Json(false), out);
      case 'n':
        return literal("null", Json(nullptr), out);
      default:
        return number(out);
    }
  }

  bool literal(std::string_view word, Json v, Json& out) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0)
      return false;
    p_ += word.size();
    out = std::move(v);
    return true;
  }

  bool object(Json& out, std::size_t depth) {
    if (depth >= max_depth_ || depth >= kMaxFastDepth) return false;
    ++p_;  // '{'
    out = Json::object();
    auto& obj = out.get_ref<Json::object_t&>();
    ws();
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    std::string key;
    for (;;) {
      if (p_ == end_ || *p_ != '"') return false;
      key.clear();
      if (!string(key)) return false;
      ws();
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
      ws();
      const bool is_signed = depth == 0 && key == "signed";
      // Metadata keys usually arrive sorted (canonical JSON), so the end is the right hint.
      const auto before = obj.size();
      auto it = obj.emplace_hint(obj.end(), std::move(key), nullptr);
      if (obj.size() == before) return false;  // a duplicate key: parse_json reports it
      // Canonical JSON lists keys in the map's (bytewise) order: not inserted last, the key
      // arrived out of order.
      if (std::next(it) != obj.end()) ++noncanonical_;
      const char* value_start = p_;
      const auto noncanonical_before = noncanonical_;
      if (!value(it->second, depth + 1)) return false;
      if (is_signed && noncanonical_ == noncanonical_before)
        signed_canonical_ =
            std::string_view(value_start, static_cast<std::size_t>(p_ - value_start));
      ws();
      if (p_ == end_) return false;
      if (*p_ == ',') {
        ++p_;
        ws();
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      return false;
    }
  }

  bool array(Json& out, std::size_t depth) {
    if (depth >= max_depth_ || depth >= kMaxFastDepth) return false;
    ++p_;  // '['
    out = Json::array();
    auto& arr = out.get_ref<Json::array_t&>();
    ws();
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      arr.emplace_back();
      if (!value(arr.back(), depth + 1)) return false;
      ws();
      if (p_ == end_) return false;
      if (*p_ == ',') {
        ++p_;
        ws();
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      return false;
    }
  }

  // JSON integers only (RFC 8259 int production), of at most 19 digits; nlohmann's types:
  // a non-negative integer is number_unsigned, a negative one number_integer.
  bool number(Json& out) {
    const bool negative = *p_ == '-';
    if (negative) ++p_;
    const char* start = p_;
    if (p_ == end_ || *p_ < '0' || *p_ > '9') return false;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    const auto digits = static_cast<std::size_t>(p_ - start);
    if (digits > 19) return false;
    if (p_ != end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;  // a float
    std::uint64_t v = 0;
    for (const char* d = start; d != p_; ++d) v = v * 10 + static_cast<std::uint64_t>(*d - '0');
    // Integers are written as std::to_string writes them: the grammar already excludes
    // leading zeros and '+', which leaves "-0" (written "0").
    if (negative && v == 0) ++noncanonical_;
    if (!negative) {
      out = Json(static_cast<Json::number_unsigned_t>(v));
      return true;
    }
    constexpr std::uint64_t kMinMagnitude = std::uint64_t{1} << 63;  // -INT64_MIN
    if (v > kMinMagnitude) return false;                             // nlohmann makes it a float
    out = Json(v == kMinMagnitude ? INT64_MIN : -static_cast<Json::number_integer_t>(v));
    return true;
  }

  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  // Four hex digits after "\u" (p_ at the first one).
  bool hex4(std::uint32_t& cp) {
    if (end_ - p_ < 4) return false;
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hex(p_[i]);
      if (h < 0) return false;
      cp = cp << 4 | static_cast<std::uint32_t>(h);
    }
    p_ += 4;
    return true;
  }

  static void append_utf8(std::string& s, std::uint32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // One UTF-8 sequence starting with lead byte `b` (>= 0x80) at p_, well-formed per
  // RFC 3629 (no overlong forms, no surrogates, nothing past U+10FFFF), as nlohmann
  // checks it. Advances past it.
  bool utf8(unsigned char b) {
    auto in = [&](std::ptrdiff_t i, unsigned char lo, unsigned char hi) {
      if (end_ - p_ <= i) return false;
      auto c = static_cast<unsigned char>(p_[i]);
      return c >= lo && c <= hi;
    };
    std::ptrdiff_t n;
    if (b >= 0xC2 && b <= 0xDF) {
      n = 2;
      if (!in(1, 0x80, 0xBF)) return false;
    } else if (b == 0xE0) {
      n = 3;
      if (!in(1, 0xA0, 0xBF) || !in(2, 0x80, 0xBF)) return false;
    } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
      n = 3;
      if (!in(1, 0x80, 0xBF) || !in(2, 0x80, 0xBF)) return false;
    } else if (b == 0xED) {
      n = 3;
      if (!in(1, 0x80, 0x9F) || !in(2, 0x80, 0xBF)) return false;
    } else if (b == 0xF0) {
      n = 4;
      if (!in(1, 0x90, 0xBF) || !in(2, 0x80, 0xBF) || !in(3, 0x80, 0xBF)) return false;
    } else if (b >= 0xF1 && b <= 0xF3) {
      n = 4;
      if (!in(1, 0x80, 0xBF) || !in(2, 0x80, 0xBF) || !in(3, 0x80, 0xBF)) return false;
    } else if (b == 0xF4) {
      n = 4;
      if (!in(1, 0x80, 0x8F) || !in(2, 0x80, 0xBF) || !in(3, 0x80, 0xBF)) return false;
    } else {
      return false;
    }
    p_ += n;
    return true;
  }

  // p_ at the opening quote; appends the decoded string to `s`.
  bool string(std::string& s) {
    ++p_;
    for (;;) {
      const char* run = p_;
      // Plain printable ASCII is copied in runs.
      while (p_ != end_) {
        auto c = static_cast<unsigned char>(*p_);
        if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
        ++p_;
      }
      if (p_ != run) s.append(run, static_cast<std::size_t>(p_ - run));
      if (p_ == end_) return false;
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;  // a control character must be escaped
      if (c >= 0x80) {
        const char* seq = p_;
        if (!utf8(c)) return false;
        s.append(seq, static_cast<std::size_t>(p_ - seq));
        continue;
      }
      // A backslash escape. Canonical JSON escapes only '"' and '\\'.
      ++p_;
      if (p_ == end_) return false;
      if (*p_ != '"' && *p_ != '\\') ++noncanonical_;
      switch (*p_++) {
        case '"':
          s += '"';
          break;
        case '\\':
          s += '\\';
          break;
        case '/':
          s += '/';
          break;
        case 'b':
          s += '\b';
          break;
        case 'f':
          s += '\f';
          break;
        case 'n':
          s += '\n';
          break;
        case 'r':
          s += '\r';
          break;
        case 't':
          s += '\t';
          break;
        case 'u': {
          std::uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a high surrogate: its low one must follow
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            std::uint32_t lo;
            if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return false;  // a lone low surrogate
          }
          append_utf8(s, cp);
          break;
        }
        default:
          return false;
      }
    }
  }

  const char* p_;
  const char* end_;
  std::size_t max_depth_;
  std::size_t noncanonical_ = 0;  // departures from canonical form seen so far
  std::string_view signed_canonical_;
};

}  // namespace

std::optional<Json> try_fast_parse_json(std::string_view text, std::size_t max_depth,
                                        std::string_view* signed_canonical) {
  Json out;
  FastParser parser(text, max_depth);
  if (signed_canonical) *signed_canonical = {};
  if (!parser.document(out)) return std::nullopt;
  if (signed_canonical) *signed_canonical = parser.canonical_signed();
  return out;
}

Result<Json> parse_json_fast(std::string_view text, std::string_view what, Fault fault,
                             const JsonLimits& limits, std::string_view* signed_canonical) {
  if (signed_canonical) *signed_canonical = {};
  if (text.size() <= limits.max_bytes)
    if (auto j = try_fast_parse_json(text, limits.max_depth, signed_canonical))
      return std::move(*j);
  return parse_json(text, what, fault, limits);
}

}  // namespace docket
