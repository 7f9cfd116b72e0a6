#include "trustserver/storage.h"

namespace docket::trustserver {

std::string_view change_category_name(ChangeCategory c) {
  return c == ChangeCategory::deletion ? "deletion" : "update";
}

Error version_conflict(std::string_view gun, std::string_view role, std::int64_t attempted,
                       std::int64_t stored) {
  return Error{Fault::user, "version",
               std::string(role) + " v" + std::to_string(attempted) + " of " + std::string(gun) +
                   " is not newer than the stored v" + std::to_string(stored) +
                   " (another publish may have won the race: fetch and retry)"};
}

Result<std::unique_ptr<Storage>> open_storage(const std::string& url, const StorageOptions& o) {
  std::string_view u = url;
  if (u.starts_with("sqlite://")) return open_sqlite_storage(std::string(u.substr(9)), o);
  if (u.starts_with("sqlite:")) return open_sqlite_storage(std::string(u.substr(7)), o);
  if (u.starts_with("postgres://") || u.starts_with("postgresql://"))
    return open_postgres_storage(url, o);
  // The URL is quoted without the password of a "scheme://user:password@host" form.
  std::string shown = url;
  if (auto scheme = shown.find("://"); scheme != std::string::npos) {
    const auto at = shown.find('@', scheme + 3);
    const auto colon = shown.find(':', scheme + 3);
    if (at != std::string::npos && colon < at)
      shown.replace(colon + 1, at - colon - 1, "<redacted>");
  }
  return make_error(
      Fault::user, "config",
      "storage URL '" + shown + "' is not sqlite:///path or postgres://user@host:port/db");
}

}  // namespace docket::trustserver
