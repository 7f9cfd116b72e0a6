#include "cli/command.h"

int main(int argc, char** argv) {
  return docket::cli::run_main("docket", "docket: registry client with content trust", argc, argv);
}
