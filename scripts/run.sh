#!/usr/bin/env bash
# Installs, builds and starts the all-in-one server on its embedded defaults
# (SQLite + local filesystem under ./data, listening on 127.0.0.1:5000).
# Extra args go to `docket-server serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
exec ./build/cli/docket-server serve "$@"
