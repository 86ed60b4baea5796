"""`rollcall site`: init, join, sync, status and leave of site mode."""

from __future__ import annotations

import argparse
import json
import os
import sys

from core.app.cli.common import ExitCode, advance, open_engine, progress_bar
from core.app.cli.reporting import add_reporter_parser


def _site_url(text: str) -> str:
    """The server URL from the argument, or from stdin with `-` (keeps the password out of shell history)."""
    url = sys.stdin.readline().strip() if text == "-" else text
    return url or os.environ.get("ROLLCALL_SITE_URL", "")


def cmd_site(args: argparse.Namespace) -> int:
    from core.site.connection import SiteError
    from core.site.intake import MIB

    with open_engine(args) as engine:
        if args.action == "init":
            status = engine.site_init(_site_url(args.url), args.station).value
            print(f"admin station {status.station!r} of {status.server}; gallery version {status.gallery_version}")
            return ExitCode.OK
        if args.action == "join":
            status = engine.site_join(_site_url(args.url), args.kiosk).value
            people = engine.stats().people
            print(
                f"kiosk {status.station!r} of {status.server}; {people} people pulled "
                f"(gallery version {status.gallery_version})"
            )
            if status.notice:
                print(f"warning: {status.notice}", file=sys.stderr)
            return ExitCode.OK
        if args.action == "leave":
            keeps = engine.site.what_leaving_keeps()
            engine.site_leave(force=args.force)
            print(f"left the site; this station is standalone again. {keeps}")
            return ExitCode.OK
        if args.action == "retire":
            engine.site_retire(args.kiosk)
            print(f"kiosk {args.kiosk!r} retired: its login no longer works and its sessions are ended")
            return ExitCode.OK
        if args.action == "sync":
            with progress_bar("upload") as bar:
                try:
                    generator = engine.site_sync()
                    while True:
                        step = next(generator)
                        if step.total:
                            advance(bar, step.done, step.total)
                except StopIteration as done:
                    report = done.value.value
                except SiteError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    print(
                        f"  {engine.site_status(check_server=False).queue} events stay queued on this station",
                        file=sys.stderr,
                    )
                    return ExitCode.SITE_ERROR
            pulled = report.pull
            print(
                f"sent {report.uploaded} events, {report.queue_left} queued; gallery version "
                f"{pulled.to_version if pulled else '?'} ({pulled.people if pulled else 0} people, "
                f"{pulled.erased_people if pulled else 0} erased)"
            )
            mirrored = report.events_mirrored
            if mirrored and mirrored.skipped:
                print(
                    f"skipped {mirrored.skipped} rows of other stations that cannot be used (`rollcall site status`"
                    " lists them)"
                )
            for model_id in report.models_published:
                print(f"sent model {model_id}'s files to the site server")
            for model_id in report.models_installed:
                print(f"installed model {model_id} from the site server")
            for refused in report.models_refused:
                print(f"error: {refused.reason}", file=sys.stderr)
            return ExitCode.SITE_ERROR if report.models_refused else ExitCode.OK
        status = engine.site_status()
        if args.json:
            print(json.dumps(status.to_json()))
            return ExitCode.OK
        if status.role == "standalone":
            print("standalone (not part of a site)")
            return ExitCode.OK
        reach = "reachable" if status.reachable else f"NOT reachable: {status.error}"
        print(f"{status.role} {status.station!r} of {status.server}: {reach}")
        print(
            f"last sync: {status.last_sync.isoformat() if status.last_sync else 'never'}; "
            f"queue: {status.queue} events; gallery version {status.gallery_version}"
            + (f" (server {status.server_gallery_version})" if status.server_gallery_version is not None else "")
        )
        for station in status.stations:
            seen = station.last_contact.isoformat() if station.last_contact else "never"
            kind = "admin" if station.is_admin else "kiosk"
            print(
                f"  {kind} {station.name}: last contact {seen}, queue {station.queue_length}, "
                f"{station.events_on_server} events on the server" + (" (left)" if station.left else "")
            )
            if status.quota and not station.left:
                rows, size = status.quota
                refused = f"; uploads REFUSED at {station.refused_at.isoformat()}" if station.refused_at else ""
                print(
                    f"    this hour: {station.rows_this_hour} of {rows} rows, "
                    f"{station.bytes_this_hour / MIB:.1f} of {size / MIB:.0f} MiB{refused}"
                )
        if status.pending_held_by:
            print(f"absences pending: held longest by {status.pending_held_by}")
        for gap in status.server_gaps:
            print(f"server hardening: {gap} (docs/security.md, Server settings)")
        if status.refused_total:
            print(f"the server refused {status.refused_total} of this station's events (kept here); the latest:")
            for row in status.refused[-10:]:
                print(f"  {row.at} event {row.row}: {row.why}")
        if status.skipped_total:
            print(f"skipped {status.skipped_total} rows of other stations that cannot be used; the latest:")
            for row in status.skipped[-10:]:
                print(f"  {row.at} station {row.station}, row {row.row}: {row.why}")
        return ExitCode.OK


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("site", help="site mode: many stations, one PostgreSQL server")
    site_sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = site_sub.add_parser("init", help="make this data folder the site's admin station (creates the schema)")
    q.add_argument(
        "url", help="postgresql://OWNER:PASSWORD@HOST:PORT/DB?sslmode=verify-full, or - to read it from stdin"
    )
    q.add_argument("--station", default="admin", help="this admin station's name (default admin)")
    q = site_sub.add_parser("join", help="make this data folder a kiosk of the site and pull the gallery")
    q.add_argument("url", help="the owner's URL (used once, to create this kiosk's own login), or -")
    q.add_argument("--kiosk", required=True, help="this kiosk's name, e.g. north-door")
    site_sub.add_parser("sync", help="one push-and-pull round now")
    q = site_sub.add_parser("retire", help="(admin station) retire a kiosk's login now, e.g. a stolen kiosk")
    q.add_argument("--kiosk", required=True, help="the kiosk's name")
    q = site_sub.add_parser("status", help="role, server, last sync, queue (and every station, on the admin)")
    q.add_argument("--json", action="store_true")
    q = site_sub.add_parser("leave", help="back to standalone, keeping local data")
    q.add_argument("--force", action="store_true", help="leave even with events not yet on the server")
    add_reporter_parser(site_sub)
    p.set_defaults(func=cmd_site)
