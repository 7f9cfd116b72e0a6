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
#   GET targets.json with 1,000 targets       wrk, on the repository each server was published to
# BENCH_ONLY=publish skips the GET rows (BENCH_ONLY=get skips the publish rows).
# Beside each throughput figure: the server's own CPU time per request (user+system from
# /proc/PID/stat over the wrk run, in microseconds) for both servers, and wrk's. wrk shares
# the machine's cores with the server under test, so requests/s is bounded by wrk's own cost
# per request as much as by the server's; CPU per request is the server's cost alone and
# moves much less with load from other processes.
# notary-server runs with its memory store (its SQL stores need a separate database server;
# sqlite3 is not compiled into Debian's binary); docket runs with its default SQLite store,
# durable (WAL, synchronous=FULL: every publish waits for an fsync), so the comparison
# favours notary-server. The "tmpfs" publish rows run a second docket-server whose SQLite
# file is on /dev/shm (fsync costs nothing there): neither side touches a disk, which
# compares the processing alone. Those rows are NOT durable and are not the headline.
#
# Second pairing, same run: notary-server on PostgreSQL (its production store) against
# docket-server trust on PostgreSQL, both on one PostgreSQL cluster the script starts on
# loopback in a temporary directory (Debian's /usr/lib/postgresql/<N>/bin, default durable
# settings: fsync and synchronous_commit on), separate databases. notary-server's schema is
# created by the script (notary-server does not create it); docket creates its own. docket
# serves from its cache there while its LISTEN/NOTIFY change watch is connected
# (docs/trust-server.md). Every row names each side's store.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
DURATION=${DURATION:-8}
REPEATS=${REPEATS:-5}
for bin in notary-server wrk openssl curl python3 psql; do
  command -v "$bin" >/dev/null || { echo "trust.sh: $bin is not installed (scripts/install-deps.sh --peers)"; exit 1; }
done
DOCKET="$BUILD/cli/docket-server"
PUBLISH="$BUILD/bench/trust_publish_bench"
[[ -x "$DOCKET" && -x "$PUBLISH" ]] || { echo "trust.sh: build docket-server and trust_publish_bench first"; exit 1; }

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$PGBIN/initdb" ]] || { echo "trust.sh: PostgreSQL is not installed (scripts/install-deps.sh --peers)"; exit 1; }

T=$(mktemp -d /tmp/docket-trust-bench.XXXXXX)
PIDS=()
PGDIR=
PGAS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ -n "$PGDIR" && -f "$PGDIR/data/postmaster.pid" ]]; then
    "${PGAS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$T" "${SHM:-/nonexistent}" "${PGDIR:-/nonexistent}"
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

# PostgreSQL: one cluster on loopback, trust auth, owned by `postgres` when run as root
# (PostgreSQL refuses to run as root), like trustserver/testing/postgres.cpp.
PGDIR=$(mktemp -d /tmp/docket-trust-bench-pg.XXXXXX)
if [[ $(id -u) == 0 ]]; then chown postgres: "$PGDIR"; PGAS=(runuser -u postgres --); fi
"${PGAS[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 >"$PGDIR/initdb.log" 2>&1
PGPORT=$(free_port)
"${PGAS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDIR -c max_connections=200" start >/dev/null
pg() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres "$@"; }
pg -d postgres -c 'CREATE DATABASE notary_server' -c 'CREATE DATABASE docket_trust'
# notary-server 0.7's tables (server/storage/sql_models.go: TUFFile with gorm.Model's
# id/created_at/updated_at/deleted_at, Change, the change_category lookup), written from the
# model: notary-server reads and writes them but never creates them.
pg -d notary_server <<'SQL'
CREATE TABLE tuf_files (
  id SERIAL PRIMARY KEY,
  created_at TIMESTAMP NULL,
  updated_at TIMESTAMP NULL,
  deleted_at TIMESTAMP NULL,
  gun VARCHAR(255) NOT NULL,
  role VARCHAR(255) NOT NULL,
  version INTEGER NOT NULL,
  data BYTEA NOT NULL,
  sha256 CHAR(64) NULL,
  UNIQUE (gun, role, version)
);
CREATE INDEX tuf_files_by_sha256 ON tuf_files (sha256);
CREATE TABLE change_category (category VARCHAR(20) PRIMARY KEY);
INSERT INTO change_category (category) VALUES ('update'), ('deletion');
CREATE TABLE changefeed (
  id SERIAL PRIMARY KEY,
  created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
  gun VARCHAR(255) NOT NULL,
  version INTEGER NOT NULL,
  sha256 CHAR(64) NULL,
  category VARCHAR(20) NOT NULL DEFAULT 'update' REFERENCES change_category (category)
);
CREATE INDEX changefeed_by_gun ON changefeed (gun);
SQL

NPORT=$(free_port)
SHM=
cat >"$T/notary-server.json" <<EOF
{"server":{"http_addr":"127.0.0.1:$NPORT","tls_cert_file":"$T/server.crt","tls_key_file":"$T/server.key"},
 "trust_service":{"type":"local","key_algorithm":"ed25519"},
 "logging":{"level":"error"},"storage":{"backend":"memory"}}
