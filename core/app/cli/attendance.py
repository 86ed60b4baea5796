"""`rollcall report` and `group`: the day's attendance, and the groups with their schedules."""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import TYPE_CHECKING

from core.app.cli.common import ExitCode, open_engine, parse_day
from core.base.errors import InvalidInputError

if TYPE_CHECKING:
    from core.app.engine import Engine


def cmd_report(args: argparse.Namespace) -> int:
    """Every enrolled person's day status; --json prints one object per person (a contract)."""
    with open_engine(args) as engine:
        if engine.site.joined and engine.site.role == "admin" and not args.json:
            return _site_report(engine, args.day or engine.site_today())
        day = args.day or engine.site_today()
        rows = engine.day_board(day, args.group)
        if args.json:
            for row in rows:
                print(json.dumps(row.to_json(), ensure_ascii=False))
            return ExitCode.OK
        attended = sum(1 for r in rows if r.status.attended)
        print(f"Attendance on {day.isoformat()}: {attended} people present of {len(rows)} enrolled")
        for row in rows:
            ext = f" [{row.external_id}]" if row.external_id else ""
            seen = f", first {row.first_seen:%H:%M:%S}, last {row.last_seen:%H:%M:%S}" if row.first_seen else ""
            late = f" ({row.late_minutes} min)" if row.late_minutes else ""
            shift = f" [{row.shift}]" if row.shift else ""
            outside = (
                ", outside any window " + " ".join(f"{m:%H:%M:%S}" for m in row.outside_window)
                if row.outside_window
                else ""
            )
            print(f"  {row.name}{ext}{shift}: {row.status.value}{late}{seen}{outside}")
        return ExitCode.OK


def cmd_explain(args: argparse.Namespace) -> int:
    """Why a person's day has its status; --json prints one object (a contract)."""
    with open_engine(args) as engine:
        person = engine.find_person(args.person)
        explained = engine.explain_day(person.id, args.day)
        if args.json:
            print(json.dumps(explained.to_json(), ensure_ascii=False))
        else:
            print("\n".join(explained.lines()))
        return ExitCode.OK


def _site_report(engine: Engine, day: date) -> int:
    """On a site's admin station: who came anywhere on the site, with the kiosks that saw them."""
    rows = engine.day_report(day)
    print(f"Attendance on {day.isoformat()} across the site: {len(rows)} people")
    for row in rows:
        ext = f" [{row.external_id}]" if row.external_id else ""
        kiosks = ", ".join(getattr(row, "kiosks", ()))
        print(f"  {row.name}{ext}: first {row.first_seen:%H:%M:%S}, last {row.last_seen:%H:%M:%S} (kiosk: {kiosks})")
    return ExitCode.OK


