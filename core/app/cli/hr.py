"""HR: holidays, leave, audited punches and corrections, the audit log, timesheets, month locks, charts, export."""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime
from pathlib import Path

from core.app.cli.common import ExitCode, open_engine, parse_day
from core.base.errors import RollcallError


def _month(text: str) -> str:
    from core.attendance.schedule import month_key, parse_month

    try:
        return month_key(parse_month(text))
    except RollcallError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _moment(text: str) -> datetime:
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a time; use "YYYY-MM-DD HH:MM" (site time)') from None


def _year_span(args: argparse.Namespace) -> tuple[date, date]:
    """--from/--to, by default this calendar year."""
    today = date.today()
    return args.start or date(today.year, 1, 1), args.end or date(today.year, 12, 31)


def cmd_holiday(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        if args.action == "list":
            groups = {g.id: g.name for g in engine.groups()}
            for item in engine.holidays_between(*_year_span(args)):
                scope = f"group {groups.get(item.group_id, item.group_id)}" if item.group_id else "the whole site"
                print(f"#{item.id}  {item.day.isoformat()}  {item.name}  ({scope})")
            return ExitCode.OK
        group = engine.find_group(args.group) if args.group else None
        holiday = engine.add_holiday(args.day, args.name, group.id if group else None).value
        print(f"holiday {holiday.day.isoformat()} ({holiday.name}) for {group.name if group else 'the whole site'}")
        return ExitCode.OK


def cmd_leave(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        if args.action == "list":
            names = {o.person.id: o.person.name for o in engine.people(include_inactive=True)}
            for item in engine.leave_between(*_year_span(args)):
                who = names.get(item.person_id, f"person {item.person_id}")
                print(
                    f"#{item.id}  {item.first_day.isoformat()} to {item.last_day.isoformat()}  {who}  ({item.reason})"
                )
            return ExitCode.OK
        person = engine.find_person(args.person)
        leave = engine.add_leave(person.id, args.first, args.last, args.reason).value
        print(
            f"leave for {person.name}: {leave.first_day.isoformat()} to {leave.last_day.isoformat()} ({leave.reason})"
        )
        return ExitCode.OK


def cmd_punch(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        person = engine.find_person(args.person)
        correction = engine.punch(person.id, args.at, args.reason).value
        assert correction.time is not None  # a punch always has its time
        shown = correction.time.astimezone(engine.site_zone())
        print(f"punch {correction.id}: {person.name} at {shown:%Y-%m-%d %H:%M} ({correction.reason})")
        return ExitCode.OK


def cmd_correct(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        if args.void:
            correction = engine.void_event(args.event_id, args.reason).value
            print(f"event {args.event_id} voided ({correction.reason})")
        else:
            person = engine.find_person(args.person)
            correction = engine.reassign_event(args.event_id, person.id, args.reason).value
            print(f"event {args.event_id} now counts for {person.name} ({correction.reason})")
        return ExitCode.OK


def cmd_audit(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        names: dict[int | None, str] = {p.person.id: p.person.name for p in engine.people(include_inactive=True)}
        entries = engine.audit_log()
        if args.json:
            for e in entries:
                print(
                    json.dumps(
                        {
                            "id": e.id,
                            "at": e.at.isoformat(),
                            "actor": e.actor,
                            "action": e.action.value,
                            "subject": e.subject,
                            "person_id": e.person_id,
                            "person": names.get(e.person_id),
                            "reason": e.reason,
                            "details": e.details,
                        },
                        ensure_ascii=False,
                    )
                )
            return ExitCode.OK
        zone = engine.site_zone()
        for e in entries:
            who = f" {names[e.person_id]}" if e.person_id in names else ""
            why = f": {e.reason}" if e.reason else ""
            print(f"{e.at.astimezone(zone):%Y-%m-%d %H:%M:%S} {e.actor} {e.action.value} {e.subject}{who}{why}")
        print(f"{len(entries)} entries")
        return ExitCode.OK


def cmd_timesheet(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        path = engine.export_timesheet(args.month, Path(args.out), with_days=args.days)
        print(f"timesheet {args.month} written to {path}")
        return ExitCode.OK


def cmd_lock(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        if args.command == "lock":
            done = engine.lock_month(args.month).value
            print(f"{args.month} {'locked' if done else 'was already locked'}")
        else:
            done = engine.unlock_month(args.month, args.reason).value
            print(f"{args.month} {'unlocked' if done else 'was not locked'}")
        return ExitCode.OK


def cmd_charts(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        for path in engine.save_charts(args.month, Path(args.out)):
            print(f"chart: {path}")
        return ExitCode.OK


def cmd_export(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        end = args.end or args.start
        count = engine.export_csv(Path(args.out), args.start, end)
        print(f"wrote {count} rows to {args.out}")
        return ExitCode.OK


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("holiday", help="holidays for the whole site or one group")
    holiday_sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = holiday_sub.add_parser("add", help="add a holiday")
    add.add_argument("day", type=parse_day, help="YYYY-MM-DD")
    add.add_argument("--name", default="Holiday")
    add.add_argument("--group", help="only this group (default: the whole site)")
    listing = holiday_sub.add_parser("list", help="list holidays (default: this calendar year)")
    listing.add_argument("--from", dest="start", type=parse_day, help="first day, YYYY-MM-DD")
    listing.add_argument("--to", dest="end", type=parse_day, help="last day, YYYY-MM-DD")
    p.set_defaults(func=cmd_holiday)

    p = subparsers.add_parser("leave", help="leave for one person over a range of days")
    leave_sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = leave_sub.add_parser("add", help="add leave")
    add.add_argument("person", help="name or id")
    add.add_argument("first", type=parse_day, help="first day, YYYY-MM-DD")
    add.add_argument("last", type=parse_day, help="last day, YYYY-MM-DD (inclusive)")
    add.add_argument("--reason", default="leave")
    listing = leave_sub.add_parser("list", help="list leave (default: this calendar year)")
    listing.add_argument("--from", dest="start", type=parse_day, help="first day, YYYY-MM-DD")
    listing.add_argument("--to", dest="end", type=parse_day, help="last day, YYYY-MM-DD")
    p.set_defaults(func=cmd_leave)

    p = subparsers.add_parser("punch", help="a manual punch (audited; the raw events are not touched)")
    p.add_argument("person", help="name or id")
    p.add_argument("--at", required=True, type=_moment, help='"YYYY-MM-DD HH:MM", site time')
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_punch)

    p = subparsers.add_parser("correct", help="void an event or count it for another person (audited)")
    p.add_argument("event_id", type=int)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--person", help="the person the event counts for (name or id)")
    target.add_argument("--void", action="store_true", help="the event no longer counts")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_correct)

    p = subparsers.add_parser("audit", help="the audit log, newest first")
    p.add_argument("--json", action="store_true", help="one JSON object per entry")
    p.set_defaults(func=cmd_audit)

    p = subparsers.add_parser("timesheet", help="a month's timesheet as XLSX or CSV")
    p.add_argument("--month", required=True, type=_month, help="YYYY-MM")
    p.add_argument("-o", "--out", required=True, help="FILE.xlsx or FILE.csv")
    p.add_argument("--days", action="store_true", help="XLSX: add a sheet with one row per person per day")
    p.set_defaults(func=cmd_timesheet)

    p = subparsers.add_parser("lock", help="lock a month once its timesheet is final")
    p.add_argument("month", type=_month, help="YYYY-MM")
    p.set_defaults(func=cmd_lock)

    p = subparsers.add_parser("unlock", help="unlock a month (audited, with a reason)")
    p.add_argument("month", type=_month, help="YYYY-MM")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_lock)

    p = subparsers.add_parser("charts", help="save a month's attendance charts as PNG files")
    p.add_argument("--month", required=True, type=_month, help="YYYY-MM")
    p.add_argument("-o", "--out", default=".", help="folder (default: here)")
    p.set_defaults(func=cmd_charts)

    p = subparsers.add_parser("export", help="export attendance events as CSV")
    p.add_argument("out", help="CSV file to write")
    p.add_argument("--start", type=parse_day, default=date.today())
    p.add_argument("--end", type=parse_day)
    p.set_defaults(func=cmd_export)
