#!/usr/bin/env bash
# Set up Rollcall in .venv/ (idempotent: a second run only checks and returns).
#   scripts/setup.sh          app dependencies + the default model
#   scripts/setup.sh --test   also the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
WANT_TEST=0
[[ "${1:-}" == "--test" ]] && WANT_TEST=1

fail() { echo "setup: $1" >&2; echo "setup: fix: $2" >&2; exit 1; }
step() { echo "setup: $*"; }

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] >= (3, 11)' 2>/dev/null \
  || fail "Python 3.11 or newer is needed (found: $("$PYTHON" --version 2>&1))" "install Python 3.11 and rerun"

if [[ ! -x "$PY" ]]; then
  step "creating $VENV"
  "$PYTHON" -m venv "$VENV" || fail "could not create the virtual environment" "install the python3-venv package"
fi

# Reinstall only when a requirements file or pyproject.toml changed since the last good run.
STAMP="$VENV/.rollcall-setup"
WANT=$(cat requirements.txt pyproject.toml | sha256sum | cut -c1-16)
[[ $WANT_TEST == 1 ]] && WANT="$WANT-$(sha256sum < requirements-test.txt | cut -c1-16)"
if [[ -f "$STAMP" ]] && grep -qx -- "$WANT" "$STAMP"; then
  step "dependencies up to date"
else
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  # One resolve for the app and the test tools. --no-compile: Python compiles what it imports on first
  # use, instead of pip compiling every file of torch up front (about 25 s less on 2 cores).
  REQUIREMENTS=(-r requirements.txt)
  [[ $WANT_TEST == 1 ]] && REQUIREMENTS+=(-r requirements-test.txt)
  step "installing torch==2.14.1, torchvision==0.29.1 and the pinned stack$([[ $WANT_TEST == 1 ]] && echo ", with the test tools") (first run takes a few minutes)"
  "$PY" -m pip install -q --no-compile "${REQUIREMENTS[@]}" \
    || fail "pip could not install ${REQUIREMENTS[*]}" "check access to the package registry, then rerun"
  step "installing facenet-pytorch 2.6.0 (--no-deps: its declared pins are older than the stack it runs on)"
  "$PY" -m pip install -q --no-compile --no-deps facenet-pytorch==2.6.0 \
    || fail "pip could not install facenet-pytorch" "check access to the package registry, then rerun"
  step "installing Rollcall (editable) with the rollcall and rollcall-gui commands"
  "$PY" -m pip install -q --no-compile --no-deps --no-build-isolation -e . \
    || fail "the editable install failed" "make sure setuptools is present: $PY -m pip install setuptools"
  echo "$WANT" > "$STAMP"
fi

step "checking the default face models, FaceNet and SFace (fetched and converted once, then cached)"
"$VENV/bin/rollcall" models fetch facenet-keras-128+sface \
  || fail "the default model could not be prepared" "see the message above; it names the file and the fix"
step "exporting the ONNX files CPU inference runs from (MTCNN, FaceNet; once, then checked)"
"$VENV/bin/rollcall" models export-onnx \
  || fail "the ONNX files could not be exported" "see the message above; rerun, or delete the named file and rerun"
step "ready"
