#include "tuf/delegation.h"

#include <vector>

#include "common/digest.h"

namespace docket::tuf {
namespace {

// Matches a bracket expression starting at p[i] == '['. Returns the index after ']' or
// npos if the bracket is unterminated (then '[' is a literal, as fnmatch does).
std::size_t match_class(std::string_view p, std::size_t i, char c, bool& matched) {
  std::size_t j = i + 1;
  bool negate = false;
  if (j < p.size() && (p[j] == '!' || p[j] == '^')) {
    negate = true;
    ++j;
  }
  bool any = false;
  bool first = true;
  while (j < p.size() && (first || p[j] != ']')) {
    first = false;
    char lo = p[j];
    if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
      char hi = p[j + 2];
      if (static_cast<unsigned char>(lo) <= static_cast<unsigned char>(c) &&
          static_cast<unsigned char>(c) <= static_cast<unsigned char>(hi))
        any = true;
      j += 3;
    } else {
      if (lo == c) any = true;
      ++j;
    }
  }
  if (j >= p.size()) return std::string_view::npos;
  matched = any != negate;
  return j + 1;
}

// Glob match of one component (no '/' inside either string), iterative with backtracking
// to the last '*' so that pathological patterns stay O(n*m).
bool glob(std::string_view p, std::string_view s) {
  std::size_t pi = 0, si = 0;
  std::size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      char pc = p[pi];
      if (pc == '*') {
        star_p = pi++;
        star_s = si;
        continue;
      }
      if (pc == '?') {
        ++pi;
        ++si;
        continue;
      }
      if (pc == '[') {
        bool m = false;
        auto next = match_class(p, pi, s[si], m);
        if (next != std::string_view::npos) {
          if (m) {
            pi = next;
            ++si;
            continue;
          }
        } else if (s[si] == '[') {
          ++pi;
          ++si;
          continue;
        }
      } else if (pc == s[si]) {
        ++pi;
        ++si;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p + 1;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    auto e = s.find('/', start);
    if (e == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, e - start));
    start = e + 1;
  }
}

}  // namespace

bool match_path_pattern(std::string_view pattern, std::string_view path) {
  auto pp = split(pattern);
  auto sp = split(path);
  if (pp.size() != sp.size()) return false;
  for (std::size_t i = 0; i < pp.size(); ++i)
    if (!glob(pp[i], sp[i])) return false;
  return true;
}

bool role_matches(const DelegatedRole& role, const TargetPath& path, Dialect dialect) {
  if (role.paths) {
    for (const auto& p : *role.paths) {
      if (dialect == Dialect::notary) {
        if (path.str().compare(0, p.size(), p) == 0) return true;
      } else if (match_path_pattern(p, path.str())) {
        return true;
      }
    }
  }
  if (role.path_hash_prefixes) {
    auto h = sha256_hex(path.str());
    for (const auto& p : *role.path_hash_prefixes)
      if (h.compare(0, p.size(), p) == 0) return true;
  }
  return false;
}

}  // namespace docket::tuf
