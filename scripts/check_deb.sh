#!/usr/bin/env bash
# Install a built .deb on this machine (root), run the installed `rollcall --self-test` in an empty
# environment with no network, check a user's data survives removal and purge, then remove it.
#   scripts/check_deb.sh dist/rollcall-kiosk_0.1.0_amd64.deb
set -euo pipefail
deb=${1:?usage: scripts/check_deb.sh PACKAGE.deb}
[[ $(id -u) == 0 ]] || { echo "check_deb: needs root (dpkg -i)" >&2; exit 2; }
package=$(dpkg-deb -f "$deb" Package)
work=$(mktemp -d "${TMPDIR:-/tmp}/rollcall-deb-check.XXXXXX")
trap 'dpkg -P "$package" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
step() { echo "check_deb: $*"; }

step "installing $deb"
dpkg -i "$deb" >/dev/null
for path in /usr/bin/rollcall /usr/share/applications/rollcall.desktop /usr/lib/systemd/user/rollcall-kiosk.service \
            /usr/share/icons/hicolor/scalable/apps/rollcall.svg; do
  [[ -e $path ]] || { echo "check_deb: $path is missing" >&2; exit 1; }
done
offline=()
if command -v unshare >/dev/null 2>&1 && unshare -rn true 2>/dev/null; then offline=(unshare -rn); fi
mkdir -p "$work/home"
run() { env -i PATH=/usr/bin:/bin HOME="$work/home" LANG=C.UTF-8 TMPDIR="$work" "${offline[@]}" "$@"; }
step "installed self-test (${offline:+no network, }empty environment)"
(cd "$work" && run rollcall --self-test)
step "a user's data, made by the installed command line"
run rollcall group add "Day shift" --start 09:00 --end 17:00 --grace 5 --days mon-fri >/dev/null
data=$(find "$work/home" -name rollcall.db | head -1)
[[ -n $data ]] || { echo "check_deb: the command line wrote no database" >&2; exit 1; }
before=$(sha256sum "$data" | cut -d' ' -f1)
step "removing and purging $package"
dpkg -r "$package" >/dev/null
dpkg -P "$package" >/dev/null
[[ ! -e /opt/rollcall && ! -e /usr/bin/rollcall ]] || { echo "check_deb: files left after purge" >&2; exit 1; }
[[ -f $data && $(sha256sum "$data" | cut -d' ' -f1) == "$before" ]] \
  || { echo "check_deb: the user's data did not survive removal" >&2; exit 1; }
step "OK: installed, self-tested offline, removed; the user's data ($data) is kept"
