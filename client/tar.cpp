#include "client/tar.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace docket::client {
namespace {

constexpr std::size_t kBlock = 512;

void put_octal(char* field, std::size_t width, std::uint64_t v) {
  // width-1 digits, NUL terminated, zero padded.
  std::memset(field, '0', width - 1);
  field[width - 1] = '\0';
  std::size_t i = width - 1;
  while (v > 0 && i > 0) {
    field[--i] = static_cast<char>('0' + (v & 7));
    v >>= 3;
  }
}

bool fits_octal(std::uint64_t v, std::size_t width) {
  return width - 1 >= 22 || v < (std::uint64_t{1} << (3 * (width - 1)));
}

void put_str(char* field, std::size_t width, std::string_view s) {
  std::memcpy(field, s.data(), std::min(width, s.size()));
}

std::string pax_record(std::string_view key, std::string_view value) {
  // "%d %s=%s\n" where %d counts the whole record including itself.
  std::size_t base = key.size() + value.size() + 3;
  std::size_t len = base + 1;
  while (std::to_string(len).size() + base != len) ++len;
  return std::to_string(len) + " " + std::string(key) + "=" + std::string(value) + "\n";
}

void checksum(char* h) {
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) sum += static_cast<unsigned char>(h[i]);
  put_octal(h + 148, 7, sum);
  h[155] = ' ';
}

// Splits a name into ustar prefix (155) + name (100) at a '/', if possible.
bool split_ustar_name(std::string_view n, std::string& prefix, std::string& name) {
  if (n.size() <= 100) {
    prefix.clear();
    name = std::string(n);
    return true;
  }
  if (n.size() > 256) return false;
  for (std::size_t i = std::min<std::size_t>(n.size() - 1, 155); i > 0; --i) {
    if (n[i] == '/' && n.size() - i - 1 <= 100 && n.size() - i - 1 > 0) {
      prefix = std::string(n.substr(0, i));
      name = std::string(n.substr(i + 1));
      return true;
    }
  }
  return false;
}

bool ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80 && c != 0; });
}

}  // namespace

Status TarWriter::emit(std::string_view b) {
  written_ += b.size();
  return out_(b);
}

Status TarWriter::end_body() {
  if (remaining_ != 0)
    return make_error(Fault::bug, "usage",
                      "tar entry body is " + std::to_string(remaining_) + " bytes short");
  if (pad_ > 0) {
    static const char zeros[kBlock] = {};
    auto s = emit(std::string_view(zeros, pad_));
    pad_ = 0;
    return s;
  }
  return {};
}

