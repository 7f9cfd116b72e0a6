#!/usr/bin/env bash
# Installs, builds and starts the all-in-one server on its embedded defaults
# (SQLite + local filesystem under ./data, listening on 127.0.0.1:5000).
# Extra args go to `docket-server serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
# The trust role's signer encrypts its keys with DOCKET_SIGNER_PASSPHRASE_DEFAULT and refuses
# to start without it. For this one-machine quick start, a random passphrase is made once and
# kept in a 0600 file under ./data; that protects nothing against someone who can read ./data,
# so production sets the variable from its secret store instead (docs/signer.md).
if [[ -z "${DOCKET_SIGNER_PASSPHRASE_DEFAULT:-}" ]]; then
  mkdir -p data && chmod 700 data
  pass_file=data/.signer-passphrase
  if [[ ! -s $pass_file ]]; then
    (umask 077 && head -c 32 /dev/urandom | base64 > "$pass_file")
  fi
  DOCKET_SIGNER_PASSPHRASE_DEFAULT=$(cat "$pass_file")
  export DOCKET_SIGNER_PASSPHRASE_DEFAULT
  echo "run.sh: signer passphrase read from $pass_file (set DOCKET_SIGNER_PASSPHRASE_DEFAULT to supply your own)" >&2
fi
exec ./build/cli/docket-server serve "$@"
