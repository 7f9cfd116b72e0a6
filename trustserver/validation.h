// Update validation for a publish (Notary's server/handlers/validation.go, made stricter),
// and the server-generated snapshot and timestamp.
//
// Pure: it takes the uploaded bytes, the stored current state and a ServerKeys interface
// (which keys the server holds, and signing with them), and returns either the complete
// list of roles to store atomically or the HTTP error to send. Every rejection names the
// role and the rule broken.
//
// Rules, in order (PROTOCOL.md §2; "stricter" marks where Notary is lax):
//  1. Root, if uploaded: Notary dialect; version exactly stored+1 (lower or equal to the
//     stored version is VERSION: someone else won a race); not expired; every top-level
//     role present with 1 <= threshold <= number of its keys, every key ID defined (stricter);
//     every root key an x509 certificate with CN == GUN, inside its validity window and not
//     a CA; signed to threshold by its own root keys AND by the previous root's root keys
//     (cross-signing). No stored and no uploaded root: ErrValidation.
//  2. The timestamp role of the trusted root must name a key the server holds.
//  3. Targets and delegations, shallowest first: parent from the upload or storage; a
//     delegation must be listed in its parent's delegations; signed to threshold by the keys
//     the parent names; version >= 1; not expired; every target path inside the paths the
//     delegation was given and inside every ancestor's paths; a targets role's own
//     delegations must not widen its paths (stricter). When the root changes and targets is
//     not uploaded, the stored targets must still verify against the new root (stricter).
//  4. Snapshot: uploaded -> signed by the root's snapshot keys, not expired, and its meta
//     must carry the exact length and hashes of root, targets and every reachable
//     delegation as they will be after this update (stricter: every reachable role, not
//     just the uploaded ones). Not uploaded -> generated if the server holds a snapshot key
//     named in root, else ErrBadHierarchy{Missing:"snapshot"}.
//  5. Timestamp: always generated (an uploaded timestamp is ignored, as Notary does).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "common/time.h"
#include "trustserver/notary_errors.h"
#include "trustserver/storage.h"

namespace docket::trustserver {

// Expiry of metadata the server generates (Notary's defaults).
struct ExpiryPolicy {
  std::chrono::seconds snapshot{std::chrono::hours(24 * 365 * 3)};
  std::chrono::seconds timestamp{std::chrono::hours(24 * 14)};
};

// What the validator needs from the signing side.
class ServerKeys {
 public:
  virtual ~ServerKeys() = default;
  // Key IDs the server holds for (gun, role).
  virtual std::vector<std::string> held_keys(const std::string& gun, const std::string& role) = 0;
  // A Notary signature entry {"keyid","method","sig"} over `canonical` with key_id.
  virtual Result<Json> sign(const std::string& key_id, std::string_view canonical) = 0;
};

struct Upload {
  std::string role;
  std::string data;
  // `data` already parsed (parse_json), or null. validate_update consumes it (targets roles
  // only); a second validation of the same input parses `data` again.
  Json doc;
  // Where in `data` the canonical JSON of doc["signed"] is, when `data` holds it verbatim
  // (common/fast_json.h); size 0: unknown. Only used together with `doc`.
  std::size_t signed_canonical_offset = 0;
  std::size_t signed_canonical_size = 0;
};

struct ValidationInput {
  std::string gun;
  std::vector<Upload> uploads;                // in request order, roles validated
  std::map<std::string, MetaRecord> current;  // stored current version per role
  TimePoint now{};
  ExpiryPolicy expiry;
};

// The roles to store atomically, or the error to send. Moves the parsed documents out of
// in.uploads (see Upload::doc); nothing else in `in` changes.
std::expected<std::vector<MetaUpdate>, HttpError> validate_update(ValidationInput& in,
                                                                  ServerKeys& keys);

// A freshly signed timestamp over `snapshot_bytes` with the version after `previous`
// (nullopt: version 1), using the server's timestamp key named in `root_bytes`.
std::expected<MetaUpdate, HttpError> generate_timestamp(
    const std::string& gun, std::string_view root_bytes, std::string_view snapshot_bytes,
    std::optional<std::int64_t> previous, TimePoint now, const ExpiryPolicy& e, ServerKeys& keys);

// Whether a stored timestamp must be re-signed: expired or expiring within `margin`, or it
// does not describe `snapshot_bytes`. Unparseable timestamps count as stale.
bool timestamp_is_stale(std::string_view timestamp_bytes, std::string_view snapshot_bytes,
                        TimePoint now, std::chrono::seconds margin);

}  // namespace docket::trustserver
