#include "trustserver/notary_errors.h"

namespace docket::trustserver {
namespace {
// A JSON string literal; invalid UTF-8 (from a hostile role name) is replaced, never thrown.
std::string jstr(std::string_view s) {
  return Json(std::string(s)).dump(-1, ' ', false, Json::error_handler_t::replace);
}
}  // namespace

const NotaryCodeInfo& notary_code_info(NotaryCode c) {
  // Messages exactly as Notary 0.7 sends them (server/errors/errors.go, distribution errcode).
  static const NotaryCodeInfo table[] = {
      {"NO_STORAGE", "The server is misconfigured and has no storage.", 500},
      {"NO_FILENAME", "No file was sent in the request.", 400},
      {"INVALID_ROLE", "The role you are attempting to operate on is invalid.", 400},
      {"MALFORMED_JSON", "JSON sent by the client could not be parsed by the server", 400},
      {"UPDATING", "An error has occurred while updating the TUF repository.", 500},
      {"VERSION", "A newer version of metadata is already available.", 400},
      {"METADATA_NOT_FOUND", "You have requested metadata that does not exist.", 404},
      {"INVALID_UPDATE", "Update sent by the client is invalid.", 400},
      {"MALFORMED_UPLOAD", "The body of your request is malformed.", 400},
      {"GENERIC_NOT_FOUND", "You have requested a resource that does not exist.", 404},
      {"NO_CRYPTOSERVICE", "No cryptographic signer is configured.", 500},
      {"NO_KEYALGORITHM", "The server does not have a key algorithm configured.", 500},
      {"INVALID_GUN", "The server does not support actions on images of this name.", 400},
      {"INVALID_PARAMETERS", "The parameters provided are not valid.", 400},
      {"UNKNOWN", "unknown error", 500},
      {"UNAUTHORIZED", "authentication required", 401},
      {"DENIED", "requested access to the resource is denied", 403},
  };
  return table[static_cast<int>(c)];
}

std::string_view update_error_name(UpdateErrorKind k) {
  switch (k) {
    case UpdateErrorKind::validation:
      return "ErrValidation";
    case UpdateErrorKind::bad_hierarchy:
      return "ErrBadHierarchy";
    case UpdateErrorKind::bad_root:
      return "ErrBadRoot";
    case UpdateErrorKind::bad_targets:
      return "ErrBadTargets";
    case UpdateErrorKind::bad_snapshot:
      return "ErrBadSnapshot";
  }
  return "ErrValidation";
}

std::string error_body(const HttpError& e) {
  const auto& info = notary_code_info(e.code);
  // Go's encoder writes struct fields in declaration order (code, message, detail), while
  // nlohmann sorts keys, so the envelope is written by hand.
  std::string out =
      "{\"errors\":[{\"code\":" + jstr(info.code) + ",\"message\":" + jstr(info.message);
  if (e.detail) out += ",\"detail\":" + *e.detail;
  out += "}]}\n";
  return out;
}

HttpError invalid_update(UpdateErrorKind kind, std::string msg, std::string missing) {
  // SerializableError{Name, Error}; ErrBadHierarchy{Missing, Msg}; the others {Msg}.
  std::string detail = "{\"Name\":" + jstr(update_error_name(kind)) + ",\"Error\":{";
  if (kind == UpdateErrorKind::bad_hierarchy) detail += "\"Missing\":" + jstr(missing) + ",";
  detail += "\"Msg\":" + jstr(msg) + "}}";
  return HttpError{NotaryCode::invalid_update, detail,
                   std::string(update_error_name(kind)) + ": " + msg};
}

HttpError from_error(const Error& e, bool writing) {
  const auto& c = e.code;
  if (c == "version") return {NotaryCode::version, "{}", e.message};
  if (c == "not_found") return {NotaryCode::metadata_not_found, "{}", e.message};
  if (c == "malformed_upload" || c == "too_large")
    return {NotaryCode::malformed_upload, jstr(e.message), e.message};
  if (c == "storage")
    return {writing ? NotaryCode::updating : NotaryCode::unknown, "{}", e.message};
  return {NotaryCode::unknown, "{}", e.describe()};
}

}  // namespace docket::trustserver
