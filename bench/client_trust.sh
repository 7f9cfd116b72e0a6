#!/usr/bin/env bash
# Verified pull vs unverified pull vs skopeo copy, and a cold trust lookup among 1,000 signed
# tags vs `notary lookup`, against `docket-server serve` on loopback (HTTPS), trust data
# written by Debian's notary CLI. See bench/client_trust_bench.cpp for what each column is.
#
#   bench/client_trust.sh [runs] [tags]
#   (build first: ninja -C build docket-server client_trust_bench; cmake -DDOCKET_BENCH=ON)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
exec "$BUILD/bench/client_trust_bench" "$BUILD" "${1:-3}" "${2:-1000}"
