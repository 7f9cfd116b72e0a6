// Talking to a Notary-compatible trust server as Notary's client does when publishing:
// fetch (or rotate) the server-held timestamp/snapshot key, and POST signed roles.
//
// Error mapping for a publish:
//   200                 -> ok
//   400 (any Notary code: INVALID_UPDATE, VERSION, MALFORMED_JSON, ...)
//                       -> Error{user, "update_rejected", "<server>: <CODE>: <message>
//                          (<detail Name>: <detail Msg>)"}: what we sent was refused (missing
//                          signatures, a stale version after someone else published, ...)
//   401 / 403           -> Error{user, "unauthorized" / "denied", ...}
//   404                 -> Error{user, "not_found", ...} (no trust server at that URL)
//   anything else       -> Error{remote, "http_status", ...}
// Transport failures are the HTTP client's Error{remote, "network"}.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "keys/key.h"
#include "net/http_client.h"
#include "tuf/editor.h"
#include "tuf/fetcher.h"

namespace docket::tuf {

// Largest server error document read into a message.
inline constexpr std::size_t kMaxNotaryErrorBodyBytes = 64 * 1024;

// GET (rotate = false) or POST (rotate = true) /v2/<gun>/_trust/tuf/<role>.key, role being
// "timestamp" or "snapshot". Notary's GET creates the key if the GUN has none; POST makes a
// new pending key that becomes active once a root listing it is published.
Result<keys::PublicKey> fetch_server_key(const net::HttpClient& http, std::string_view base_url,
                                         std::string_view gun, std::string_view role,
                                         bool rotate = false, const net::HttpHeaders& headers = {});
// The same over an injected transport (e.g. an authenticating session).
Result<keys::PublicKey> fetch_server_key(const HttpSend& send, std::string_view base_url,
                                         std::string_view gun, std::string_view role,
                                         bool rotate = false, const net::HttpHeaders& headers = {});

// POSTs the roles (Editor::for_notary_upload() is applied: never a timestamp) as one
// multipart upload. An empty list is a valid request (the server re-signs what it manages).
Status publish_to_notary(const net::HttpClient& http, std::string_view base_url,
                         std::string_view gun, const std::vector<SignedRole>& roles,
                         const net::HttpHeaders& headers = {});
Status publish_to_notary(const HttpSend& send, std::string_view base_url, std::string_view gun,
                         const std::vector<SignedRole>& roles,
                         const net::HttpHeaders& headers = {});

// The readable form of a Notary error document ({"errors":[{"code","message","detail"}]}),
// or the start of the body if it is not one.
std::string describe_notary_error(std::string_view body);

}  // namespace docket::tuf
