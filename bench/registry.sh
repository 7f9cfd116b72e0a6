#!/usr/bin/env bash
# Registry benchmark: docket-server registry beside Debian's docker-registry (distribution
# 2.8) and nginx (static files, sendfile) in one run, on loopback, plain HTTP.
#
#   bench/registry.sh [build-dir]      (default: build)
#
# Prints one table: figure for docket, for distribution, and the ratio. Needs wrk, curl,
# skopeo, python3, docker-registry; nginx and openssl columns are shown when installed.
# Peak RSS is VmHWM of each server process after all runs.
set -euo pipefail
BUILD=${1:-build}
BIN=$(realpath "$BUILD/cli/docket-server")
DUR=${BENCH_DURATION:-5}
RUNS=${BENCH_RUNS:-3}  # transfers and skopeo pushes: the median of this many runs
CONNS=${BENCH_CONNECTIONS:-32}
# BENCH_ROWS: the rows to run (space or comma separated; default all): mget bget tags cat
# (wrk), mono chunked big_get skbig skgz sk200 http200 (transfers), nofsync (the
# unsafe_skip_fsync server's mono/sk200 figures, when those rows run), nginx, sha.
ALL_ROWS="mget bget tags cat mono chunked big_get skbig skgz sk200 http200 nofsync nginx sha"
ROWS=" $(echo "${BENCH_ROWS:-$ALL_ROWS}" | tr ',' ' ') "
for r in $ROWS; do case " $ALL_ROWS " in *" $r "*) ;; *) echo "unknown BENCH_ROWS entry '$r' (known: $ALL_ROWS)" >&2; exit 2;; esac; done
want() { case "$ROWS" in *" $1 "*) return 0;; esac; return 1; }
WORK=$(mktemp -d /tmp/docket-bench.XXXXXX)
PIDS=()
cleanup() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    echo "bench failed (exit $rc); server logs:" >&2
    for f in docket.log distribution.log; do echo "== $f" >&2; tail -5 "$WORK/$f" >&2 2>/dev/null || true; done
  fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/v2/" && return 0; sleep 0.1; done; echo "server on $1 did not start" >&2; exit 1; }
now() { date +%s.%N; }

# ---- servers ----
DP=$(free_port); RP=$(free_port)
"$BIN" registry --addr 127.0.0.1:$DP --data "$WORK/docket-data" >"$WORK/docket.log" 2>&1 &
DPID=$!; PIDS+=($DPID)
cat >"$WORK/distribution.yml" <<YML
version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: $WORK/dist-data}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$RP}
YML
/usr/bin/docker-registry serve "$WORK/distribution.yml" >"$WORK/distribution.log" 2>&1 &
RPID=$!; PIDS+=($RPID)
# The same server without fsync (storage.filesystem.unsafe_skip_fsync), as distribution
# runs: shows how much of the upload time is the durability cost on this disk.
UP=$(free_port)
DOCKET_STORAGE_FILESYSTEM_UNSAFE_SKIP_FSYNC=true "$BIN" registry --addr 127.0.0.1:$UP --data "$WORK/docket-nofsync" >"$WORK/docket-nofsync.log" 2>&1 &
UPID=$!; PIDS+=($UPID)
wait_port $DP; wait_port $RP; wait_port $UP

# ---- fixtures ----
# layout.py: OCI layouts for skopeo (one 256 MiB layer; 200 x 4 KiB layers). Each run pushes
# fresh layers: skopeo remembers where it pushed a blob and would mount it from there
# instead of uploading again.
cat >"$WORK/layout.py" <<'PY'
import gzip, hashlib, json, os, sys
def write(p, b):
    os.makedirs(os.path.dirname(p), exist_ok=True); open(p, 'wb').write(b)