Status TarWriter::add(const TarEntry& e) {
  if (auto s = end_body(); !s) return s;
  if (e.name.empty()) return make_error(Fault::bug, "usage", "tar entry with empty name");
  std::map<std::string, std::string> pax;
  std::string prefix, name;
  if (!split_ustar_name(e.name, prefix, name) || !ascii(e.name)) {
    pax["path"] = e.name;
    name = e.name.substr(0, 100);
    prefix.clear();
  }
  if (e.linkname.size() > 100 || !ascii(e.linkname)) pax["linkpath"] = e.linkname;
  std::uint64_t size = e.type == TarEntry::Type::file ? e.size : 0;
  if (!fits_octal(size, 12)) pax["size"] = std::to_string(size);
  if (!fits_octal(e.uid, 8)) pax["uid"] = std::to_string(e.uid);
  if (!fits_octal(e.gid, 8)) pax["gid"] = std::to_string(e.gid);
  if (e.mtime < 0 || !fits_octal(static_cast<std::uint64_t>(e.mtime), 12))
    pax["mtime"] = std::to_string(e.mtime);
  if (e.uname.size() > 32) pax["uname"] = e.uname;
  if (e.gname.size() > 32) pax["gname"] = e.gname;

  auto header = [&](char* h, std::string_view nm, std::string_view pfx, char type,
                    std::uint64_t sz) {
    std::memset(h, 0, kBlock);
    put_str(h, 100, nm);
    put_octal(h + 100, 8, e.mode & 07777);
    put_octal(h + 108, 8, fits_octal(e.uid, 8) ? e.uid : 0);
    put_octal(h + 116, 8, fits_octal(e.gid, 8) ? e.gid : 0);
    put_octal(h + 124, 12, fits_octal(sz, 12) ? sz : 0);
    put_octal(h + 136, 12,
              e.mtime >= 0 && fits_octal(static_cast<std::uint64_t>(e.mtime), 12) ? e.mtime : 0);
    h[156] = type;
    std::memcpy(h + 257,
                "ustar\0"
                "00",
                8);
    put_str(h + 265, 32, e.uname.size() <= 32 ? e.uname : "");
    put_str(h + 297, 32, e.gname.size() <= 32 ? e.gname : "");
    put_octal(h + 329, 8, e.devmajor);
    put_octal(h + 337, 8, e.devminor);
    put_str(h + 345, 155, pfx);
  };

  char h[kBlock];
  if (!pax.empty()) {
    std::string body;
    for (const auto& [k, v] : pax) body += pax_record(k, v);
    std::string pname = "PaxHeaders/" + e.name.substr(0, 80);
    for (auto& c : pname)
      if (static_cast<unsigned char>(c) >= 0x80) c = '_';
    header(h, pname, "", 'x', body.size());
    checksum(h);
    if (auto s = emit(std::string_view(h, kBlock)); !s) return s;
    if (auto s = emit(body); !s) return s;
    std::size_t p = (kBlock - body.size() % kBlock) % kBlock;
    static const char zeros[kBlock] = {};
    if (auto s = emit(std::string_view(zeros, p)); !s) return s;
  }
  std::string link = e.linkname.size() > 100 ? e.linkname.substr(0, 100) : e.linkname;
  header(h, name, prefix, static_cast<char>(e.type), size);
  put_str(h + 157, 100, link);
  checksum(h);
  if (auto s = emit(std::string_view(h, kBlock)); !s) return s;
  remaining_ = size;
  pad_ = (kBlock - size % kBlock) % kBlock;
  return {};
}

Status TarWriter::write(std::string_view body) {
  if (body.size() > remaining_)
    return make_error(Fault::bug, "usage", "tar entry body longer than its header's size");
  remaining_ -= body.size();
  return emit(body);
}

Status TarWriter::add_file(std::string name, std::string_view body, unsigned mode,
                           std::int64_t mtime) {
  TarEntry e;
  e.name = std::move(name);
  e.size = body.size();
  e.mode = mode;
  e.mtime = mtime;
  if (auto s = add(e); !s) return s;
  return write(body);
}

Status TarWriter::finish() {
  if (auto s = end_body(); !s) return s;
  static const char zeros[2 * kBlock] = {};
  return emit(std::string_view(zeros, sizeof zeros));
}

// ---- reader ----

Status TarReader::read_exact(char* buf, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    auto r = in_(buf + got, n - got);
    if (!r) return std::unexpected(r.error());
    if (*r == 0) return make_error(fault_, "malformed_archive", "tar archive is truncated");
    got += *r;
  }
  return {};
}

Status TarReader::skip(std::uint64_t n) {
  char buf[65536];
  while (n > 0) {
    std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, sizeof buf));
    if (auto s = read_exact(buf, k); !s) return s;
    n -= k;
  }
  return {};
}

