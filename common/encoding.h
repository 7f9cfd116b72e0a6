// Hex and base64. Bytes are carried in std::string (docket's convention: std::string for
// owned bytes, std::string_view for borrowed bytes).
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"

namespace docket {

std::string hex_encode(std::string_view bytes);
// Accepts upper or lower case; rejects odd length and non-hex characters.
Result<std::string> hex_decode(std::string_view hex);
bool is_lower_hex(std::string_view s);

// Standard alphabet with padding (RFC 4648 §4), as Go's base64.StdEncoding.
std::string base64_encode(std::string_view bytes);
// Strict: padding required, no whitespace, no non-alphabet characters, non-canonical
// trailing bits rejected.
Result<std::string> base64_decode(std::string_view b64);
// URL-safe alphabet without padding (RFC 4648 §5), as JWT uses.
std::string base64url_encode(std::string_view bytes);
Result<std::string> base64url_decode(std::string_view b64);

// Percent-encodes every byte except A-Z a-z 0-9 - . _ ~ (Python's quote(s, safe="")) and
// the ASCII characters in `keep` (quote(s, safe=keep)).
std::string percent_encode(std::string_view s, std::string_view keep = {});
// Decodes %XX sequences; rejects malformed escapes.
Result<std::string> percent_decode(std::string_view s);

}  // namespace docket
