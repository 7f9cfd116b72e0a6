// multipart/form-data (RFC 7578) as Notary clients upload metadata: every part has
// `Content-Disposition: form-data; name="files"; filename="<role>"` and a JSON body.
// The parser works on the whole body (the HTTP layer already capped its size) and never
// copies more than the parts themselves; every limit is a named field.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace docket::trustserver {

struct MultipartLimits {
  std::size_t max_parts = 1024;                   // one publish never has more roles than this
  std::size_t max_part_bytes = 32 * 1024 * 1024;  // one metadata file
  std::size_t max_header_bytes = 8 * 1024;        // the header block of one part
};

struct Part {
  std::string name;      // the form field name ("files")
  std::string filename;  // as sent, "" when absent
  bool has_filename = false;
  std::string_view body;  // points into the request body
};

// Extracts the boundary of a `multipart/form-data; boundary=...` Content-Type. Errors
// (code "malformed_upload", fault user) when the type is not multipart/form-data or the
// boundary is missing or invalid (RFC 2046: 1..70 characters).
Result<std::string> multipart_boundary(std::string_view content_type);

// Splits `body` into parts. Errors: "malformed_upload" for a structural error (missing
// delimiter, bad header block, missing close delimiter), "too_large" when a limit is
// exceeded (the message names the limit and its value).
Result<std::vector<Part>> parse_multipart(std::string_view body, std::string_view boundary,
                                          const MultipartLimits& limits = {});

// Builds a multipart/form-data body the way the Notary client does (for tests, benches and
// our own client): parts named "files" with filename = role.
std::string build_multipart(const std::vector<std::pair<std::string, std::string>>& files,
                            std::string_view boundary);

}  // namespace docket::trustserver
