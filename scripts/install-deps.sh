#!/usr/bin/env bash
# Installs every Debian 12 package docket needs to build, test and benchmark.
# Idempotent: packages already present are skipped; `apt-get update` runs at most once.
#   scripts/install-deps.sh           build + unit-test dependencies
#   scripts/install-deps.sh --peers   also the real peers used by interop tests and benches
#                                     (notary, skopeo, podman, docker-registry, PostgreSQL, wrk,
#                                     nginx for the registry bench)
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build ccache pkg-config git clang-format
  clang-16 libclang-rt-16-dev
  libssl-dev libsodium-dev nlohmann-json3-dev libcurl4-openssl-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libboost-dev libsqlite3-dev libpq-dev
  libyaml-cpp-dev openssl curl ca-certificates faketime python3
  zlib1g-dev
)
PEER_PKGS=(
  notary skopeo podman docker-registry postgresql apache2-utils wrk hyperfine
  uidmap fuse-overlayfs nginx-light
)

want=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--peers" ]]; then want+=("${PEER_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
# Installing the postgresql package must not leave a cluster running on 5432 that the tests
# did not ask for; policy-rc.d stops invoke-rc.d from starting services during the install.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
