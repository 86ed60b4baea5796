#!/usr/bin/env bash
# Set up (idempotently) and start the Rollcall desktop app. Extra arguments go to the app.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/rollcall-gui "$@"
