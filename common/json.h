// Strict JSON parsing and OLPC canonical JSON, exactly as Notary and TUF sign it.
//
// Canonical form (securesystemslib encode_canonical / docker/go/canonical): object keys
// sorted bytewise, no insignificant whitespace, strings escape only '"' and '\\' (every
// other byte, control characters and non-ASCII included, is written raw), numbers are
// integers only. nlohmann's dump() is not this (it escapes control characters), hence our
// own encoder over the parsed tree.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace docket {

using Json = nlohmann::json;

struct JsonLimits {
  // Largest document accepted, checked before any parsing.
  std::size_t max_bytes = 16 * 1024 * 1024;
  // Deepest nesting of arrays/objects accepted.
  std::size_t max_depth = 64;
};

// Parses strictly: valid UTF-8, no duplicate object keys, no trailing garbage, within
// limits. `what` names the document in errors ("timestamp.json from the server"); `fault`
// says whose fault a malformed document is (remote for fetched data, local for caches).
Result<Json> parse_json(std::string_view text, std::string_view what, Fault fault,
                        const JsonLimits& limits = {});

// Canonical JSON of a parsed tree. Fails (Fault given) on floats or other values that
// have no canonical form.
Result<std::string> canonical_json(const Json& j, Fault fault = Fault::bug);
// Parse + canonicalise, for bytes received from elsewhere.
Result<std::string> canonicalize(std::string_view text, std::string_view what, Fault fault,
                                 const JsonLimits& limits = {});

// Readable accessors that turn a missing/mistyped field into a clear Error.
Result<std::string> json_string(const Json& obj, std::string_view key, std::string_view what,
                                Fault fault);
Result<std::int64_t> json_int(const Json& obj, std::string_view key, std::string_view what,
                              Fault fault);
Result<const Json*> json_object(const Json& obj, std::string_view key, std::string_view what,
                                Fault fault);
Result<const Json*> json_array(const Json& obj, std::string_view key, std::string_view what,
                               Fault fault);

}  // namespace docket