namespace {
std::optional<std::uint64_t> parse_number(const char* f, std::size_t width) {
  if (static_cast<unsigned char>(f[0]) & 0x80) {
    // GNU base-256: big-endian, first byte's high bit is the marker (positive only here).
    if (static_cast<unsigned char>(f[0]) & 0x40) return std::nullopt;
    std::uint64_t v = static_cast<unsigned char>(f[0]) & 0x3f;
    for (std::size_t i = 1; i < width; ++i) {
      if (v >> 56) return std::nullopt;
      v = (v << 8) | static_cast<unsigned char>(f[i]);
    }
    return v;
  }
  std::uint64_t v = 0;
  std::size_t i = 0;
  while (i < width && (f[i] == ' ' || f[i] == '\0')) ++i;
  bool any = false;
  for (; i < width && f[i] >= '0' && f[i] <= '7'; ++i) {
    if (v >> 60) return std::nullopt;
    v = v * 8 + static_cast<std::uint64_t>(f[i] - '0');
    any = true;
  }
  for (; i < width; ++i)
    if (f[i] != ' ' && f[i] != '\0') return std::nullopt;
  if (!any) return 0;
  return v;
}

std::string field_str(const char* f, std::size_t width) {
  return std::string(f, strnlen(f, width));
}
}  // namespace

