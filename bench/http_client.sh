#!/usr/bin/env bash
# Download throughput: docket's HTTP client (net::HttpClient) beside curl, fetching the same
# blob from the same loopback server (python3 -m http.server) in one run; best of N.
#   bench/http_client.sh [build-dir] [MiB] [repetitions]     (default build, 256, 3)
# Build first: ninja -C build http_client_bench
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
mib="${2:-256}"
reps="${3:-3}"
bench="$build/bench/http_client_bench"
[[ -x "$bench" ]] || { echo "missing $bench: run ninja -C $build http_client_bench" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl not found" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 1; }

dir="$(mktemp -d)"
server_pid=""
cleanup() { [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
head -c "$((mib * 1024 * 1024))" /dev/urandom >"$dir/blob"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir" >"$dir/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.1
done
url="http://127.0.0.1:$port/blob"

best_curl() {  # $1: shell pipeline suffix
  local best=0
  for _ in $(seq "$reps"); do
    local t0 t1
    t0="$(date +%s.%N)"
    eval "curl -s --fail \"$url\" $1"
    t1="$(date +%s.%N)"
    best="$(awk -v b="$best" -v m="$mib" -v s="$(echo "$t1 - $t0" | bc -l)" 'BEGIN { r = m / s; print (r > b ? r : b) }')"
  done
  printf '%.1f' "$best"
}

echo "fetching a ${mib} MiB blob, best of ${reps}..." >&2
ours="$("$bench" "$url" "$reps")"
curl_plain="$(best_curl '>/dev/null')"
curl_hash="$(best_curl '| sha256sum >/dev/null')"

ours_plain="$(awk '$1 == "download" { print $2 }' <<<"$ours")"
ours_hash="$(awk '$1 == "download_sha256" { print $2 }' <<<"$ours")"
printf '%-28s %14s %14s\n' "measurement (MiB/s)" "docket" "curl"
printf '%-28s %14s %14s\n' "download, discard" "$ours_plain" "$curl_plain"
printf '%-28s %14s %14s\n' "download + sha256" "$ours_hash" "$curl_hash (| sha256sum)"