def layout(w, name, layers, mt='application/vnd.oci.image.layer.v1.tar'):
    d = f'{w}/{name}'
    def blob(b):
        h = hashlib.sha256(b).hexdigest(); write(f'{d}/blobs/sha256/{h}', b); return 'sha256:' + h
    ls = [{'mediaType': mt, 'digest': blob(l), 'size': len(l)} for l in layers]
    cfg = json.dumps({'architecture': 'amd64', 'os': 'linux', 'rootfs': {'type': 'layers', 'diff_ids': [x['digest'] for x in ls]}}).encode()
    m = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
                    'config': {'mediaType': 'application/vnd.oci.image.config.v1+json', 'digest': blob(cfg), 'size': len(cfg)},
                    'layers': ls}).encode()
    md = blob(m)
    write(f'{d}/index.json', json.dumps({'schemaVersion': 2, 'manifests': [{'mediaType': 'application/vnd.oci.image.manifest.v1+json',
          'digest': md, 'size': len(m), 'annotations': {'org.opencontainers.image.ref.name': 'v1'}}]}).encode())
    write(f'{d}/oci-layout', b'{"imageLayoutVersion":"1.0.0"}')
if __name__ == '__main__':  # layout.py WORK NAME big|gz: one 256 MiB layer from big.bin
    w, name, kind = sys.argv[1:4]
    big = open(f'{w}/big.bin', 'rb').read()
    if kind == 'gz':
        # An already compressed layer (what image builders push): skopeo streams it as it is
        # instead of gzip-compressing 256 MiB itself, so the row measures the transfer.
        layout(w, name, [gzip.compress(big[:-8] + os.urandom(8), compresslevel=0, mtime=0)],
               'application/vnd.oci.image.layer.v1.tar+gzip')
    else:
        layout(w, name, [big[:-8] + os.urandom(8)])
PY
python3 - "$WORK" "$RUNS" "$(want sk200 && echo sk200) $(want chunked && echo chunked)" <<'PY'
import os, sys
w, runs, fix = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
sys.path.insert(0, w); from layout import layout, write
write(f'{w}/small.bin', os.urandom(4096))
big = os.urandom(256 << 20); write(f'{w}/big.bin', big)
if 'sk200' in fix:
    for i in range(1, runs + 1):
        layout(w, f'many-small-{i}', [os.urandom(4096) for _ in range(200)])
# The chunked push sends these files one PATCH each (curl -T), so the client does no copying
# through pipes of its own.
if 'chunked' in fix:
    for n in range(0, len(big), 16 << 20):
        open(f'{w}/big.chunk.{n >> 24:03d}', 'wb').write(big[n:n + (16 << 20)])
PY
SMALL_D=sha256:$(sha256sum "$WORK/small.bin" | cut -d' ' -f1)
BIG_D=sha256:$(sha256sum "$WORK/big.bin" | cut -d' ' -f1)

# client CMD...: runs a client whose CPU the bench reports (curl, skopeo), adding its user and
# system CPU seconds (children included) to $WORK/client.cpu.
client() {
  local TIMEFORMAT='%3U %3S'
  { time "$@" 2>&3; } 3>&2 2>>"$WORK/client.cpu"
}
client_cpu() { awk 'NF == 2 && $1 + 0 == $1 {s += $1 + $2} END {printf "%.3f", s}' "$WORK/client.cpu" 2>/dev/null || echo 0; }

