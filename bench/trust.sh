#!/usr/bin/env bash
# Trust server benchmark: docket-server trust and Debian's notary-server side by side, in
# one run, on loopback over TLS. Prints each figure for both and the ratio.
#
#   bench/trust.sh [BUILD_DIR]        (default: build)
#
# Measures (each against a repository initialised the same way on both servers):
#   GET root/targets/snapshot/timestamp.json  wrk -t2 -c32 -d${DURATION:-8}s, requests/s
#   GET the global changefeed (records=100)   wrk, requests/s
#   publish of 1,000 and 10,000 targets       trust_publish_bench, median of ${REPEATS:-5} ms
# notary-server runs with its memory store (its SQL stores need a separate database server;
# sqlite3 is not compiled into Debian's binary); docket runs with its default SQLite store,
# durable (WAL, synchronous=FULL), so the comparison favours notary-server.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
DURATION=${DURATION:-8}
REPEATS=${REPEATS:-5}
for bin in notary-server wrk openssl curl; do
  command -v "$bin" >/dev/null || { echo "trust.sh: $bin is not installed (scripts/install-deps.sh --peers)"; exit 1; }
done
DOCKET="$BUILD/cli/docket-server"
PUBLISH="$BUILD/bench/trust_publish_bench"
[[ -x "$DOCKET" && -x "$PUBLISH" ]] || { echo "trust.sh: build docket-server and trust_publish_bench first"; exit 1; }

T=$(mktemp -d /tmp/docket-trust-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do curl -s -o /dev/null --cacert "$T/ca.crt" "https://127.0.0.1:$1/v2/" && return 0; sleep 0.05; done; echo "server on $1 did not start"; exit 1; }

# TLS: a CA and a server certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=bench-ca \
  -keyout "$T/ca.key" -out "$T/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
  -keyout "$T/server.key" -out "$T/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$T/ext.cnf"
openssl x509 -req -in "$T/server.csr" -CA "$T/ca.crt" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
  -extfile "$T/ext.cnf" -out "$T/server.crt" 2>/dev/null

NPORT=$(free_port)
cat >"$T/notary-server.json" <<EOF
{"server":{"http_addr":"127.0.0.1:$NPORT","tls_cert_file":"$T/server.crt","tls_key_file":"$T/server.key"},
 "trust_service":{"type":"local","key_algorithm":"ed25519"},
 "logging":{"level":"error"},"storage":{"backend":"memory"}}
EOF
notary-server -config "$T/notary-server.json" >"$T/notary-server.log" 2>&1 &
PIDS+=($!)
DPORT=$(free_port)
DOCKET_SIGNER_PASSPHRASE_DEFAULT=bench-pass DOCKET_LOG_ACCESSLOG_ENABLED=false "$DOCKET" trust --addr "127.0.0.1:$DPORT" --data "$T/data" \
  --tls-cert "$T/server.crt" --tls-key "$T/server.key" --storage "sqlite://$T/trust.db" \
  --signer-dir "$T/signer" --log-level error >"$T/docket.log" 2>&1 &
PIDS+=($!)
wait_port "$NPORT"
wait_port "$DPORT"

# The same repository on both: notary init + one target, published.
GUN=localhost:4443/bench/app
echo "hello" >"$T/target.txt"
for side in n d; do
  port=$NPORT; [[ $side == d ]] && port=$DPORT
  cat >"$T/client-$side.json" <<EOF
{"trust_dir":"$T/trust-$side","remote_server":{"url":"https://127.0.0.1:$port","root_ca":"$T/ca.crt"}}
EOF
  export NOTARY_ROOT_PASSPHRASE=bench NOTARY_TARGETS_PASSPHRASE=bench NOTARY_SNAPSHOT_PASSPHRASE=bench
  notary -c "$T/client-$side.json" init "$GUN" -p >/dev/null
  notary -c "$T/client-$side.json" add "$GUN" v1 "$T/target.txt" -p >/dev/null
  # A few changefeed records.
  for i in 1 2 3 4 5; do notary -c "$T/client-$side.json" addhash "$GUN" "h$i" 3 --sha256 \
    ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad -p >/dev/null; done
done

rps() { wrk -t2 -c32 -d"${DURATION}s" "$1" 2>/dev/null | awk '/Requests\/sec/ {print $2}'; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.1f}x' if b>0 else 'n/a')" "$1" "$2"; }
printf '%-34s %14s %14s %8s\n' "measure" "docket" "notary-server" "ratio"
for role in root targets snapshot timestamp; do
  d=$(rps "https://127.0.0.1:$DPORT/v2/$GUN/_trust/tuf/$role.json")
  n=$(rps "https://127.0.0.1:$NPORT/v2/$GUN/_trust/tuf/$role.json")
  printf '%-34s %14s %14s %8s\n' "GET $role.json (req/s)" "$d" "$n" "$(ratio "$d" "$n")"
done
d=$(rps "https://127.0.0.1:$DPORT/v2/_trust/changefeed?records=100&change_id=0")
n=$(rps "https://127.0.0.1:$NPORT/v2/_trust/changefeed?records=100&change_id=0")
printf '%-34s %14s %14s %8s\n' "GET changefeed (req/s)" "$d" "$n" "$(ratio "$d" "$n")"
for count in 1000 10000; do
  d=$("$PUBLISH" "https://127.0.0.1:$DPORT" "$T/ca.crt" localhost:4443/bench "$count" "$REPEATS" | sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p')
  n=$("$PUBLISH" "https://127.0.0.1:$NPORT" "$T/ca.crt" localhost:4443/bench "$count" "$REPEATS" | sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p')
  printf '%-34s %14s %14s %8s\n' "publish $count targets (ms)" "$d" "$n" "$(ratio "$n" "$d")"
done
echo "(ratio: docket's advantage; for publish, notary-server's time / docket's time)"
