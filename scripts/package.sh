#!/usr/bin/env bash
# `make package`: build the one-folder app dist/Rollcall/ with PyInstaller (build.spec), then run the
# built executable's --self-test from a temporary folder outside the source tree, with an empty
# environment (env -i: no venv, no PYTHONPATH, a fresh HOME) and, where the kernel allows it, no network.
#   ROLLCALL_SELFTEST_IMAGE=photo.jpg   another face photo for the self-test (default: the bundled one)
#   ROLLCALL_PACKAGE_CUDA=1             keep every CUDA library (default: a CPU-only bundle, see build.spec)
#   PACKAGE_CLEAN=1                     rebuild from scratch (pyinstaller --clean)
#   EDITION=kiosk                       the kiosk edition dist/Rollcall-kiosk (no torch, no trainer; default: full)
#   PACKAGE_DEB=1                       then build the .deb (scripts/make_deb.sh) and test it installed
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY="$ROOT/.venv/bin/python"
fail() { echo "package: $1" >&2; echo "package: fix: $2" >&2; exit 1; }
step() { echo "package: $*"; }

[[ -x "$PY" ]] || fail "no virtual environment at .venv/" "run scripts/setup.sh first"
step "installing the pinned build tools (requirements-package.txt)"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$PY" -m pip install -q -r requirements-package.txt \
  || fail "pip could not install requirements-package.txt" "check access to the package registry, then rerun"

edition=${EDITION:-full}
case "$edition" in
  full) app=Rollcall;; kiosk) app=Rollcall-kiosk;;
  *) fail "EDITION=$edition" "use EDITION=full or EDITION=kiosk";;
esac
step "making sure the models and their ONNX files exist (rollcall models fetch)"
"$PY" -m core.app.cli models fetch >/dev/null || fail "could not prepare the models" "run scripts/setup.sh"
step "building dist/$app ($edition edition) with PyInstaller (several minutes on a 2-core CPU)"
start=$SECONDS
clean=(); [[ "${PACKAGE_CLEAN:-0}" == 1 ]] && clean=(--clean)
ROLLCALL_EDITION=$edition "$PY" -m PyInstaller --noconfirm "${clean[@]}" --distpath "$ROOT/dist" \
  --workpath "$ROOT/build/$edition" build.spec \
  || fail "PyInstaller failed" "read the error above; PACKAGE_CLEAN=1 make package rebuilds from scratch"
step "built dist/$app in $((SECONDS - start)) s: $(du -sh "dist/$app" | cut -f1)"

image=${ROLLCALL_SELFTEST_IMAGE:-}
[[ -z "$image" || -f "$image" ]] || fail "ROLLCALL_SELFTEST_IMAGE=$image does not exist" "unset it or name a photo"

# A copy of the bundle outside the source tree (hard links: instant, no extra space), so the self-test
# can reach nothing in the checkout, and whatever it writes never lands in dist/.
work=$(mktemp -d "${TMPDIR:-/tmp}/rollcall-package.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -al "dist/$app" "$work/$app" 2>/dev/null || cp -a "dist/$app" "$work/$app"
image_args=()  # no arguments: the bundled public-domain photo, as a user would run it
if [[ -n "$image" ]]; then
  cp "$image" "$work/face.${image##*.}" && image_args=(--image "$work/face.${image##*.}")
fi
mkdir -p "$work/home"
offline=()
if command -v unshare >/dev/null 2>&1 && unshare -rn true 2>/dev/null; then
  offline=(unshare -rn)  # a network namespace with no interfaces: proves the first run needs no network
fi
step "self-test of the built app in $work (${offline:+no network, }empty environment)"
cd "$work"
env -i PATH=/usr/bin:/bin HOME="$work/home" LANG=C.UTF-8 TMPDIR="$work" \
  "${offline[@]}" "./$app/$app" --self-test "${image_args[@]}" \
  || fail "the built app's self-test failed" "read the FAIL lines above"
step "dist/$app is ready ($(du -sh "$ROOT/dist/$app" | cut -f1)); run it with dist/$app/$app"
cd "$ROOT"
if [[ "${PACKAGE_DEB:-0}" == 1 ]]; then
  scripts/make_deb.sh "$edition"
fi