EOF
notary-server -config "$T/notary-server.json" >"$T/notary-server.log" 2>&1 &
PIDS+=($!)
NPID=$!
DPORT=$(free_port)
DOCKET_SIGNER_PASSPHRASE_DEFAULT=bench-pass DOCKET_LOG_ACCESSLOG_ENABLED=false "$DOCKET" trust --addr "127.0.0.1:$DPORT" --data "$T/data" \
  --tls-cert "$T/server.crt" --tls-key "$T/server.key" --storage "sqlite://$T/trust.db" \
  --signer-dir "$T/signer" --log-level error >"$T/docket.log" 2>&1 &
PIDS+=($!)
DPID=$!
SHM=$(mktemp -d /dev/shm/docket-trust-bench.XXXXXX)
MPORT=$(free_port)
DOCKET_SIGNER_PASSPHRASE_DEFAULT=bench-pass DOCKET_LOG_ACCESSLOG_ENABLED=false "$DOCKET" trust --addr "127.0.0.1:$MPORT" --data "$SHM/data" \
  --tls-cert "$T/server.crt" --tls-key "$T/server.key" --storage "sqlite://$SHM/trust.db" \
  --signer-dir "$SHM/signer" --log-level error >"$T/docket-tmpfs.log" 2>&1 &
PIDS+=($!)
NPPORT=$(free_port)
cat >"$T/notary-server-pg.json" <<EOF
{"server":{"http_addr":"127.0.0.1:$NPPORT","tls_cert_file":"$T/server.crt","tls_key_file":"$T/server.key"},
 "trust_service":{"type":"local","key_algorithm":"ed25519"},
 "logging":{"level":"error"},
 "storage":{"backend":"postgres","db_url":"postgres://postgres@127.0.0.1:$PGPORT/notary_server?sslmode=disable"}}
EOF
notary-server -config "$T/notary-server-pg.json" >"$T/notary-server-pg.log" 2>&1 &
PIDS+=($!)
NPPID=$!
DPPORT=$(free_port)
DOCKET_SIGNER_PASSPHRASE_DEFAULT=bench-pass DOCKET_LOG_ACCESSLOG_ENABLED=false "$DOCKET" trust --addr "127.0.0.1:$DPPORT" --data "$T/data-pg" \
  --tls-cert "$T/server.crt" --tls-key "$T/server.key" --storage "postgresql://postgres@127.0.0.1:$PGPORT/docket_trust" \
  --signer-dir "$T/signer-pg" --log-level error >"$T/docket-pg.log" 2>&1 &
PIDS+=($!)
DPPID=$!
for p in "$NPORT" "$DPORT" "$MPORT" "$NPPORT" "$DPPORT"; do wait_port "$p"; done

# The same repository on both: notary init + one target, published.
GUN=localhost:4443/bench/app
echo "hello" >"$T/target.txt"
for side in n d np dp; do
  case $side in n) port=$NPORT ;; d) port=$DPORT ;; np) port=$NPPORT ;; dp) port=$DPPORT ;; esac
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
# Both PostgreSQL-backed servers really store in PostgreSQL and serve what they stored.
for db in notary_server docket_trust; do
  rows=$(pg -d "$db" -tA -c "SELECT count(*) FROM tuf_files WHERE gun = '$GUN'")
  feed=$(pg -d "$db" -tA -c "SELECT count(*) FROM changefeed WHERE gun = '$GUN'")
  [[ $rows -gt 0 && $feed -gt 0 ]] || { echo "trust.sh: nothing stored in PostgreSQL database $db"; exit 1; }
  echo "PostgreSQL database $db: $rows metadata rows, $feed changefeed records for $GUN"
done
for port in "$NPPORT" "$DPPORT"; do
  curl -sf --cacert "$T/ca.crt" "https://127.0.0.1:$port/v2/$GUN/_trust/tuf/targets.json" | grep -q '"h5"' \
    || { echo "trust.sh: server on $port does not serve the published targets"; exit 1; }
