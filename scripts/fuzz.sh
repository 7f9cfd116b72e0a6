#!/usr/bin/env bash
# Builds the libFuzzer targets in build-fuzz with clang (ASan+UBSan) and runs each for a
# bounded time. Exits non-zero if any target finds a crash, leak or timeout.
#   scripts/fuzz.sh                 # every fuzz/*_fuzz.cpp, FUZZ_SECONDS (default 20) each
#   FUZZ_SECONDS=60 scripts/fuzz.sh tuf_metadata_fuzz
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${FUZZ_SECONDS:-20}
build=${FUZZ_BUILD_DIR:-build-fuzz}
shared=${DOCKET_SHARED_DIR:-$root/../shared}

# Clang >= 16 is needed: docket's Result<T> is std::expected, whose libstdc++ 12 header needs
# conditionally trivial destructors (P0848), which clang 14 (Debian 12's default) lacks.
if [[ -z ${CXX:-} ]]; then
  for v in 19 18 17 16; do
    if command -v "clang++-$v" >/dev/null; then CC=clang-$v CXX=clang++-$v; break; fi
  done
  if [[ -z ${CXX:-} ]]; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
      echo "== installing clang-16 (Debian package) for the fuzz build"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang-16 libclang-rt-16-dev >/dev/null
      CC=clang-16 CXX=clang++-16
    else
      echo "scripts/fuzz.sh needs clang >= 16 (apt-get install clang-16 libclang-rt-16-dev)" >&2
      exit 1
    fi
  fi
fi
export CC CXX
# libstdc++ 12's <expected> is gated on __cpp_concepts >= 202002L, which clang 16 does not
# advertise although it compiles the header; raising the macro makes std::expected usable.
# Tests stay configured (never built here) because some folders add dependencies on them.
flags="-U__cpp_concepts -D__cpp_concepts=202002L"
CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S . -B "$build" -G Ninja -DDOCKET_FUZZ=ON -DDOCKET_TESTS=ON \
  -DDOCKET_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="$flags" \
  -DDOCKET_SHARED_DIR="$shared" >/dev/null

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for f in fuzz/*_fuzz.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi
ninja -C "$build" -j2 "${targets[@]}"

status=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  seeds=()
  [[ -d fuzz/seeds/$t ]] && seeds+=("fuzz/seeds/$t")
  # Real metadata as seeds for the metadata parsers.
  if [[ $t == tuf_metadata_fuzz || $t == canonical_json_fuzz || $t == fast_json_fuzz ]] && [[ -d $shared/notary/samples ]]; then
    mkdir -p "$build/seeds/$t"
    cp "$shared"/notary/samples/*/*.json "$build/seeds/$t/" 2>/dev/null || true
    seeds+=("$build/seeds/$t")
  fi
  echo "== $t (${seconds}s)"
  if ! "$build/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$build/$t-" "$corpus" "${seeds[@]}" 2>"$build/$t.log"; then
    echo "!! $t failed; see $build/$t.log and $build/$t-* artifacts"
    tail -40 "$build/$t.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|Done" "$build/$t.log" | tail -2 || true
  fi
done
exit $status
