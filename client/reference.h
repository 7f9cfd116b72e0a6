// Image references exactly as Docker parses them (distribution/reference's grammar plus
// the docker CLI's normalisation): "nginx" is docker.io/library/nginx:latest, a first
// component with a '.' or ':' or equal to "localhost" is a registry host, tags are
// [\w][\w.-]{0,127}, digests are validated, and upper case in the path is refused.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/digest.h"
#include "common/error.h"

namespace docket::client {

inline constexpr std::string_view kDefaultDomain = "docker.io";
inline constexpr std::string_view kDefaultTag = "latest";
// distribution/reference: NameTotalLengthMax.
inline constexpr std::size_t kMaxNameLength = 255;
inline constexpr std::size_t kMaxTagLength = 128;

class Reference {
 public:
  // Parses and normalises a reference as `docker pull` does. Errors are Fault::user with
  // code "bad_reference" and say which part is wrong. No tag is added here: see
  // with_default_tag().
  static Result<Reference> parse(std::string_view s);
  // Parses a repository name only (no tag, no digest), normalised.
  static Result<Reference> parse_repository(std::string_view s);
  static bool valid_tag(std::string_view tag);

  const std::string& domain() const { return domain_; }  // "docker.io", "127.0.0.1:5000"
  const std::string& path() const { return path_; }      // "library/nginx"
  std::string repository() const { return domain_ + "/" + path_; }
  const std::optional<std::string>& tag() const { return tag_; }
  const std::optional<Digest>& digest() const { return digest_; }

  // Adds tag "latest" when there is neither tag nor digest (docker pull's behaviour).
  Reference with_default_tag() const;
  Reference with_tag(std::string tag) const;  // tag must be valid_tag()
  Reference with_digest(Digest d) const;
  Reference without_tag_or_digest() const;

  // "docker.io/library/nginx:latest", "host:5000/a/b@sha256:…", "h/a:t@sha256:…".
  std::string str() const;
  // The short form docker prints: "nginx:latest", "user/app", "host:5000/a/b:t".
  std::string familiar() const;
  // The tag or digest part as used in /v2/<name>/manifests/<ref>: digest if present.
  std::string manifest_reference() const;

  bool operator==(const Reference&) const = default;

 private:
  std::string domain_;
  std::string path_;
  std::optional<std::string> tag_;
  std::optional<Digest> digest_;
};

// The host docker actually contacts for a domain: docker.io is served by
// registry-1.docker.io; every other domain is itself.
std::string registry_api_host(std::string_view domain);

}  // namespace docket::client
