#!/usr/bin/env bash
# Set up (idempotently) and run every test headless: no display, camera or GPU needed.
set -euo pipefail
cd "$(dirname "$0")/.."
export ROLLCALL_MODELS_DIR="$PWD/.cache/models" QT_QPA_PLATFORM=offscreen
scripts/setup.sh --test
.venv/bin/lint-imports
exec .venv/bin/python -m pytest "$@"