done

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# run_wrk URL SERVER_PID -> "req/s server_µs_per_request wrk_µs_per_request"
run_wrk() {
  local t0 t1 out
  t0=$(cpu_ticks "$2")
  if [[ -x /usr/bin/time ]]; then
    out=$(/usr/bin/time -f 'WRKCPU %U %S' wrk -t2 -c32 -d"${DURATION}s" "$1" 2>&1)
  else
    out=$(wrk -t2 -c32 -d"${DURATION}s" "$1" 2>&1)
  fi
  t1=$(cpu_ticks "$2")
  python3 - "$out" "$t0" "$t1" "$(getconf CLK_TCK)" <<'PY'
import re, sys
out, t0, t1, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rps = re.search(r"Requests/sec:\s*([0-9.]+)", out)
n = re.search(r"(\d+) requests in", out)
w = re.search(r"WRKCPU ([0-9.]+) ([0-9.]+)", out)
if not (rps and n and int(n.group(1)) > 0):
    print("0 n/a n/a"); sys.exit()
reqs = int(n.group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
if bad:  # a figure made of error responses is no figure
    print(f"trust.sh: {bad.group(1)} of {reqs} responses were errors", file=sys.stderr)
    print("0 n/a n/a"); sys.exit()
server = (t1 - t0) / hz * 1e6 / reqs
wrk = (float(w.group(1)) + float(w.group(2))) * 1e6 / reqs if w else float("nan")
print(f"{float(rps.group(1)):.0f} {server:.1f} {wrk:.1f}")
PY
}
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.1f}x' if b>0 else 'n/a')" "$1" "$2" 2>/dev/null || echo n/a; }
row() {  # name docket notary ratio [docket-cpu notary-cpu cpu-ratio wrk-d wrk-n]
  printf '%-62s %11s %11s %7s | %9s %9s %7s | %7s %7s\n' "$@"
}
echo "wrk -t2 -c32 -d${DURATION}s over TLS; cpu = server CPU (user+sys) per request, µs; wrk = wrk's own CPU per request, µs"
row "measure" "docket" "notary" "ratio" "cpu dkt" "cpu ntry" "ratio" "wrk dkt" "wrk ntry"
get_row() {  # name path docket-port docket-pid notary-port notary-pid
  read -r d dc dw < <(run_wrk "https://127.0.0.1:$3$2" "$4")
  read -r n nc nw < <(run_wrk "https://127.0.0.1:$5$2" "$6")
  row "$1" "$d" "$n" "$(ratio "$d" "$n")" "$dc" "$nc" "$(ratio "$nc" "$dc")" "$dw" "$nw"
}
MEM="[docket sqlite | notary memory]"
PG="[docket postgres | notary postgres]"
BENCH_ONLY=${BENCH_ONLY:-}
[[ -z $BENCH_ONLY || $BENCH_ONLY == publish || $BENCH_ONLY == get ]] \
  || { echo "trust.sh: BENCH_ONLY is publish, get or unset"; exit 1; }
for pair in mem pg; do
  [[ $BENCH_ONLY == publish ]] && break
  if [[ $pair == mem ]]; then args=("$DPORT" "$DPID" "$NPORT" "$NPID"); label=$MEM
  else args=("$DPPORT" "$DPPID" "$NPPORT" "$NPPID"); label=$PG; fi
  for role in root targets snapshot timestamp; do
    get_row "GET $role.json (req/s) $label" "/v2/$GUN/_trust/tuf/$role.json" "${args[@]}"
  done
  get_row "GET changefeed (req/s) $label" "/v2/_trust/changefeed?records=100&change_id=0" "${args[@]}"
done
# Sets PUBLISHED_GUN to the repository the run published to (its targets.json then lists
# the last publish's N targets).
publish_ms() {
  local out; out=$("$PUBLISH" "https://127.0.0.1:$1" "$T/ca.crt" localhost:4443/bench "$2" "$REPEATS")
  PUBLISHED_GUN=$(sed -n 's/.* gun=\([^ ]*\).*/\1/p' <<<"$out")
  sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p' <<<"$out"
}
[[ $BENCH_ONLY == get ]] && exit 0
for count in 1000 10000; do
  publish_ms "$DPORT" "$count" >"$T/ms"; d=$(<"$T/ms"); dgun=$PUBLISHED_GUN
  publish_ms "$NPORT" "$count" >"$T/ms"; n=$(<"$T/ms"); ngun=$PUBLISHED_GUN
  row "publish $count targets (ms) $MEM" "$d" "$n" "$(ratio "$n" "$d")"
  if [[ $count == 1000 ]]; then
    # A large targets.json (what a repository with 1,000 tags serves), each server's own.
    read -r d dc dw < <(run_wrk "https://127.0.0.1:$DPORT/v2/$dgun/_trust/tuf/targets.json" "$DPID")
    read -r n nc nw < <(run_wrk "https://127.0.0.1:$NPORT/v2/$ngun/_trust/tuf/targets.json" "$NPID")
    row "GET targets.json, 1,000 targets (req/s) $MEM" "$d" "$n" "$(ratio "$d" "$n")" "$dc" "$nc" "$(ratio "$nc" "$dc")" "$dw" "$nw"
  fi
done
for count in 1000 10000; do
  m=$(publish_ms "$MPORT" "$count")
  n=$(publish_ms "$NPORT" "$count")
  row "publish $count (ms) [docket sqlite on tmpfs | notary memory]" "$m" "$n" "$(ratio "$n" "$m")"
done
for count in 1000 10000; do
  d=$(publish_ms "$DPPORT" "$count")
  n=$(publish_ms "$NPPORT" "$count")
  row "publish $count targets (ms) $PG" "$d" "$n" "$(ratio "$n" "$d")"
done
echo "(ratio: docket's advantage; for publish and cpu, notary-server's figure / docket's)"
