#!/usr/bin/env bash
# Set up (idempotently) and run the tests headless: no display, camera or GPU needed.
#   scripts/test.sh            every test (setup, PostgreSQL for the site tests, the checks, then pytest)
#   scripts/test.sh --fast     the pure tests only: no models, PostgreSQL, Qt or slow tests (markers in pyproject.toml)
# Further arguments go to pytest, e.g. `scripts/test.sh --fast tests/gallery/test_store.py -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
export ROLLCALL_MODELS_DIR="$PWD/.cache/models" QT_QPA_PLATFORM=offscreen

if [[ "${1:-}" == "--fast" ]]; then
  shift
  [[ -x .venv/bin/python ]] || scripts/setup.sh --test  # these tests need the venv, not the models
  exec .venv/bin/python -m pytest -m "not models and not postgres and not gui and not slow" "$@"
fi

scripts/setup.sh --test
# Site mode tests need PostgreSQL's server binaries (tests/kits/pg.py starts a private cluster).
# Install Debian's server package where we can; otherwise only those tests are skipped, saying why.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [[ -z "${ROLLCALL_PG_BIN:-}" ]]; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing the PostgreSQL server for the site tests (apt-get install postgresql-15)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql-15 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql; } \
      >/dev/null || echo "test: PostgreSQL could not be installed; the site tests will be skipped" >&2
  else
    echo "test: no PostgreSQL server found (and not root with apt-get); the site tests will be skipped" >&2
  fi
fi
# The checks: layers and no import circles, lint and format, types, the docs site (a broken link fails).
.venv/bin/lint-imports
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/mkdocs build --strict --quiet --site-dir "${TMPDIR:-/tmp}/rollcall-docs-site"
# Two pytest-xdist workers, a test file each at a time (module fixtures are built once); `-n 0` runs in one process.
# The 25 slowest tests are listed at the end, so a test that grows shows up in every run.
exec .venv/bin/python -m pytest -n 2 --dist loadfile --durations=25 "$@"