# Monolithic POST + PUT (works on both), returns seconds.
push_blob() { # port repo file digest
  local loc; loc=$(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$1/v2/$2/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
  case "$loc" in http*) ;; *) loc="http://127.0.0.1:$1$loc";; esac
  case "$loc" in *\?*) loc="$loc&digest=$4";; *) loc="$loc?digest=$4";; esac
  local t0; t0=$(now)
  code=$(client curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/octet-stream' -T "$3" "$loc")
  [ "$code" = 201 ] || { echo "push to $1 failed: $code" >&2; exit 1; }
  echo "$(now) - $t0" | bc -l
}
push_chunked() { # port repo file digest: one PATCH per $WORK/big.chunk.* file (16 MiB)
  # One curl process per PATCH and nothing else (curl prints the next Location itself): the
  # row measures the servers, not process start-ups between the chunks.
  local loc t0 off=0 n=$((16 << 20)) code; t0=$(now)
  loc=$(client curl -s -o /dev/null -w '%header{location}' -X POST "http://127.0.0.1:$1/v2/$2/blobs/uploads/")
  for c in "$WORK"/big.chunk.*; do
    case "$loc" in http*) ;; *) loc="http://127.0.0.1:$1$loc";; esac
    loc=$(client curl -s -o /dev/null -w '%header{location}' -X PATCH -H "Content-Range: $off-$(( off + n - 1 ))" \
          -H 'Content-Type: application/octet-stream' -T "$c" "$loc")
    off=$(( off + n ))
  done
  case "$loc" in http*) ;; *) loc="http://127.0.0.1:$1$loc";; esac
  case "$loc" in *\?*) loc="$loc&digest=$4";; *) loc="$loc?digest=$4";; esac
  code=$(client curl -s -o /dev/null -w '%{http_code}' -X PUT "$loc")
  [ "$code" = 201 ] || { echo "chunked push to $1 failed: $code" >&2; exit 1; }
  echo "$(now) - $t0" | bc -l
}
# 200 x 4 KiB layers the way a registry client pushes them (HEAD, POST, PATCH, PUT each, 6 at
# a time on keep-alive connections), from a small Python client: the server's share of the
# skopeo row without skopeo's own CPU. Prints seconds.
layers_http() { # port repo
  python3 - "$1" "$2" <<'PY'
import hashlib, http.client, os, sys, threading, time
port, repo = int(sys.argv[1]), sys.argv[2]
layers = [os.urandom(4096) for _ in range(200)]
todo = list(range(len(layers))); lock = threading.Lock(); errors = []
def worker():
    c = http.client.HTTPConnection('127.0.0.1', port)
    def req(method, url, body=None, headers={}):
        c.request(method, url, body=body, headers=headers); r = c.getresponse(); r.read(); return r
    while True:
        with lock:
            if not todo: return
            b = layers[todo.pop()]
        d = 'sha256:' + hashlib.sha256(b).hexdigest()
        req('HEAD', f'/v2/{repo}/blobs/{d}')
        loc = req('POST', f'/v2/{repo}/blobs/uploads/').getheader('Location')
        loc = req('PATCH', loc, b, {'Content-Type': 'application/octet-stream',
                                    'Content-Range': f'0-{len(b) - 1}'}).getheader('Location')
        r = req('PUT', loc + ('&' if '?' in loc else '?') + 'digest=' + d)
        if r.status != 201: errors.append(r.status)
t = time.time(); ts = [threading.Thread(target=worker) for _ in range(6)]
[x.start() for x in ts]; [x.join() for x in ts]
if errors: sys.exit(f'layer push to {port} failed: {errors[:3]}')
print(time.time() - t)
PY
}
seed() { # port
  push_blob $1 bench/app "$WORK/small.bin" $SMALL_D >/dev/null
  local cfg='{"architecture":"amd64","os":"linux"}'; echo -n "$cfg" >"$WORK/cfg.json"
  local cd=sha256:$(sha256sum "$WORK/cfg.json" | cut -d' ' -f1)
  push_blob $1 bench/app "$WORK/cfg.json" $cd >/dev/null
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":4096}]}' \
    "$cd" ${#cfg} "$SMALL_D" >"$WORK/manifest.json"
  for t in $(seq 1 50); do
    curl -s -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$WORK/manifest.json" \
      "http://127.0.0.1:$1/v2/bench/app/manifests/v$t"
  done
  for r in $(seq 1 20); do
    push_blob $1 bench/repo$r "$WORK/small.bin" $SMALL_D >/dev/null
    push_blob $1 bench/repo$r "$WORK/cfg.json" $cd >/dev/null
    curl -s -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary @"$WORK/manifest.json" \
      "http://127.0.0.1:$1/v2/bench/repo$r/manifests/latest"
  done
}
if want mget || want bget || want tags || want cat; then seed $DP; seed $RP; fi

