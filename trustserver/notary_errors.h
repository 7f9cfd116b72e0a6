// Notary's server error table (server/errors/errors.go) and the exact response shapes its
// client parses: {"errors":[{"code":..,"message":..,"detail":..}]}, and for INVALID_UPDATE a
// detail {"Name":"ErrBadTargets","Error":{"Msg":..}} that storage/httpstore.go decodes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/json.h"

namespace docket::trustserver {

enum class NotaryCode {
  no_storage,          // NO_STORAGE 500
  no_filename,         // NO_FILENAME 400
  invalid_role,        // INVALID_ROLE 400
  malformed_json,      // MALFORMED_JSON 400
  updating,            // UPDATING 500
  version,             // VERSION 400
  metadata_not_found,  // METADATA_NOT_FOUND 404
  invalid_update,      // INVALID_UPDATE 400
  malformed_upload,    // MALFORMED_UPLOAD 400
  generic_not_found,   // GENERIC_NOT_FOUND 404
  no_cryptoservice,    // NO_CRYPTOSERVICE 500
  no_keyalgorithm,     // NO_KEYALGORITHM 500
  invalid_gun,         // INVALID_GUN 400
  invalid_parameters,  // INVALID_PARAMETERS 400
  unknown,             // UNKNOWN 500
  unauthorized,        // UNAUTHORIZED 401
  denied,              // DENIED 403
};

struct NotaryCodeInfo {
  std::string_view code;     // "INVALID_UPDATE"
  std::string_view message;  // Notary's fixed message text
  int status;
};
const NotaryCodeInfo& notary_code_info(NotaryCode c);

// The validation error kinds of INVALID_UPDATE's detail (Notary's validation package).
enum class UpdateErrorKind { validation, bad_hierarchy, bad_root, bad_targets, bad_snapshot };
std::string_view update_error_name(UpdateErrorKind k);  // "ErrBadTargets"

// A server-side failure on its way to the client.
struct HttpError {
  NotaryCode code = NotaryCode::unknown;
  // detail: omitted when nullopt; Notary sends {} for most codes, a string for INVALID_ROLE,
  // a SerializableError object for INVALID_UPDATE.
  // Held as JSON text so that field order matches Go's encoder exactly.
  std::optional<std::string> detail;
  // For the log only (never sent): what went wrong in our words.
  std::string log_message;
};

// {"errors":[...]} body.
std::string error_body(const HttpError& e);

// INVALID_UPDATE with detail {"Name":kind,"Error":{"Msg":msg}} (+ "Missing" for
// ErrBadHierarchy). The message names the role and the rule broken.
HttpError invalid_update(UpdateErrorKind kind, std::string msg, std::string missing = "");

// Maps a docket::Error from the layers below: "version" -> VERSION, "not_found" ->
// METADATA_NOT_FOUND, "malformed_upload" / "too_large" -> MALFORMED_UPLOAD, "storage" ->
// UPDATING (on writes) / UNKNOWN, anything else -> UNKNOWN.
HttpError from_error(const Error& e, bool writing = false);

}  // namespace docket::trustserver
