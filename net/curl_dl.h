// libcurl loaded on demand (net/curl_dl.cpp): internal to net/.
#pragma once

#include "common/error.h"

namespace docket::net::detail {

// Loads libcurl.so.4 if it is not loaded yet. Error{local, "missing_library"} naming dlopen's
// reason when it cannot be loaded.
Status curl_library_status();

// Whether libcurl is mapped into this process (tests: a path that must not load it).
bool curl_library_loaded_in_process();

}  // namespace docket::net::detail
