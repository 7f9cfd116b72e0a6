#!/usr/bin/env bash
# docket pull vs unverified transfer vs skopeo copy, against docker-registry on loopback.
# Usage: bench/client_pull.sh [runs]   (build first: ninja -C build client_pull_bench)
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${BUILD_DIR:-build}/bench/client_pull_bench" "${1:-3}"
