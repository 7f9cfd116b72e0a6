#!/usr/bin/env bash
# Signature and hash speed: docket's key layer beside `openssl speed`, same machine, same
# run, one table.
#   bench/keys.sh [build-dir] [seconds]     (default build, 2)
# Build first: ninja -C build keys_bench
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
secs="${2:-2}"
bench="$build/bench/keys_bench"
[[ -x "$bench" ]] || { echo "missing $bench: run ninja -C $build keys_bench" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 1; }

ours="$(mktemp)"; peer="$(mktemp)"; peer_hash="$(mktemp)"
trap 'rm -f "$ours" "$peer" "$peer_hash"' EXIT

echo "running keys_bench (${secs}s per measurement)..." >&2
"$bench" "$secs" >"$ours"
echo "running openssl speed..." >&2
openssl speed -mr -seconds "$secs" ed25519 ecdsap256 rsa3072 rsa4096 2>/dev/null >"$peer" || true
openssl speed -mr -seconds "$((secs > 1 ? secs / 2 : 1))" -evp sha256 2>/dev/null >"$peer_hash" || true
openssl speed -mr -seconds "$((secs > 1 ? secs / 2 : 1))" -evp sha512 2>/dev/null >>"$peer_hash" || true

awk -v OURS="$ours" -v HASH="$peer_hash" '
  # openssl -mr lines: +F2:i:bits:sign:verify (RSA), +F4:i:bits:sign:verify (ECDSA),
  # +F6:i:bits:name:sign:verify (EdDSA), +H:sizes..., +F:i:name:bytes/s per size.
  BEGIN {
    FS = ":"
    while ((getline line < OURS) > 0) { split(line, q, " "); ours[q[1]] = q[2]; unit[q[1]] = q[3] }
    while ((getline line < HASH) > 0) {
      n = split(line, f, ":")
      if (f[1] == "+H") { for (i = 2; i <= n; i++) size[i + 1] = f[i] }
      if (f[1] == "+F") { for (i = 4; i <= n; i++) peer[f[3] "_" size[i]] = f[i] }
    }
  }
  $1 == "+F2" { peer["rsa" $3 "_pss_sign"] = $4; peer["rsa" $3 "_pss_verify"] = $5 }
  $1 == "+F4" && $3 == 256 { peer["ecdsap256_sign"] = $4; peer["ecdsap256_verify"] = $5;
                             peer["ecdsap256_der_sign"] = $4; peer["ecdsap256_der_verify"] = $5 }
  $1 == "+F6" && $4 == "Ed25519" { peer["ed25519_sign"] = $5; peer["ed25519_verify"] = $6 }
  END {
    order = "ed25519_sign ed25519_verify ecdsap256_sign ecdsap256_verify ecdsap256_der_sign " \
            "ecdsap256_der_verify rsa3072_pss_sign rsa3072_pss_verify rsa4096_pss_sign " \
            "rsa4096_pss_verify sha256_64 sha256_1024 sha256_16384 sha512_64 sha512_1024 " \
            "sha512_16384 keyfile_decrypt_200000 keyfile_decrypt_2048"
    n = split(order, names, " ")
    printf "%-24s %16s %16s %8s  %s\n", "operation", "docket", "openssl speed", "ratio", "unit"
    for (i = 1; i <= n; i++) {
      k = names[i]; u = unit[k]
      o = ours[k]; p = peer[k]
      if (u == "bytes/s") { o = o / 1e6; if (p != "") p = p / 1e6; u = "MB/s" }
      ps = (p == "") ? "-" : sprintf("%.1f", p)
      r = (p == "" || p == 0) ? "-" : sprintf("%.2f", o / p)
      printf "%-24s %16.1f %16s %8s  %s\n", k, o, ps, r, u
    }
    print ""
    print "openssl speed signs RSA with PKCS#1 v1.5 and ECDSA in DER; docket signs RSA-PSS"
    print "(Notary rsapss) and converts ECDSA to raw r||s for Notary. Messages: 512 bytes for"
    print "docket (hashing included), a precomputed digest for openssl speed."
  }
' "$peer"
