// OpenSSL's per-thread error queue as text, for error messages.
#pragma once

#include <string>

namespace docket {

// The reasons OpenSSL queued on this thread, oldest first, joined with "; " ("" when there
// are none). The queue is left empty, so the next operation starts clean.
std::string take_openssl_errors();

// One queued error code as OpenSSL's text ("error:0A000086:SSL routines::certificate
// verify failed").
std::string openssl_error_string(unsigned long code);

// For a process that initialised OpenSSL without its error strings (OPENSSL_INIT_NO_LOAD_*:
// loading the ~3,500 strings is ~0.2 ms of a short command's start-up, spent for nothing
// when no error happens): `load` loads every one of them, and the first error text made by
// the functions above runs it, once, so messages read exactly as if they had been loaded at
// start-up. Call it before initialising OpenSSL that way. Without it, OpenSSL's own
// initialisation loaded them and nothing is deferred.
void defer_openssl_error_strings(void (*load)()) noexcept;

}  // namespace docket
