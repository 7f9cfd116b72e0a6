// Authentication building blocks shared by the registry, the trust server and the clients:
// Basic credentials, Docker token-spec scopes, WWW-Authenticate challenges (building and
// parsing) and application/x-www-form-urlencoded data. Pure functions, no I/O.
//
// Scope grammar (Docker token spec, "type[(class)]:name:action[,action]"):
//   repository:library/alpine:pull
//   repository:docker.io/library/alpine:push,pull   (Notary GUNs: the name may hold ':'
//   repository(plugin):vendor/x:pull                 or '.'; type and actions are split at
//   registry:catalog:*                               the first and last ':')
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace docket::net {

inline constexpr std::size_t kMaxScopeBytes = 1024;
inline constexpr std::size_t kMaxScopesPerRequest = 64;
inline constexpr std::size_t kMaxActionsPerScope = 16;
inline constexpr std::size_t kMaxChallengeHeaderBytes = 8 * 1024;
inline constexpr std::size_t kMaxFormBytes = 64 * 1024;

// ---- Basic (RFC 7617) ----

struct BasicCredentials {
  std::string user;
  std::string password;
};

// "Basic <base64(user:password)>" (scheme case-insensitive). Error{remote, "unauthorized"}
// when the scheme is not Basic or the credentials are malformed. The message never contains
// the credentials.
Result<BasicCredentials> parse_basic_authorization(std::string_view header_value);
std::string basic_authorization(std::string_view user, std::string_view password);
// "Bearer <token>": the token, or nullopt for any other scheme / malformed value.
std::optional<std::string> parse_bearer_authorization(std::string_view header_value);

// ---- scopes ----

struct Scope {
  std::string type;                  // "repository", "registry", ...
  std::string resource_class;        // "" or e.g. "plugin"
  std::string name;                  // "library/alpine", "catalog"
  std::vector<std::string> actions;  // sorted, unique: "pull", "push", "delete", "*"

  std::string to_string() const;  // canonical form (sorted actions)
  // Exact match; a "*" action held implies every action.
  bool allows(std::string_view action) const;
  bool same_resource(const Scope& o) const {
    return type == o.type && resource_class == o.resource_class && name == o.name;
  }
  bool operator==(const Scope&) const = default;
};

// Error{remote, "bad_scope"} naming the problem.
Result<Scope> parse_scope(std::string_view text);
// Each value may hold several scopes separated by spaces (OAuth2 style) and values may be
// repeated (Docker style); scopes for the same resource are merged.
Result<std::vector<Scope>> parse_scopes(const std::vector<std::string>& values);
// Merges scopes naming the same resource (union of actions); keeps first-seen order.
std::vector<Scope> merge_scopes(std::vector<Scope> scopes);
// Space-joined canonical forms.
std::string scopes_to_string(const std::vector<Scope>& scopes);

// ---- WWW-Authenticate (RFC 9110 §11.6.1) ----

struct Challenge {
  std::string scheme;                                       // as written ("Bearer", "basic", ...)
  std::vector<std::pair<std::string, std::string>> params;  // names lower-cased
  std::optional<std::string> token68;
  std::optional<std::string> param(std::string_view name) const;  // case-insensitive
  bool is(std::string_view scheme_name) const;                    // case-insensitive
};

// Every challenge in a header value (several may share one header). Error{remote,
// "bad_header"} on malformed syntax or a value over kMaxChallengeHeaderBytes.
Result<std::vector<Challenge>> parse_www_authenticate(std::string_view header_value);

std::string basic_challenge(std::string_view realm);

struct BearerChallenge {
  std::string realm;    // token endpoint URL
  std::string service;  // the audience the token must name
  std::vector<Scope> scopes;
  std::string error;  // "", "invalid_token", "insufficient_scope", "invalid_request"
  std::string error_description;
};
std::string bearer_challenge(const BearerChallenge& c);

// ---- application/x-www-form-urlencoded (and query strings) ----

using FormFields = std::vector<std::pair<std::string, std::string>>;
// '+' is a space, %XX escapes decoded; Error{remote, "bad_encoding"} on malformed escapes,
// too_large over kMaxFormBytes. A leading '?' is not stripped.
Result<FormFields> parse_form_urlencoded(std::string_view text);
std::string form_urlencode(const FormFields& fields);
std::optional<std::string> form_value(const FormFields& fields, std::string_view name);
std::vector<std::string> form_values(const FormFields& fields, std::string_view name);

}  // namespace docket::net
