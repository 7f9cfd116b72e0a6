#!/usr/bin/env bash
# Installs everything (build deps and real peers), builds, and runs the whole test suite:
# unit, integration and interop tests, through ctest. Extra args go to ctest, e.g.
#   scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --peers
bash scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 -j2 "$@"
