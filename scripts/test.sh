#!/usr/bin/env bash
# Installs everything (build deps and real peers), builds, and runs the whole test suite:
# unit, integration and interop tests, through ctest. Extra args go to ctest, e.g.
#   scripts/test.sh -L unit
#
# The suite runs in an AddressSanitizer + UndefinedBehaviorSanitizer build (build-asan/), so
# every test, the servers and CLIs the integration tests start included, runs sanitized, and
# CI needs one build instead of two. DOCKET_TEST_SANITIZE=0 runs it in the plain build/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --peers
if [[ ${DOCKET_TEST_SANITIZE:-1} != 0 ]]; then
  export BUILD_DIR=${BUILD_DIR:-build-asan}
  bash scripts/build.sh -DDOCKET_SANITIZE=ON -DDOCKET_BENCH=OFF
  source scripts/sanitizer-env.sh
else
  export BUILD_DIR=${BUILD_DIR:-build}
  bash scripts/build.sh
fi
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 600 -j2 "$@"
