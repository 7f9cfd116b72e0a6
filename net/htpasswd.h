// htpasswd files with bcrypt hashes (the format Docker's registry and `htpasswd -B` use) and
// bcrypt itself (libxcrypt's crypt_r; $2y$, $2b$ and $2a$ are accepted).
//
// File format: one "user:hash" per line; blank lines and lines starting with '#' are
// ignored; CRLF line ends are accepted. Only bcrypt hashes are accepted: the other htpasswd
// formats (MD5 "$apr1$", SHA-1 "{SHA}", DES crypt, plain text) are weak and rejected with an
// error naming the line and user. Duplicate users are an error. Error messages never contain
// hashes or passwords.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace docket::net {

// htpasswd -B's default is 5; docket uses 10 (about 50-100 ms a verification), as Go's
// bcrypt.DefaultCost.
inline constexpr unsigned kDefaultBcryptCost = 10;
inline constexpr unsigned kMinBcryptCost = 4;
inline constexpr unsigned kMaxBcryptCost = 31;
// bcrypt only looks at the first 72 bytes; longer passwords are refused when hashing.
inline constexpr std::size_t kMaxBcryptPasswordBytes = 72;
inline constexpr std::size_t kMaxHtpasswdBytes = 4 * 1024 * 1024;

// "$2y$<cost>$<53 chars>"; Error{user, "usage"} for a password over 72 bytes or holding NUL,
// or a cost outside [4, 31].
Result<std::string> bcrypt_hash(std::string_view password, unsigned cost = kDefaultBcryptCost);
// Constant-time comparison of the recomputed hash; false for malformed hashes.
bool bcrypt_verify(std::string_view password, std::string_view hash);
// Syntax check only: "$2a$|$2b$|$2y$", two-digit cost, 53 characters of bcrypt base64.
bool is_bcrypt_hash(std::string_view hash);

class Htpasswd {
 public:
  // `source` names the file in errors. Errors: Error{user, "config"}.
  static Result<Htpasswd> parse(std::string_view text, std::string_view source = "htpasswd");
  // Reads (under kMaxHtpasswdBytes) and parses.
  static Result<Htpasswd> load(const std::filesystem::path& path);

  // False for unknown users too; an unknown user still costs one bcrypt run so response
  // times do not tell which user names exist.
  bool verify(std::string_view user, std::string_view password) const;
  bool has_user(std::string_view user) const;
  std::optional<std::string> hash_of(std::string_view user) const;
  std::vector<std::string> users() const;  // in file order
  std::size_t size() const { return order_.size(); }

  // Adds or replaces a user (hashing `password`); user names may not be empty or contain
  // ':' or control characters.
  Status set_password(std::string_view user, std::string_view password,
                      unsigned cost = kDefaultBcryptCost);
  bool remove(std::string_view user);
  // File text, users in order, "\n" line ends.
  std::string serialize() const;

 private:
  std::map<std::string, std::string, std::less<>> hashes_;
  std::vector<std::string> order_;
};

}  // namespace docket::net
