"""scripts/make_deb.sh builds a real Debian package (dpkg-deb) of a bundle folder: the files it installs,
its launcher and its metadata. (The real kiosk bundle takes minutes to build; scripts/check_deb.sh
installs and self-tests that one.)"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.kits.paths import REPO

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")


def test_the_kiosk_package_installs_the_bundle_a_launcher_a_desktop_entry_and_an_autostart_unit(tmp_path):
    bundle = tmp_path / "dist" / "Rollcall-kiosk"
    (bundle / "_internal").mkdir(parents=True)
    exe = bundle / "Rollcall-kiosk"
    exe.write_text('#!/bin/sh\necho "bundle ran with: $*"\n')
    exe.chmod(0o755)
    done = subprocess.run(
        ["scripts/make_deb.sh", "kiosk"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "ROLLCALL_DIST": str(tmp_path / "dist")},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    deb = next((tmp_path / "dist").glob("rollcall-kiosk_*_amd64.deb"))

    def field(name: str) -> str:
        return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True).stdout.strip()

    assert field("Package") == "rollcall-kiosk" and field("Architecture") == "amd64"
    assert field("Conflicts") == "rollcall"
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    assert (root / "opt/rollcall/Rollcall-kiosk").stat().st_mode & 0o111
    launcher = root / "usr/bin/rollcall"
    assert launcher.read_text().strip().endswith('exec /opt/rollcall/Rollcall-kiosk "$@"')
    desktop = (root / "usr/share/applications/rollcall.desktop").read_text()
    assert "Exec=/usr/bin/rollcall" in desktop and "Icon=rollcall" in desktop
    unit = (root / "usr/lib/systemd/user/rollcall-kiosk.service").read_text()
    assert "ExecStart=/usr/bin/rollcall --kiosk" in unit
    assert (root / "usr/share/icons/hicolor/scalable/apps/rollcall.svg").exists()
    control = tmp_path / "control"
    subprocess.run(["dpkg-deb", "-e", str(deb), str(control)], check=True)
    postrm = (control / "postrm").read_text()
    assert "rm " not in postrm  # removing the package never deletes users' data


def test_a_missing_bundle_says_how_to_build_it(tmp_path):
    done = subprocess.run(
        ["scripts/make_deb.sh", "kiosk"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "ROLLCALL_DIST": str(tmp_path)},
        timeout=60,
    )
    assert done.returncode == 1 and "make package EDITION=kiosk" in done.stderr
