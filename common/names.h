// The repository-name grammar of the Docker/OCI distribution spec, shared by the registry
// (which validates the `{name}` of every /v2/ route) and the client (which validates the path
// part of an image reference after splitting off the registry host).
//
//   path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//   path           := path-component ( "/" path-component )*
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace docket {

// distribution's NameTotalLengthMax: the most bytes a repository name may have.
inline constexpr std::size_t kMaxRepositoryNameLength = 255;

// Whether `c` is one path component (no '/').
bool valid_repository_component(std::string_view c);

// The first '/'-separated component of `path` that is not a valid path component (an empty
// one included: "a//b", "a/", "/a"), or nullopt when every component is valid. Does not
// check the length, so callers can report which rule a name breaks.
std::optional<std::string_view> invalid_repository_component(std::string_view path);

// Whether `name` is a whole repository path: 1 to kMaxRepositoryNameLength bytes of valid
// components joined by '/'.
bool valid_repository_name(std::string_view name);

}  // namespace docket
