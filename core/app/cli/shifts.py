"""`rollcall shift` and `roster`: shift types, dated assignments, rotating rosters, and who works when."""

from __future__ import annotations

import argparse
import json
from itertools import groupby

from core.app.cli.common import ExitCode, open_engine, parse_day
from core.base.timekeeping import OFF, HoursMode, Shift


def describe(shift: Shift) -> str:
    s = shift.schedule
    night = " (night, ends the next day)" if s.crosses_midnight else ""
    window = (
        ", ".join(
            f"{label} {minutes} min"
            for label, minutes in (
                ("check-in from", s.checkin_before_minutes),
                ("check-out until", s.checkout_after_minutes),
            )
            if minutes is not None
        )
        or "window: half the off-duty gap"
    )
    limits = "".join(
        f", {label} below {hours:g} h"
        for label, hours in (("half day", s.half_day_below), ("absent", s.absent_below), ("short day", s.min_hours))
        if hours
    )
    return (
        f"{shift.name}: {s.start:%H:%M}-{s.end:%H:%M}{night}, days {s.days_text()}, late grace "
        f"{s.grace_minutes} min, early grace {s.early_grace} min, {window}{limits}, hours {s.hours_mode.value}"
    )


def cmd_shift(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        if args.action == "add":
            shift = engine.add_shift(
                args.name,
                args.start,
                args.end,
                args.days,
                args.late_grace,
                args.early_grace,
                args.checkin_before,
                args.checkout_after,
                args.half_day_below,
                args.absent_below,
                args.hours,
                args.min_hours,
            ).value
            print(f"shift {describe(shift)}")
        elif args.action == "assign":
            person = engine.find_person(args.person)
            assigned = None if args.shift.casefold() == OFF else engine.find_shift(args.shift)
            assignment = engine.assign_shift(person.id, assigned.id if assigned else None, args.first, args.last).value
            until = assignment.last_day.isoformat() if assignment.last_day else "further notice"
            works = f"works {assigned.name}" if assigned else "is off"
            print(f"{person.name} {works} from {assignment.first_day.isoformat()} until {until}")
        elif args.action == "rotate":
            person = engine.find_person(args.person)
            rotation = engine.rotate_shift(person.id, args.pattern, args.first).value
            print(
                f"{person.name} rotates through {len(rotation.pattern)} days from {rotation.first_day.isoformat()}:"
                f" {args.pattern}"
            )
        else:
            shifts = engine.shifts()
            for shift in shifts:
                print(describe(shift))
            if not shifts:
                print("No shifts yet; add one with `rollcall shift add`.")
            names = {shift.id: shift.name for shift in shifts}
            people = {o.person.id: o.person.name for o in engine.people(include_inactive=True)}
            for a in engine.shift_assignments():
                works = names.get(a.shift_id, OFF) if a.shift_id is not None else OFF
                until = a.last_day.isoformat() if a.last_day else "further notice"
                print(f"assignment #{a.id}: {people.get(a.person_id)} {works} from {a.first_day} until {until}")
            for r in engine.shift_rotations():
                print(f"rotation #{r.id}: {people.get(r.person_id)} from {r.first_day}, {len(r.pattern)} days")
        return ExitCode.OK


def cmd_roster(args: argparse.Namespace) -> int:
    """Person x day: each day's shift code ('-' = not working, blank = no shift)."""
    with open_engine(args) as engine:
        cells = engine.roster(args.first, args.last, args.group)
        if args.json:
            for cell in cells:
                print(json.dumps(cell.to_json(), ensure_ascii=False))
            return ExitCode.OK
        days = sorted({cell.day for cell in cells})
        width = max([len(c.shift or "") for c in cells] + [5])
        names = max([len(c.name) for c in cells] + [6])
        print(" " * names + " " + " ".join(f"{d:%m-%d}".ljust(width) for d in days))
        for _, row in groupby(cells, key=lambda c: c.person_id):
            row_cells = list(row)
            codes = [(c.shift if c.working else "-") if c.shift else "" for c in row_cells]
            print(row_cells[0].name.ljust(names) + " " + " ".join(code.ljust(width) for code in codes))
        return ExitCode.OK


def _minutes(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; give minutes from 0")
    return value


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("shift", help="shift types, dated assignments and rotating rosters")
    shift_sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = shift_sub.add_parser("add", help="add a shift type")
    add.add_argument("name", help="also its code in rosters and timesheets, e.g. Day or Night")
    add.add_argument("--start", required=True, help="HH:MM, site time")
    add.add_argument("--end", required=True, help="HH:MM; at or before the start = a night shift")
    add.add_argument("--days", default="mon-fri", help="working days: mon-fri, mon-sun, sat,sun, ...")
    add.add_argument("--late-grace", type=_minutes, default=0, help="minutes after the start still on time")
    add.add_argument(
        "--early-grace",
        type=_minutes,
        default=None,
        help="minutes before the end that are not early leave (default: the late grace)",
    )
    add.add_argument(
        "--checkin-before",
        type=_minutes,
        default=None,
        help="a sighting counts from this many minutes before the start (default: half the off-duty gap)",
    )
    add.add_argument(
        "--checkout-after",
        type=_minutes,
        default=None,
        help="... up to this many minutes after the end (default: half the off-duty gap)",
    )
    add.add_argument("--half-day-below", type=float, default=0.0, help="fewer hours make a half day (0 = never)")
    add.add_argument("--absent-below", type=float, default=0.0, help="fewer hours make an absence (0 = never)")
    add.add_argument("--min-hours", type=float, default=0.0, help="fewer hours make a short day (0 = no minimum)")
    add.add_argument(
        "--hours",
        choices=[m.value for m in HoursMode],
        default=HoursMode.FIRST_LAST.value,
        help="first-last: first to last sighting; pairs: in-out pairs, so breaks are left out",
    )
    assign = shift_sub.add_parser("assign", help="a person works a shift over a range of dates (over their group's)")
    assign.add_argument("person", help="name or id")
    assign.add_argument("shift", help="shift name, or off")
    assign.add_argument("--from", dest="first", required=True, type=parse_day, help="first day, YYYY-MM-DD")
    assign.add_argument(
        "--to", dest="last", type=parse_day, default=None, help="last day, inclusive (default: until further notice)"
    )
    rotate = shift_sub.add_parser("rotate", help="a rotating roster repeated from a date")
    rotate.add_argument("person", help="name or id")
    rotate.add_argument("--pattern", required=True, help='shift names, one a day, "off" for a day off: "Day,Night,off"')
    rotate.add_argument("--from", dest="first", required=True, type=parse_day, help="the pattern's first day")
    shift_sub.add_parser("list", help="list the shift types")
    p.set_defaults(func=cmd_shift)

    p = subparsers.add_parser("roster", help="who works which shift on each day (person x day)")
    p.add_argument("--from", dest="first", required=True, type=parse_day, help="YYYY-MM-DD")
    p.add_argument("--to", dest="last", required=True, type=parse_day, help="YYYY-MM-DD (inclusive)")
    p.add_argument("--group", help="only this group")
    p.add_argument("--json", action="store_true", help="one JSON object per person and day")
    p.set_defaults(func=cmd_roster)
