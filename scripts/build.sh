#!/usr/bin/env bash
# Configures and builds docket. BUILD_DIR (default build) and extra cmake args may be given:
#   scripts/build.sh                      release-ish build in build/
#   BUILD_DIR=build-asan scripts/build.sh -DDOCKET_SANITIZE=ON
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
# Paths relative to the checkout, so a fresh clone elsewhere (as CI makes) hits the cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
cmake -S . -B "$BUILD_DIR" -G Ninja "$@" >/dev/null
# Two cores here: more jobs than that only adds memory pressure.
cmake --build "$BUILD_DIR" -- -j"${JOBS:-$(nproc)}"