wrk_rps() { # url [header]
  if [ $# -gt 1 ]; then wrk -t2 -c$CONNS -d${DUR}s -H "$2" "$1"; else wrk -t2 -c$CONNS -d${DUR}s "$1"; fi | awk '/Requests\/sec/{print $2}'
}
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json'
declare -A D R
want mget && { D[mget]=$(wrk_rps "http://127.0.0.1:$DP/v2/bench/app/manifests/v1" "$ACCEPT"); R[mget]=$(wrk_rps "http://127.0.0.1:$RP/v2/bench/app/manifests/v1" "$ACCEPT"); }
want bget && { D[bget]=$(wrk_rps "http://127.0.0.1:$DP/v2/bench/app/blobs/$SMALL_D"); R[bget]=$(wrk_rps "http://127.0.0.1:$RP/v2/bench/app/blobs/$SMALL_D"); }
want tags && { D[tags]=$(wrk_rps "http://127.0.0.1:$DP/v2/bench/app/tags/list"); R[tags]=$(wrk_rps "http://127.0.0.1:$RP/v2/bench/app/tags/list"); }
want cat && { D[cat]=$(wrk_rps "http://127.0.0.1:$DP/v2/_catalog"); R[cat]=$(wrk_rps "http://127.0.0.1:$RP/v2/_catalog"); }

MIB=256
# Server CPU seconds (user + system, from /proc) spent on one operation: far steadier than
# wall time on a shared machine, and it shows the work each server does per byte.
TCK=$(getconf CLK_TCK)
cpu() { awk -v t=$TCK '{printf "%.3f", ($14+$15)/t}' /proc/$1/stat; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
# measure OP: runs "OP PORT RUN" RUNS times against each server, docket and distribution
# alternating (so a change in the machine's load hits both columns alike); sets
# M[d_OP]/M[r_OP] (median figure: seconds or MiB/s) and C[d_OP]/C[r_OP] (median server CPU
# seconds) and K[d_OP]/K[r_OP] (median CPU seconds of the clients it ran through client()).
# A function after_OP RUN, when defined, runs after both servers' run RUN.
declare -A M C K
measure() {
  local op=$1 c0 f i s pid port
  declare -A figs cpus clis
  for i in $(seq $RUNS); do
    for s in d r; do
      if [ $s = d ]; then pid=$DPID port=$DP; else pid=$RPID port=$RP; fi
      : >"$WORK/client.cpu"
      c0=$(cpu $pid); f=$($op $port $i)
      figs[$s]+="$f "; cpus[$s]+="$(echo "$(cpu $pid) - $c0" | bc -l) "; clis[$s]+="$(client_cpu) "
    done
    if declare -F after_$op >/dev/null; then after_$op $i; fi
  done
  for s in d r; do
    M[${s}_$op]=$(printf '%s\n' ${figs[$s]} | median); C[${s}_$op]=$(printf '%s\n' ${cpus[$s]} | median)
    K[${s}_$op]=$(printf '%s\n' ${clis[$s]} | median)
  done
}
rate() { echo "$MIB / $("$@")" | bc -l; }
mono() { rate push_blob $1 bench/big$2 "$WORK/big.bin" $BIG_D; }
chunked() { rate push_chunked $1 bench/bigc$2 "$WORK/big.bin" $BIG_D; }
big_get() { curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$1/v2/bench/big1/blobs/$BIG_D" | awk '{printf "%.1f", $1/1048576}'; }
skopeo_push() { # port layout repo
  local t0; t0=$(now)
  client skopeo copy -q --dest-tls-verify=false "oci:$WORK/$2:v1" "docker://127.0.0.1:$1/$3:v1" >/dev/null
  echo "$(now) - $t0" | bc -l
}
# The 256 MiB skopeo layouts: made before a run's first push, deleted with the layer each
# server stored after its last (several GB of disk otherwise).
big_layout() { [ -d "$WORK/$1" ] || python3 "$WORK/layout.py" "$WORK" "$1" "$2"; }
drop_big_layout() { # layout: also every large blob the servers stored but the 256 MiB blob
  # (skopeo gzips the raw layer on the way, so what it stored has a digest of its own)
  local keep=${BIG_D#sha256:}
  find "$WORK/docket-data/blobs" "$WORK/dist-data/docker/registry/v2/blobs" -name data -size +1M 2>/dev/null |
    grep -v "/$keep/" | xargs -r rm -f
  rm -rf "$WORK/$1"
}
skbig() { big_layout one-big-$2 big; rate skopeo_push $1 one-big-$2 sk/big$2; }
after_skbig() { drop_big_layout one-big-$1; }
skgz() { big_layout one-gz-$2 gz; rate skopeo_push $1 one-gz-$2 sk/gz$2; }
after_skgz() { drop_big_layout one-gz-$1; }
sk200() { skopeo_push $1 many-small-$2 sk/many$2; }
http200() { layers_http $1 h/many$2; }
# big_get downloads what mono pushed: push it first when mono does not run.
if want big_get && ! want mono; then push_blob $DP bench/big1 "$WORK/big.bin" $BIG_D >/dev/null; push_blob $RP bench/big1 "$WORK/big.bin" $BIG_D >/dev/null; fi
for op in mono chunked big_get skbig skgz sk200 http200; do
  want $op && measure $op
  [ $op = chunked ] && rm -f "$WORK"/big.chunk.*  # 256 MiB of disk no longer needed
done
# What 17 curl runs cost by themselves (start, connect, one small request each), as in the
# chunked row: client time no server can remove from it.
CURLS=
if want chunked; then
  curls17() { local t0; t0=$(now); for _ in $(seq 17); do curl -s -o /dev/null "http://127.0.0.1:$DP/v2/"; done; echo "$(now) - $t0" | bc -l; }
  CURLS=$(for i in $(seq $RUNS); do curls17; done | median)
fi
D[mono]=${M[d_mono]:-}; R[mono]=${M[r_mono]:-}; D[chunk]=${M[d_chunked]:-}; R[chunk]=${M[r_chunked]:-}
D[bigget]=${M[d_big_get]:-}; R[bigget]=${M[r_big_get]:-}; D[skbig]=${M[d_skbig]:-}; R[skbig]=${M[r_skbig]:-}
D[sk200]=${M[d_sk200]:-}; R[sk200]=${M[r_sk200]:-}
D[skgz]=${M[d_skgz]:-}; R[skgz]=${M[r_skgz]:-}; D[http200]=${M[d_http200]:-}; R[http200]=${M[r_http200]:-}
U_MONO=; U_SK200=
if want nofsync; then
  want mono && U_MONO=$(mono $UP 1)
  want sk200 && U_SK200=$(sk200 $UP 1)
fi

D[rss]=$(awk '/VmHWM/{printf "%.1f", $2/1024}' /proc/$DPID/status); R[rss]=$(awk '/VmHWM/{printf "%.1f", $2/1024}' /proc/$RPID/status)

# ---- peers for context: nginx sendfile, OpenSSL SHA-256 ----
NGX_SMALL=-; NGX_BIG=-
if want nginx && { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; }; then
  NP=$(free_port); mkdir -p "$WORK/nginx/www" "$WORK/nginx/tmp"; chmod 755 "$WORK" "$WORK/nginx" "$WORK/nginx/www"
  cp "$WORK/small.bin" "$WORK/nginx/www/"; ln "$WORK/big.bin" "$WORK/nginx/www/big.bin" 2>/dev/null || cp "$WORK/big.bin" "$WORK/nginx/www/"
  chmod 644 "$WORK/nginx/www/"*
  cat >"$WORK/nginx/nginx.conf" <<NGX
worker_processes auto; daemon off; pid $WORK/nginx/nginx.pid; error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; client_body_temp_path $WORK/nginx/tmp; proxy_temp_path $WORK/nginx/tmp;
  fastcgi_temp_path $WORK/nginx/tmp; uwsgi_temp_path $WORK/nginx/tmp; scgi_temp_path $WORK/nginx/tmp;
  server { listen 127.0.0.1:$NP; root $WORK/nginx/www; } }
NGX
  /usr/sbin/nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" & NPID=$!; PIDS+=($NPID); sleep 0.5
  NGX_SMALL=$(wrk_rps "http://127.0.0.1:$NP/small.bin")
  NGX_BIG=$(for i in $(seq $RUNS); do curl -s -o /dev/null -w '%{speed_download}\n' "http://127.0.0.1:$NP/big.bin"; done |
            median | awk '{printf "%.1f", $1/1048576}')
fi
SHA=-
want sha && SHA=$(openssl speed -seconds 2 -bytes 16384 -evp sha256 2>/dev/null | awk '/^sha256/{printf "%.0f", $NF*1000/1048576}')

ratio() { echo "$1 $2" | awk '{ if ($2 > 0) printf "%.2f", $1/$2; else print "-" }'; }
inv_ratio() { echo "$1 $2" | awk '{ if ($1 > 0) printf "%.2f", $2/$1; else print "-" }'; }
printf '\n%-44s %14s %14s %9s\n' "benchmark (wrk -t2 -c$CONNS -d${DUR}s; loopback)" docket distribution ratio
# row TITLE KEY [inv]: the row for D[KEY]/R[KEY], when that row ran.
row() {
  local d=${D[$2]:-} r=${R[$2]:-}
  [ -n "$d" ] && [ -n "$r" ] || return 0
  printf '%-44s %14.1f %14.1f %9s\n' "$1" "$d" "$r" "$(if [ "${3:-}" = inv ]; then inv_ratio $d $r; else ratio $d $r; fi)"
}
row "manifest GET (req/s)" mget
row "small blob GET 4 KiB (req/s)" bget
row "tags list 50 tags (req/s)" tags
row "catalog 21 repos (req/s)" cat
row "256 MiB monolithic PUT, curl (MiB/s)" mono
row "256 MiB chunked 16 MiB PATCH, curl (MiB/s)" chunk
row "256 MiB layer push, skopeo (MiB/s)" skbig
row "256 MiB gzip layer push, skopeo (MiB/s)" skgz
row "256 MiB blob GET, curl (MiB/s)" bigget
row "200 x 4 KiB layers, skopeo (s, lower=better)" sk200 inv
row "200 x 4 KiB layers, HTTP x6 (s, lower=better)" http200 inv
row "server peak RSS (MiB, lower=better)" rss inv
echo "(transfers and skopeo rows: median of $RUNS runs, docket and distribution alternating)"
printf '\n%-44s %14s %14s %9s\n' "server CPU seconds per operation (median)" docket distribution "dist/docket"
crow() {
  local d=${C[d_$2]:-} r=${C[r_$2]:-}
  [ -n "$d" ] && [ -n "$r" ] || return 0
  printf '%-44s %14.3f %14.3f %9s\n' "$1" "$d" "$r" "$(inv_ratio $d $r)"
}
crow "256 MiB monolithic PUT" mono
crow "256 MiB chunked 16 MiB PATCH" chunked
crow "256 MiB blob GET" big_get
crow "256 MiB layer push, skopeo" skbig
crow "256 MiB gzip layer push, skopeo" skgz
crow "200 x 4 KiB layers, skopeo" sk200
crow "200 x 4 KiB layers, HTTP x6" http200
# The clients' own CPU, and what it leaves reachable: no run can take less wall time than
# (client CPU + server CPU) / cores, however fast the server's part gets.
NCPU=$(nproc)
printf '\n%-44s %14s %14s\n' "client CPU seconds per operation (median)" "vs docket" "vs dist."
krow() {
  local d=${K[d_$2]:-} r=${K[r_$2]:-}
  [ -n "$d" ] && [ -n "$r" ] || return 0
  printf '%-44s %14.3f %14.3f\n' "$1" "$d" "$r"
}
krow "256 MiB monolithic PUT (curl)" mono
krow "256 MiB chunked 16 MiB PATCH (17 curls)" chunked
krow "256 MiB layer push (skopeo)" skbig
krow "256 MiB gzip layer push (skopeo)" skgz
krow "200 x 4 KiB layers (skopeo)" sk200
# limit TITLE OP KIND: KIND rate (MiB/s) or secs.
limit() {
  local k=${K[d_$2]:-} c=${C[d_$2]:-} r=${M[r_$2]:-}
  [ -n "$k" ] && [ -n "$c" ] && [ -n "$r" ] || return 0
  local t; t=$(echo "($k + $c) / $NCPU" | bc -l)
  if [ "$3" = rate ]; then
    local f; f=$(echo "$MIB / $t" | bc -l)
    printf '  %-42s <= %7.1f MiB/s = %5.2f x distribution' "$1" "$f" "$(ratio $f $r)"
    if [ "$2" = mono ] && [ "$SHA" != "-" ]; then printf ', %4.2f x SHA-256' "$(ratio $f $SHA)"; fi
    echo
  else
    printf '  %-42s >= %7.2f s    = %5.2f x distribution\n' "$1" "$t" "$(inv_ratio $t $r)"
  fi
}
if [ ${#K[@]} -gt 0 ]; then
  echo "CPU limit on these $NCPU cores, (client CPU + docket server CPU) / $NCPU, whatever the server does:"
  limit "256 MiB monolithic PUT, curl" mono rate
  limit "256 MiB chunked 16 MiB PATCH, curl" chunked rate
  limit "256 MiB layer push, skopeo" skbig rate
  limit "256 MiB gzip layer push, skopeo" skgz rate
  limit "200 x 4 KiB layers, skopeo" sk200 secs
fi
if [ -n "$CURLS" ] && [ -n "${M[d_chunked]:-}" ]; then
  printf 'chunked row: 17 curl runs alone (start, connect, a GET /v2/ each) take %.3f s; docket'"'"'s chunked push %.3f s\n' \
    "$CURLS" "$(echo "$MIB / ${M[d_chunked]}" | bc -l)"
fi
echo
echo "context: nginx 4 KiB static GET ${NGX_SMALL} req/s; nginx 256 MiB sendfile GET ${NGX_BIG} MiB/s; OpenSSL SHA-256 (16 KiB blocks, 1 core) ${SHA} MiB/s"
if [ "$NGX_BIG" != "-" ] && [ -n "${D[bigget]}" ]; then echo "docket 256 MiB GET / nginx: $(ratio ${D[bigget]} $NGX_BIG)"; fi
if [ "$SHA" != "-" ] && [ -n "${D[mono]}" ]; then echo "docket monolithic PUT / SHA-256: $(ratio ${D[mono]} $SHA)"; fi
echo "durability: docket answers 201 after fdatasync of the blob, rename and fsync of every directory"
echo "entry it added; distribution's filesystem driver does no fsync at all (an acknowledged blob can"
echo "vanish or be torn in an OS crash), so the rows above compare unlike guarantees."
[ -n "$U_MONO" ] && printf 'docket with storage.filesystem.unsafe_skip_fsync: 256 MiB monolithic PUT %.1f MiB/s (%s x distribution)\n' \
  $U_MONO $(ratio $U_MONO ${R[mono]})
[ -n "$U_SK200" ] && printf 'docket with storage.filesystem.unsafe_skip_fsync: 200 x 4 KiB layers, skopeo %.1f s (%s x faster than distribution)\n' \
  $U_SK200 $(inv_ratio $U_SK200 ${R[sk200]})
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