def cmd_group(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        if args.action == "add":
            shift = engine.find_shift(args.shift) if args.shift else None
            if shift is None and not (args.start and args.end):
                raise InvalidInputError("Give the group's --start and --end, or a --shift it works by default.")
            start, end = args.start, args.end
            if shift is not None:  # the shift's times unless given
                start, end = start or f"{shift.schedule.start:%H:%M}", end or f"{shift.schedule.end:%H:%M}"
            group = engine.add_group(args.name, start, end, args.grace, args.days, args.min_hours).value
            if shift is not None:
                group = engine.set_group_shift(group.id, shift.id).value
                print(f"group {group.name}: works shift {shift.name} by default")
            s = group.schedule
            night = " (night shift, ends the next day)" if s.crosses_midnight else ""
            print(
                f"group {group.name}: {s.start:%H:%M}-{s.end:%H:%M}{night}, grace {s.grace_minutes} min, "
                f"days {s.days_text()}, minimum {s.min_hours:g} h"
            )
            if args.challenge:
                engine.set_group_challenge(group.id, True)
                print(f"group {group.name}: its people answer the liveness challenge before they are marked")
        elif args.action == "shift":
            group = engine.find_group(args.name)
            shift = None if args.shift.casefold() == "none" else engine.find_shift(args.shift)
            engine.set_group_shift(group.id, shift.id if shift else None, from_day=args.since)
            since = f" from {args.since.isoformat()}" if args.since else ""
            print(f"group {group.name}: default shift {shift.name if shift else 'its own schedule'}{since}")
        elif args.action == "challenge":
            group = engine.set_group_challenge(engine.find_group(args.name).id, args.state == "on").value
            print(f"group {group.name}: liveness challenge {'required' if group.require_challenge else 'not required'}")
        elif args.action == "assign":
            group = engine.find_group(args.name)
            for who in args.people:
                person = engine.find_person(who)
                engine.assign_group(person.id, group.id, from_day=args.since)
                print(f"{person.name} -> {group.name}" + (f" from {args.since.isoformat()}" if args.since else ""))
        else:
            shift_names = {shift.id: shift.name for shift in engine.shifts()}
            for group in engine.groups():
                s = group.schedule
                challenge = ", liveness challenge required" if group.require_challenge else ""
                default = f", default shift {shift_names[group.shift_id]}" if group.shift_id in shift_names else ""
                print(
                    f"{group.name}: {s.start:%H:%M}-{s.end:%H:%M}, grace {s.grace_minutes} min, "
                    f"days {s.days_text()}, minimum {s.min_hours:g} h{challenge}{default}"
                )
        return ExitCode.OK


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("report", help="every enrolled person's status on one day")
    p.add_argument("day", nargs="?", type=parse_day, default=None, help="YYYY-MM-DD (default today at the site)")
    p.add_argument("--group", help="only this group")
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per person: name, external_id, group, status, first_seen, last_seen, late_minutes, ...",
    )
    p.set_defaults(func=cmd_report)

    p = subparsers.add_parser("explain", help="why a person's day has its status (shift, sightings, rules)")
    p.add_argument("person", help="name or id")
    p.add_argument("day", type=parse_day, help="YYYY-MM-DD")
    p.add_argument("--json", action="store_true", help="one JSON object: the day's status, sightings, applied, rules")
    p.set_defaults(func=cmd_explain)

    p = subparsers.add_parser("group", help="groups (department, class, shift) and their schedules")
    group_sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = group_sub.add_parser("add", help="add a group with its schedule")
    add.add_argument("name")
    add.add_argument("--start", help="HH:MM, site time (required without --shift)")
    add.add_argument("--end", help="HH:MM; at or before the start = a night shift (required without --shift)")
    add.add_argument("--shift", help="the shift type its people work by default (see `rollcall shift add`)")
    add.add_argument("--grace", type=int, default=0, help="minutes after the start that still count as on time")
    add.add_argument("--days", default="mon-fri", help="working days: mon-fri, mon-sun, sat,sun, ...")
    add.add_argument("--min-hours", type=float, default=0.0, help="hours for a full day (0 = no minimum)")
    add.add_argument(
        "--challenge",
        action="store_true",
        help="its people turn their head as asked (liveness challenge) before they are marked",
    )
    default_shift = group_sub.add_parser("shift", help="set a group's default shift ('none': its own schedule)")
    default_shift.add_argument("name")
    default_shift.add_argument("shift")
    default_shift.add_argument(
        "--from", dest="since", type=parse_day, help="the day it applies from (default today; never the past silently)"
    )
    challenge = group_sub.add_parser("challenge", help="require the liveness challenge for a group, or stop")
    challenge.add_argument("name")
    challenge.add_argument("state", choices=["on", "off"])
    assign = group_sub.add_parser("assign", help="put people in a group")
    assign.add_argument("name")
    assign.add_argument("people", nargs="+", help="names or ids")
    assign.add_argument(
        "--from", dest="since", type=parse_day, help="the day it applies from (default today; a first group: always)"
    )
    group_sub.add_parser("list", help="list the groups")
    p.set_defaults(func=cmd_group)
