#include "trustserver/multipart.h"

#include <algorithm>
#include <cctype>

namespace docket::trustserver {
namespace {

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

auto malformed(std::string msg) {
  return make_error(Fault::user, "malformed_upload", std::move(msg));
}

// Parses `; key=value; key="quoted \" value"` parameters after a media type or disposition
// type. Keys are lower-cased. Returns false on a syntax error.
bool parse_params(std::string_view s, std::vector<std::pair<std::string, std::string>>& out) {
  while (true) {
    s = trim(s);
    if (s.empty()) return true;
    if (s.front() != ';') return false;
    s.remove_prefix(1);
    s = trim(s);
    if (s.empty()) return true;  // a trailing ';' is tolerated, as Go's mime does
    auto eq = s.find('=');
    if (eq == std::string_view::npos) return false;
    std::string key = lower(trim(s.substr(0, eq)));
    if (key.empty()) return false;
    s.remove_prefix(eq + 1);
    s = trim(s);
    std::string value;
    if (!s.empty() && s.front() == '"') {
      std::size_t i = 1;
      bool closed = false;
      for (; i < s.size(); ++i) {
        char c = s[i];
        if (c == '\\' && i + 1 < s.size()) {
          value.push_back(s[++i]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          value.push_back(c);
        }
      }
      if (!closed) return false;
      s.remove_prefix(i + 1);
    } else {
      auto end = s.find(';');
      value = std::string(trim(s.substr(0, end)));
      if (value.empty()) return false;
      s.remove_prefix(end == std::string_view::npos ? s.size() : end);
    }
    for (const auto& [k, v] : out)
      if (k == key) return false;  // duplicate parameters are ambiguous
    out.emplace_back(std::move(key), std::move(value));
  }
}

}  // namespace

Result<std::string> multipart_boundary(std::string_view content_type) {
  auto semi = content_type.find(';');
  auto type = lower(trim(content_type.substr(0, semi)));
  if (type != "multipart/form-data")
    return malformed("Content-Type is '" + std::string(content_type.substr(0, 100)) +
                     "', not multipart/form-data");
  std::vector<std::pair<std::string, std::string>> params;
  if (semi == std::string_view::npos || !parse_params(content_type.substr(semi), params))
    return malformed("Content-Type parameters are malformed");
  for (const auto& [k, v] : params) {
    if (k != "boundary") continue;
    if (v.empty() || v.size() > 70) return malformed("multipart boundary must be 1..70 characters");
    for (unsigned char c : v)
      if (c < 0x20 || c > 0x7e) return malformed("multipart boundary has a non-printable byte");
    return v;
  }
  return malformed("multipart/form-data without a boundary parameter");
}

Result<std::vector<Part>> parse_multipart(std::string_view body, std::string_view boundary,
                                          const MultipartLimits& limits) {
  const std::string delim = "--" + std::string(boundary);
  const std::string next_delim = "\r\n" + delim;
  std::vector<Part> parts;

  // The first delimiter may follow a preamble; it must start a line.
  std::size_t pos;
  if (body.starts_with(delim)) {
    pos = delim.size();
  } else {
    auto p = body.find(next_delim);
    if (p == std::string_view::npos) return malformed("no multipart delimiter found in the body");
    pos = p + next_delim.size();
  }
  while (true) {
    // After a delimiter: "--" closes the body, otherwise optional whitespace then CRLF.
    if (body.substr(pos, 2) == "--") return parts;  // epilogue ignored
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") return malformed("multipart delimiter not followed by CRLF");
    pos += 2;
    if (parts.size() >= limits.max_parts)
      return make_error(
          Fault::user, "too_large",
          "upload has more than " + std::to_string(limits.max_parts) + " parts (max_parts)");

    // Header block, ended by an empty line.
    auto hend = body.find("\r\n\r\n", pos);
    std::string_view headers;
    if (body.substr(pos, 2) == "\r\n") {  // no headers at all
      headers = {};
      pos += 2;
    } else {
      if (hend == std::string_view::npos || hend - pos > limits.max_header_bytes) {
        if (hend != std::string_view::npos || body.size() - pos > limits.max_header_bytes)
          return make_error(Fault::user, "too_large",
                            "a part's header block is over " +
                                std::to_string(limits.max_header_bytes) +
                                " bytes (max_header_bytes)");
        return malformed("a part's header block is not terminated by an empty line");
      }
      headers = body.substr(pos, hend - pos);
      pos = hend + 4;
    }
    Part part;
    bool have_disposition = false;
    while (!headers.empty()) {
      auto eol = headers.find("\r\n");
      auto line = headers.substr(0, eol);
      headers.remove_prefix(eol == std::string_view::npos ? headers.size() : eol + 2);
      auto colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0)
        return malformed("a part header line has no name");
      auto name = lower(trim(line.substr(0, colon)));
      auto value = trim(line.substr(colon + 1));
      if (name != "content-disposition") continue;
      if (have_disposition) return malformed("a part has two Content-Disposition headers");
      have_disposition = true;
      auto semi = value.find(';');
      if (lower(trim(value.substr(0, semi))) != "form-data")
        return malformed("a part's Content-Disposition is not form-data");
      std::vector<std::pair<std::string, std::string>> params;
      if (semi != std::string_view::npos && !parse_params(value.substr(semi), params))
        return malformed("a part's Content-Disposition parameters are malformed");
      for (auto& [k, v] : params) {
        if (k == "name") part.name = v;
        if (k == "filename") {
          part.filename = v;
          part.has_filename = true;
        }
      }
    }
    // Body up to the next delimiter.
    auto end = body.find(next_delim, pos);
    if (end == std::string_view::npos) {
      if (body.size() - pos > limits.max_part_bytes)
        return make_error(
            Fault::user, "too_large",
            "a part is over " + std::to_string(limits.max_part_bytes) + " bytes (max_part_bytes)");
      return malformed("multipart body has no closing delimiter");
    }
    if (end - pos > limits.max_part_bytes)
      return make_error(Fault::user, "too_large",
                        "part '" + part.filename.substr(0, 100) + "' is " +
                            std::to_string(end - pos) + " bytes, over " +
                            std::to_string(limits.max_part_bytes) + " (max_part_bytes)");
    part.body = body.substr(pos, end - pos);
    parts.push_back(std::move(part));
    pos = end + next_delim.size();
  }
}

std::string build_multipart(const std::vector<std::pair<std::string, std::string>>& files,
                            std::string_view boundary) {
  std::string out;
  for (const auto& [role, data] : files) {
    out += "--";
    out += boundary;
    out += "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"";
    out += role;
    out += "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    out += data;
    out += "\r\n";
  }
  out += "--";
  out += boundary;
  out += "--\r\n";
  return out;
}

}  // namespace docket::trustserver
