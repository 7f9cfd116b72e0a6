// The Notary v1 server's URL space (server/server.go:RootHandler), parsed without regexes:
//
//   GET      /v2/                                         ping (auth challenge)
//   POST     /v2/<gun>/_trust/tuf/                        publish (multipart)
//   DELETE   /v2/<gun>/_trust/tuf/                        delete the GUN
//   GET      /v2/<gun>/_trust/tuf/<role>.json             current
//   GET      /v2/<gun>/_trust/tuf/<role>.<hex>.json       by checksum (64/96/128 hex)
//   GET      /v2/<gun>/_trust/tuf/<N>.<role>.json         by version
//   GET|POST /v2/<gun>/_trust/tuf/{timestamp,snapshot}.key  get-or-create / rotate
//   GET      /v2/<gun>/_trust/changefeed                  per-GUN changefeed
//   GET      /v2/_trust/changefeed                        global changefeed
//   GET      /_notary_server/health, /metrics
//
// Stricter than Notary: the GUN must pass valid_gun() (Notary accepts any [^*]+, including
// "..", empty segments and control characters).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace docket::trustserver {

enum class RouteKind {
  ping,
  publish_or_delete,  // /v2/<gun>/_trust/tuf/
  metadata_current,
  metadata_checksum,
  metadata_version,
  key,
  changefeed_gun,
  changefeed_all,
  health,
  metrics,
  not_found,
};

struct Route {
  RouteKind kind = RouteKind::not_found;
  std::string gun;
  std::string role;
  std::string checksum;  // lower-cased hex
  std::int64_t version = 0;
  // Set when the path is a trust route whose GUN or role fails validation; the handler
  // answers INVALID_GUN / INVALID_ROLE with this text.
  std::string invalid_gun;
  std::string invalid_role;
};

// `path` is the request target's path, already percent-decoded, without the query.
Route parse_route(std::string_view path);

// Longest GUN accepted (Notary's database column is 255).
inline constexpr std::size_t kMaxGunBytes = 255;
// A GUN: 1..255 bytes of printable ASCII except '*' and space; no empty, "." or ".."
// segment; no leading or trailing '/'. The message says which rule failed.
Status valid_gun(std::string_view gun);

// Notary's data.ValidRole: root, targets, snapshot, timestamp, or a delegation
// "targets/<seg>(/<seg>)*" with segments of [-a-z0-9_], clean (no "." / ".." / "//"),
// under 256 bytes.
bool valid_role(std::string_view role);
bool is_delegation(std::string_view role);
// "targets/a/b" -> "targets/a"; "targets" -> "root".
std::string parent_role(std::string_view role);

}  // namespace docket::trustserver
