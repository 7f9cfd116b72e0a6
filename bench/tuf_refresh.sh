#!/usr/bin/env bash
# TUF client refresh benchmark: docket's figures for 1k/10k/100k targets (in memory, cold and
# warm), then docket beside the real peer, Notary's `notary list`, on the same Notary-dialect
# repository served the same way (python3 http.server on loopback, notary-server's URL layout).
#   bench/tuf_refresh.sh                 # SIZES=1000,10000,100000 REPEAT=3
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
sizes=${SIZES:-1000,10000,100000}
repeat=${REPEAT:-3}
ninja -C "$build" tuf_refresh_bench >/dev/null
bench=$build/bench/tuf_refresh_bench

echo "== docket, in-memory repository (client cost only)"
"$bench" --sizes "$sizes" --repeat "$repeat"

if ! command -v notary >/dev/null; then
  echo "== peer: notary is not installed (scripts/install-deps.sh --peers); skipping the comparison"
  exit 0
fi

tmp=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

elapsed_ms() { python3 -c "import sys; print(f'{(float(sys.argv[2])-float(sys.argv[1]))*1000:.2f}')" "$1" "$2"; }

gun=docket/bench
echo "== docket vs notary list, same Notary repository over HTTP (python3 http.server, loopback)"
for n in ${sizes//,/ }; do
  srv=$tmp/srv-$n
  "$bench" --write-notary "$srv" --gun "$gun" --targets "$n"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  python3 -m http.server --bind 127.0.0.1 "$port" --directory "$srv" >/dev/null 2>&1 &
  server_pid=$!
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
  echo "-- $n targets"
  "$bench" --http "http://127.0.0.1:$port/v2/$gun/_trust/tuf/" --root "$srv/root.json" \
    --target "v$((n / 2))" --repeat "$repeat"
  trust=$tmp/trust-$n
  for run in cold warm; do
    [[ $run == cold ]] && rm -rf "$trust"
    t0=$(date +%s.%N)
    if ! notary -s "http://127.0.0.1:$port" -d "$trust" list "$gun" >"$tmp/notary.out" 2>&1; then
      echo "notary $run failed:"; tail -5 "$tmp/notary.out"; break
    fi
    t1=$(date +%s.%N)
    echo "notary $run $(elapsed_ms "$t0" "$t1") ms ($(grep -c '^v' "$tmp/notary.out" || true) targets listed; process start included)"
  done
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
done
