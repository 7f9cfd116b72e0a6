#include "client/reference.h"

#include <algorithm>

#include "common/names.h"

namespace docket::client {

// The whole name (host included) obeys distribution's one limit.
static_assert(kMaxNameLength == kMaxRepositoryNameLength);

namespace {

auto bad(std::string msg) {
  return make_error(Fault::user, "bad_reference", std::move(msg));
}

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_word(char c) {
  return is_alnum(c) || c == '_';
}

// domain-component: [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?
bool valid_domain_component(std::string_view c) {
  if (c.empty() || !is_alnum(c.front()) || !is_alnum(c.back())) return false;
  return std::all_of(c.begin(), c.end(), [](char x) { return is_alnum(x) || x == '-'; });
}

bool valid_port(std::string_view p) {
  return !p.empty() && p.size() <= 5 && std::all_of(p.begin(), p.end(), is_digit);
}

// host (DNS name or [IPv6]) with optional :port.
bool valid_domain(std::string_view d) {
  if (d.empty()) return false;
  std::string_view host = d;
  if (d.front() == '[') {
    auto close = d.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    std::string_view inner = d.substr(1, close - 1);
    if (!std::all_of(inner.begin(), inner.end(), [](char x) {
          return is_digit(x) || (x >= 'a' && x <= 'f') || (x >= 'A' && x <= 'F') || x == ':';
        }))
      return false;
    std::string_view rest = d.substr(close + 1);
    if (rest.empty()) return true;
    return rest.front() == ':' && valid_port(rest.substr(1));
  }
  auto colon = d.rfind(':');
  if (colon != std::string_view::npos) {
    if (!valid_port(d.substr(colon + 1))) return false;
    host = d.substr(0, colon);
  }
  std::size_t start = 0;
  while (true) {
    auto dot = host.find('.', start);
    if (!valid_domain_component(
            host.substr(start, dot == std::string_view::npos ? dot : dot - start)))
      return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool is_64_hex(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return is_digit(c) || (c >= 'a' && c <= 'f');
         });
}

struct Split {
  std::string domain, path;
};

Result<Split> split_and_validate_name(std::string_view name, std::string_view whole) {
  if (name.empty())
    return bad("invalid reference format: repository name is empty in \"" + std::string(whole) +
               "\"");
  Split out;
  auto slash = name.find('/');
  std::string_view first =
      slash == std::string_view::npos ? std::string_view{} : name.substr(0, slash);
  bool first_is_domain =
      slash != std::string_view::npos &&
      (first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
       std::any_of(first.begin(), first.end(), [](char c) { return c >= 'A' && c <= 'Z'; }));
  std::string_view remainder = name;
  if (first_is_domain) {
    out.domain = std::string(first);
    remainder = name.substr(slash + 1);
  } else {
    out.domain = std::string(kDefaultDomain);
  }
  if (out.domain == "index.docker.io") out.domain = std::string(kDefaultDomain);
  if (!valid_domain(out.domain))
    return bad("invalid reference format: registry host \"" + out.domain + "\" in \"" +
               std::string(whole) + "\" is not a valid host[:port]");
  if (out.domain == kDefaultDomain && remainder.find('/') == std::string_view::npos)
    out.path = "library/" + std::string(remainder);
  else
    out.path = std::string(remainder);
  if (std::any_of(out.path.begin(), out.path.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
    return bad("invalid reference format: repository name \"" + std::string(remainder) +
               "\" must be lowercase");
  if (auto comp = invalid_repository_component(out.path))
    return bad("invalid reference format: repository name component \"" + std::string(*comp) +
               "\" in \"" + std::string(whole) +
               "\" must be lower-case letters and digits separated by '.', '_', '__' or dashes");
  if (out.domain.size() + 1 + out.path.size() > kMaxNameLength)
    return bad("invalid reference format: repository name \"" + std::string(whole) +
               "\" is longer than " + std::to_string(kMaxNameLength) + " characters");
  return out;
}

}  // namespace

bool Reference::valid_tag(std::string_view t) {
  if (t.empty() || t.size() > kMaxTagLength || !is_word(t.front())) return false;
  return std::all_of(t.begin(), t.end(), [](char c) { return is_word(c) || c == '.' || c == '-'; });
}

Result<Reference> Reference::parse(std::string_view s) {
  if (s.empty()) return bad("invalid reference format: the reference is empty");
  if (is_64_hex(s))
    return bad("invalid repository name (" + std::string(s) +
               "), cannot specify 64-byte hexadecimal strings");
  Reference r;
  std::string_view name = s;
  if (auto at = s.find('@'); at != std::string_view::npos) {
    auto d = Digest::parse(s.substr(at + 1));
    if (!d)
      return bad("invalid reference format: digest \"" + std::string(s.substr(at + 1)) +
                 "\" in \"" + std::string(s) + "\": " + d.error().message);
    r.digest_ = *d;
    name = s.substr(0, at);
  }
  auto last_slash = name.rfind('/');
  auto colon = name.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    std::string_view tag = name.substr(colon + 1);
    if (!valid_tag(tag))
      return bad("invalid reference format: tag \"" + std::string(tag) + "\" in \"" +
                 std::string(s) +
                 "\" must be 1-128 characters of letters, digits, '_', '.' and '-', not starting "
                 "with '.' or '-'");
    r.tag_ = std::string(tag);
    name = name.substr(0, colon);
  }
  auto split = split_and_validate_name(name, s);
  if (!split) return std::unexpected(split.error());
  r.domain_ = std::move(split->domain);
  r.path_ = std::move(split->path);
  return r;
}

Result<Reference> Reference::parse_repository(std::string_view s) {
  auto r = parse(s);
  if (!r) return r;
  if (r->tag_ || r->digest_)
    return bad("\"" + std::string(s) + "\" is a repository name and may not have a tag or digest");
  return r;
}

Reference Reference::with_default_tag() const {
  Reference r = *this;
  if (!r.tag_ && !r.digest_) r.tag_ = std::string(kDefaultTag);
  return r;
}

Reference Reference::with_tag(std::string tag) const {
  if (!valid_tag(tag)) raise(Fault::bug, "bad_reference", "with_tag given invalid tag " + tag);
  Reference r = *this;
  r.tag_ = std::move(tag);
  r.digest_.reset();
  return r;
}

Reference Reference::with_digest(Digest d) const {
  Reference r = *this;
  r.digest_ = std::move(d);
  return r;
}

Reference Reference::without_tag_or_digest() const {
  Reference r = *this;
  r.tag_.reset();
  r.digest_.reset();
  return r;
}

std::string Reference::str() const {
  std::string s = repository();
  if (tag_) s += ":" + *tag_;
  if (digest_) s += "@" + digest_->str();
  return s;
}

std::string Reference::familiar() const {
  std::string s;
  if (domain_ == kDefaultDomain) {
    s = path_.starts_with("library/") && path_.find('/', 8) == std::string::npos ? path_.substr(8)
                                                                                 : path_;
  } else {
    s = repository();
  }
  if (tag_) s += ":" + *tag_;
  if (digest_) s += "@" + digest_->str();
  return s;
}

std::string Reference::manifest_reference() const {
  if (digest_) return digest_->str();
  return tag_ ? *tag_ : std::string(kDefaultTag);
}

std::string registry_api_host(std::string_view domain) {
  if (domain == kDefaultDomain) return "registry-1.docker.io";
  return std::string(domain);
}

}  // namespace docket::client
