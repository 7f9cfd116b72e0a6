#!/usr/bin/env bash
# The unit tests alone under ASan+UBSan (a quick check while developing; scripts/test.sh
# runs the whole suite in the same sanitized build).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
BUILD_DIR=build-asan bash scripts/build.sh -DDOCKET_SANITIZE=ON -DDOCKET_BENCH=OFF
source scripts/sanitizer-env.sh
cd build-asan
ctest --output-on-failure -L unit -j2 "$@"
