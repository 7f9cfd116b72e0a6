#include "keys/pem.h"

#include <algorithm>

#include "common/encoding.h"

namespace docket::keys {
namespace {

constexpr std::string_view kBegin = "-----BEGIN ";
constexpr std::string_view kEnd = "-----END ";
constexpr std::string_view kDashes = "-----";

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Splits off one line (without its "\n" or "\r\n").
std::string_view next_line(std::string_view& rest) {
  auto nl = rest.find('\n');
  std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool valid_label(std::string_view label) {
  if (label.empty() || label.size() > 64) return false;
  for (char c : label)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ')) return false;
  return label.front() != ' ' && label.back() != ' ';
}

}  // namespace

std::string PemBlock::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

void PemBlock::set_header(std::string_view name, std::string_view value) {
  for (auto& [k, v] : headers)
    if (k == name) {
      v = value;
      return;
    }
  headers.emplace_back(name, value);
}

void PemBlock::remove_header(std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return h.first == name; });
}

Result<std::vector<PemBlock>> parse_pem(std::string_view text, std::string_view what, Fault fault) {
  auto bad = [&](std::string msg) {
    return make_error(fault, "bad_key", std::string(what) + ": " + msg);
  };
  if (text.size() > kMaxPemBytes)
    return bad("PEM text is " + std::to_string(text.size()) + " bytes, over the limit of " +
               std::to_string(kMaxPemBytes));
  std::vector<PemBlock> blocks;
  std::string_view rest = text;
  while (true) {
    // Only whitespace may precede a block.
    while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
    if (rest.empty()) break;
    if (blocks.size() == kMaxPemBlocks)
      return bad("more than " + std::to_string(kMaxPemBlocks) + " PEM blocks");
    std::string_view begin = next_line(rest);
    if (!begin.starts_with(kBegin) || !begin.ends_with(kDashes) ||
        begin.size() < kBegin.size() + kDashes.size())
      return bad("expected a \"-----BEGIN ...-----\" line, found text that is not PEM");
    PemBlock block;
    block.type =
        std::string(begin.substr(kBegin.size(), begin.size() - kBegin.size() - kDashes.size()));
    if (!valid_label(block.type)) return bad("malformed PEM label \"" + block.type + "\"");

    // Headers: "Name: value" lines up to a blank line. Without a ':' in the first line
    // there are no headers.
    std::string_view probe = rest;
    std::string_view first = next_line(probe);
    if (first.find(':') != std::string_view::npos) {
      while (true) {
        if (rest.empty()) return bad("PEM block \"" + block.type + "\" ends inside its headers");
        std::string_view line = next_line(rest);
        if (trim(line).empty()) break;
        auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0)
          return bad("malformed PEM header line in block \"" + block.type + "\"");
        if (block.headers.size() == kMaxPemHeaders)
          return bad("more than " + std::to_string(kMaxPemHeaders) + " PEM headers");
        block.headers.emplace_back(std::string(trim(line.substr(0, colon))),
                                   std::string(trim(line.substr(colon + 1))));
      }
    }

    std::string body;
    bool ended = false;
    while (!rest.empty()) {
      std::string_view line = next_line(rest);
      if (line.starts_with(kEnd)) {
        if (line != std::string(kEnd) + block.type + std::string(kDashes))
          return bad("PEM END line does not match \"-----BEGIN " + block.type + "-----\"");
        ended = true;
        break;
      }
      for (char c : line)
        if (!is_space(c)) body += c;
    }
    if (!ended) return bad("PEM block \"" + block.type + "\" has no END line");
    auto bytes = base64_decode(body);
    if (!bytes) return bad("PEM block \"" + block.type + "\" has a malformed base64 body");
    if (bytes->empty()) return bad("PEM block \"" + block.type + "\" is empty");
    block.bytes = std::move(*bytes);
    blocks.push_back(std::move(block));
  }
  if (blocks.empty()) return bad("no PEM block found");
  return blocks;
}

Result<PemBlock> parse_single_pem(std::string_view text, std::string_view what, Fault fault) {
  auto blocks = parse_pem(text, what, fault);
  if (!blocks) return std::unexpected(blocks.error());
  if (blocks->size() != 1)
    return make_error(
        fault, "bad_key",
        std::string(what) + ": expected one PEM block, found " + std::to_string(blocks->size()));
  return std::move(blocks->front());
}

std::string encode_pem(const PemBlock& block) {
  std::string out = "-----BEGIN " + block.type + "-----\n";
  if (!block.headers.empty()) {
    auto headers = block.headers;
    std::stable_sort(headers.begin(), headers.end(), [](const auto& a, const auto& b) {
      if ((a.first == "Proc-Type") != (b.first == "Proc-Type")) return a.first == "Proc-Type";
      return a.first < b.first;
    });
    for (const auto& [k, v] : headers) out += k + ": " + v + "\n";
    out += "\n";
  }
  std::string b64 = base64_encode(block.bytes);
  for (std::size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  out += "-----END " + block.type + "-----\n";
  return out;
}

}  // namespace docket::keys
