// Which delegated roles may speak for a target path (TUF spec §5.6.7.2 and contract §4.6).
#pragma once

#include <string_view>

#include "tuf/metadata.h"

namespace docket::tuf {

// TUF-spec path pattern: pattern and path are split on '/', the component counts must be
// equal, and each component is matched with shell-glob rules (fnmatch without FNM_PATHNAME
// subtleties: '*' any run, '?' one character, '[...]' / '[!...]' classes), case-sensitively.
// '*' never crosses '/'.
bool match_path_pattern(std::string_view pattern, std::string_view path);

// Whether `role` (delegated in `dialect`) is trusted for `path`:
//  TUF: any `paths` pattern matches, or sha256(path) hex starts with any path_hash_prefix;
//  Notary: any `paths` entry is a prefix of the path ("" matches everything).
bool role_matches(const DelegatedRole& role, const TargetPath& path, Dialect dialect);

}  // namespace docket::tuf
