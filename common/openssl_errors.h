// OpenSSL's per-thread error queue as text, for error messages.
#pragma once

#include <string>

namespace docket {

// The reasons OpenSSL queued on this thread, oldest first, joined with "; " ("" when there
// are none). The queue is left empty, so the next operation starts clean.
std::string take_openssl_errors();

}  // namespace docket
