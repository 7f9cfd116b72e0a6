#include "cli/command.h"

int main(int argc, char** argv) {
  return docket::cli::run_main("docket-server", "docket-server: OCI registry, trust server and signer",
                               argc, argv);
}
