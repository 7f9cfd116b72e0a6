#include "common/names.h"

namespace docket {
namespace {

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

bool valid_repository_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  for (std::size_t i = 0; i < c.size();) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    // A separator run between two alphanumerics: "." | "_" | "__" | "-"+
    std::size_t j = i;
    while (j < c.size() && !is_lower_alnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool ok = sep == "." || sep == "_" || sep == "__" ||
              sep.find_first_not_of('-') == std::string_view::npos;
    if (!ok) return false;
    i = j;
  }
  return true;
}

std::optional<std::string_view> invalid_repository_component(std::string_view path) {
  while (true) {
    auto slash = path.find('/');
    std::string_view comp = path.substr(0, slash);
    if (!valid_repository_component(comp)) return comp;
    if (slash == std::string_view::npos) return std::nullopt;
    path.remove_prefix(slash + 1);
  }
}

bool valid_repository_name(std::string_view name) {
  return !name.empty() && name.size() <= kMaxRepositoryNameLength &&
         !invalid_repository_component(name);
}

}  // namespace docket
