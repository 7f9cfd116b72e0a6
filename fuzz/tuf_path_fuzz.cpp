// Delegation path matching (shell-glob per path component) and hash-bin arithmetic: no crash,
// no runaway time on pathological patterns (libFuzzer's -timeout catches that), and a
// pattern without wildcards matches exactly itself.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tuf/delegation.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  std::string_view pattern = in.substr(0, nl);
  std::string_view path = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  bool m = docket::tuf::match_path_pattern(pattern, path);
  if (pattern.find_first_of("*?[") == std::string_view::npos && m != (pattern == path)) std::abort();
  if (!path.empty()) {
    auto tp = docket::tuf::TargetPath::make(path);
    docket::tuf::DelegatedRole r;
    r.paths = std::vector<std::string>{std::string(pattern)};
    r.path_hash_prefixes = std::nullopt;
    (void)docket::tuf::role_matches(r, *tp, docket::tuf::Dialect::tuf);
    (void)docket::tuf::role_matches(r, *tp, docket::tuf::Dialect::notary);
    docket::tuf::SuccinctRoles s;
    s.bit_length = 1 + static_cast<int>(size % 32);
    s.name_prefix = "bin";
    if (!s.is_bin(s.role_for(*tp))) std::abort();
  }
  return 0;
}