Result<std::optional<TarEntry>> TarReader::next() {
  if (auto s = skip(remaining_ + pad_); !s) return std::unexpected(s.error());
  remaining_ = pad_ = 0;
  std::map<std::string, std::string> pax, global;
  std::optional<std::string> gnu_name, gnu_link;
  auto bad = [&](std::string m) {
    return make_error(fault_, "malformed_archive", "tar archive: " + m);
  };
  while (true) {
    char h[kBlock];
    auto r = in_(h, 1);
    if (!r) return std::unexpected(r.error());
    if (*r == 0)
      return std::optional<TarEntry>{};  // end without zero blocks: tolerated, as tar does
    if (auto s = read_exact(h + 1, kBlock - 1); !s) return std::unexpected(s.error());
    if (std::all_of(h, h + kBlock, [](char c) { return c == 0; })) return std::optional<TarEntry>{};
    unsigned sum = 0;
    for (std::size_t i = 0; i < kBlock; ++i)
      sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    auto stored = parse_number(h + 148, 8);
    if (!stored || *stored != sum)
      return bad("header checksum mismatch (not a tar file, or corrupt)");
    auto size = parse_number(h + 124, 12);
    if (!size) return bad("bad size field");
    char type = h[156] == '\0' ? '0' : h[156];
    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
      if (*size > kMaxTarExtendedHeader)
        return bad("extended header larger than " + std::to_string(kMaxTarExtendedHeader));
      std::string body(*size, '\0');
      if (auto s = read_exact(body.data(), body.size()); !s) return std::unexpected(s.error());
      if (auto s = skip((kBlock - *size % kBlock) % kBlock); !s) return std::unexpected(s.error());
      if (type == 'L' || type == 'K') {
        std::string v(body.c_str());
        (type == 'L' ? gnu_name : gnu_link) = v;
        continue;
      }
      auto& dst = type == 'x' ? pax : global;
      std::string_view b = body;
      while (!b.empty()) {
        auto sp = b.find(' ');
        if (sp == std::string_view::npos) return bad("malformed pax record");
        std::size_t len = 0;
        for (char c : b.substr(0, sp)) {
          if (c < '0' || c > '9' || len > b.size()) return bad("malformed pax record length");
          len = len * 10 + static_cast<std::size_t>(c - '0');
        }
        if (len <= sp + 1 || len > b.size() || b[len - 1] != '\n')
          return bad("malformed pax record");
        std::string_view rec = b.substr(sp + 1, len - sp - 2);
        auto eq = rec.find('=');
        if (eq == std::string_view::npos) return bad("malformed pax record (no '=')");
        dst[std::string(rec.substr(0, eq))] = std::string(rec.substr(eq + 1));
        b.remove_prefix(len);
      }
      continue;
    }
    TarEntry e;
    std::string name = field_str(h, 100);
    std::string prefix = std::memcmp(h + 257, "ustar", 5) == 0 ? field_str(h + 345, 155) : "";
    e.name = prefix.empty() ? name : prefix + "/" + name;
    e.linkname = field_str(h + 157, 100);
    e.mode = static_cast<unsigned>(parse_number(h + 100, 8).value_or(0));
    e.uid = parse_number(h + 108, 8).value_or(0);
    e.gid = parse_number(h + 116, 8).value_or(0);
    e.mtime = static_cast<std::int64_t>(parse_number(h + 136, 12).value_or(0));
    e.uname = field_str(h + 265, 32);
    e.gname = field_str(h + 297, 32);
    e.devmajor = static_cast<unsigned>(parse_number(h + 329, 8).value_or(0));
    e.devminor = static_cast<unsigned>(parse_number(h + 337, 8).value_or(0));
    e.size = *size;
    if (gnu_name) e.name = *gnu_name;
    if (gnu_link) e.linkname = *gnu_link;
    for (auto* m : {&global, &pax}) {
      for (const auto& [k, v] : *m) {
        auto num = [&](std::string_view what) -> Result<std::uint64_t> {
          if (v.empty() || v.size() > 19 ||
              !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return bad("bad pax " + std::string(what) + " \"" + v + "\"");
          return std::stoull(v);
        };
        if (k == "path")
          e.name = v;
        else if (k == "linkpath")
          e.linkname = v;
        else if (k == "size") {
          auto n = num("size");
          if (!n) return std::unexpected(n.error());
          e.size = *n;
        } else if (k == "uid" || k == "gid") {
          auto n = num(k);
          if (!n) return std::unexpected(n.error());
          (k == "uid" ? e.uid : e.gid) = *n;
        } else if (k == "mtime") {
          // Fractional seconds allowed; keep the integer part.
          std::string s = v.substr(0, v.find('.'));
          bool neg = !s.empty() && s[0] == '-';
          if (neg) s = s.substr(1);
          if (s.empty() || s.size() > 18 ||
              !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return bad("bad pax mtime");
          e.mtime = (neg ? -1 : 1) * static_cast<std::int64_t>(std::stoll(s));
        } else if (k == "uname")
          e.uname = v;
        else if (k == "gname")
          e.gname = v;
      }
    }
    if (e.name.empty()) return bad("entry with an empty name");
    if (e.name.size() > kMaxTarNameLength)
      return bad("entry name longer than " + std::to_string(kMaxTarNameLength));
    switch (type) {
      case '0':
      case '7':
        e.type = TarEntry::Type::file;
        break;
      case '1':
        e.type = TarEntry::Type::hardlink;
        break;
      case '2':
        e.type = TarEntry::Type::symlink;
        break;
      case '3':
        e.type = TarEntry::Type::chardev;
        break;
      case '4':
        e.type = TarEntry::Type::blockdev;
        break;
      case '5':
        e.type = TarEntry::Type::directory;
        break;
      case '6':
        e.type = TarEntry::Type::fifo;
        break;
      default:
        return bad("unsupported entry type '" + std::string(1, type) + "' for " + e.name);
    }
    // Only regular files carry a body we expose; any other type's declared size is skipped.
    if (e.type == TarEntry::Type::file) {
      remaining_ = e.size;
    } else {
      remaining_ = 0;
      if (e.size > 0) {
        if (auto s = skip(e.size + (kBlock - e.size % kBlock) % kBlock); !s)
          return std::unexpected(s.error());
      }
      e.size = 0;
    }
    pad_ = (kBlock - remaining_ % kBlock) % kBlock;
    return std::optional<TarEntry>(std::move(e));
  }
}

Result<std::size_t> TarReader::read(char* buf, std::size_t n) {
  if (remaining_ == 0) return std::size_t{0};
  std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(n, remaining_));
  auto r = in_(buf, k);
  if (!r) return std::unexpected(r.error());
  if (*r == 0)
    return make_error(fault_, "malformed_archive", "tar archive is truncated inside an entry");
  remaining_ -= *r;
  return *r;
}

}  // namespace docket::client
