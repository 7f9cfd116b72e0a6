// `docket trust lookup` starts OpenSSL's one-time set-up (net/tls_warmup.h) before main(),
// so that it runs on a second core while the CLI is built and parsed and the trust
// directory read, instead of on the lookup's path once the first connection is made.
#include <cstring>

#include "net/tls_warmup.h"

namespace {

// Whether the command line names `trust lookup` (global options may come first). A false
// positive costs only the warm-up's CPU.
bool is_trust_lookup(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] && argv[i + 1] && std::strcmp(argv[i], "trust") == 0 &&
        std::strcmp(argv[i + 1], "lookup") == 0)
      return true;
  return false;
}

// glibc calls ELF constructors with main's arguments; this one runs before the static
// initialisers that build nothing it needs.
__attribute__((constructor(101))) void start_trust_lookup_tls_warm_up(int argc, char** argv,
                                                                      char**) {
  if (argc >= 3 && argv && is_trust_lookup(argc, argv)) docket::net::start_tls_warm_up();
}

}  // namespace
