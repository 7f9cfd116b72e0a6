// Strict PEM (RFC 7468) with RFC 1421-style headers, as Go's encoding/pem reads and writes
// them and as Notary's key files use them ("role: targets", "gun: example.com/app").
//
// Reading is strict where OpenSSL's reader is lax: text before the first block or between
// blocks is rejected (only whitespace is allowed), the END label must match the BEGIN
// label, the body must be valid standard base64 with padding, and header lines must be
// "Name: value".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace docket::keys {

// Largest PEM text accepted (a 16384-bit RSA key in PEM is about 13 KiB).
inline constexpr std::size_t kMaxPemBytes = 64 * 1024;
// Most blocks in one PEM text (certificate bundles).
inline constexpr std::size_t kMaxPemBlocks = 16;
// Most header lines in one block.
inline constexpr std::size_t kMaxPemHeaders = 16;

struct PemBlock {
  std::string type;  // "CERTIFICATE", "ENCRYPTED PRIVATE KEY", ...
  // Headers in file order. Names are case-sensitive as in Go.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string bytes;  // the decoded body

  // The value of header `name`, or "" if absent.
  std::string header(std::string_view name) const;
  void set_header(std::string_view name, std::string_view value);
  void remove_header(std::string_view name);
};

// Parses every block in `text`. Errors are Error{fault, "bad_key", ...}; `what` names the
// text in messages ("key file private/ab12.key").
Result<std::vector<PemBlock>> parse_pem(std::string_view text, std::string_view what, Fault fault);
// Parses exactly one block (anything but whitespace after it is an error).
Result<PemBlock> parse_single_pem(std::string_view text, std::string_view what, Fault fault);

// Writes a block as Go's pem.Encode does: headers sorted by name (Proc-Type first), a
// blank line after them, base64 body in 64-character lines.
std::string encode_pem(const PemBlock& block);

}  // namespace docket::keys
