// The one error taxonomy of docket (docs/errors.md). Every error says what is wrong and
// whose fault it is, so a user can tell "the server sent bad data" from "my disk is full"
// from "I typed the wrong flag" from "docket has a bug".
#pragma once

#include <exception>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace docket {

enum class Fault {
  remote,  // a server, repository or peer sent something wrong (bad signature, 500, bad JSON)
  local,   // local state is wrong or unusable (corrupt cache, disk full, missing key file)
  user,    // the invocation or configuration is wrong (bad flag, bad reference, no passphrase)
  bug,     // an invariant of docket's own code broke
};

std::string_view fault_name(Fault f);

// code: a short stable machine-readable slug (e.g. "bad_signature", "expired", "rollback",
// "hash_mismatch", "malformed_json", "not_found", "io", "usage"); docs/errors.md lists them.
struct Error {
  Fault fault = Fault::bug;
  std::string code;
  std::string message;

  // "remote error (bad_signature): targets v3: threshold 1 of 2 not met"
  std::string describe() const;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> make_error(Fault f, std::string code, std::string message) {
  return std::unexpected<Error>(Error{f, std::move(code), std::move(message)});
}

// For code paths where unwinding is clearer than threading Result (CLI glue, servers):
// carries an Error; catch sites convert back with .error().
class Exception : public std::exception {
 public:
  explicit Exception(Error e) : err_(std::move(e)), what_(err_.describe()) {}
  Exception(Fault f, std::string code, std::string message)
      : Exception(Error{f, std::move(code), std::move(message)}) {}
  const Error& error() const noexcept { return err_; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  Error err_;
  std::string what_;
};

[[noreturn]] inline void raise(Error e) { throw Exception(std::move(e)); }
[[noreturn]] inline void raise(Fault f, std::string code, std::string message) {
  throw Exception(f, std::move(code), std::move(message));
}

// Unwraps a Result, throwing its Error as an Exception.
template <class T>
T value_or_raise(Result<T> r) {
  if (!r) raise(std::move(r.error()));
  return std::move(*r);
}
inline void value_or_raise(Status s) {
  if (!s) raise(std::move(s.error()));
}

// Prefixes context onto an error's message ("fetching timestamp.json: " + message).
inline Error with_context(Error e, std::string_view context) {
  e.message = std::string(context) + ": " + e.message;
  return e;
}

}  // namespace docket
