"""`rollcall edit|remove|person|held|verify-lock`: put right what HR entered, a person's working life, and the
sightings held for a locked month. Every change is audited and refused when it would alter a locked month."""

from __future__ import annotations

import argparse

from core.app.cli.common import ExitCode, open_engine, parse_day
from core.base.dated import HeldState


def cmd_edit(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        kind, since = args.kind, args.since
        if kind == "holiday":
            item = engine.edit_holiday(int(args.target), args.day, args.name).value
            print(f"holiday {item.id}: {item.day.isoformat()} {item.name}")
        elif kind == "leave":
            reason = args.reason
            leave = engine.edit_leave(int(args.target), args.first, args.last, reason).value
            print(f"leave {leave.id}: {leave.first_day.isoformat()} to {leave.last_day.isoformat()} ({leave.reason})")
        elif kind == "assignment":
            shift = (
                "keep" if args.shift is None else (None if args.shift == "off" else engine.find_shift(args.shift).id)
            )
            assignment = engine.edit_assignment(int(args.target), shift, args.first, args.last or "keep").value
            print(f"assignment {assignment.id}: from {assignment.first_day} to {assignment.last_day or 'open'}")
        elif kind == "group":
            group = engine.find_group(args.target)
            group = engine.edit_group(
                group.id,
                name=args.name,
                start=args.start,
                end=args.end,
                grace_minutes=args.grace,
                days=args.days,
                from_day=since,
            ).value
            print(
                f"group {group.name}: {group.schedule.start:%H:%M}-{group.schedule.end:%H:%M}"
                + (f" from {since.isoformat()}" if since else "")
            )
        else:
            found = engine.find_shift(args.target)
            edited = engine.edit_shift(
                found.id,
                name=args.name,
                start=args.start,
                end=args.end,
                days=args.days,
                late_grace=args.grace,
                from_day=since,
            ).value
            print(
                f"shift {edited.name}: {edited.schedule.start:%H:%M}-{edited.schedule.end:%H:%M}"
                + (f" from {since.isoformat()}" if since else "")
            )
    return ExitCode.OK


def cmd_remove(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        removers = {
            "holiday": lambda: engine.remove_holiday(int(args.target)),
            "leave": lambda: engine.remove_leave(int(args.target), args.reason or ""),
            "assignment": lambda: engine.remove_assignment(int(args.target)),
            "rotation": lambda: engine.remove_rotation(int(args.target)),
            "group": lambda: engine.remove_group(engine.find_group(args.target).id),
            "shift": lambda: engine.remove_shift(engine.find_shift(args.target).id),
        }
        removers[args.kind]()
        print(f"removed {args.kind} {args.target}")
    return ExitCode.OK


def cmd_person(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        person = engine.find_person(args.person)
        if args.external_id is not None or args.clear_external_id:
            person = engine.set_external_id(person.id, None if args.clear_external_id else args.external_id).value
            print(f"{person.name}: employee ID {person.external_id or 'none'}")
        if args.start or args.end:
            entry = engine.set_working_life(person.id, args.start or "keep", args.end or "keep").value
            print(f"{person.name}: joined {entry.start_day or 'on enrollment'}, left {entry.end_day or '-'}")
        if args.archive:
            engine.archive_person(person.id, args.archive, args.reason or "")
            print(
                f"{person.name}: archived (left {args.archive}); recognition stops, the record and timesheets "
                "stay. To erase them entirely (the right to be forgotten), use `rollcall delete`."
            )
        entry = engine.working_life(person.id)
        print(
            f"{person.name} (id {person.id}): employee ID {person.external_id or 'none'}, "
            f"joined {entry.first_day(engine.site_zone())}, left {entry.end_day or '-'}"
        )
    return ExitCode.OK


def cmd_held(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        if args.action == "count":
            events = engine.count_held(args.ids, args.reason).value
            print(f"counted {len(events)} held sightings (their months were unlocked)")
        elif args.action == "dismiss":
            print(f"dismissed {engine.dismiss_held(args.ids, args.reason).value} held sightings")
        else:
            state = None if args.all else HeldState.HELD
            names = {o.person.id: o.person.name for o in engine.people(include_inactive=True)}
            items = engine.held_sightings(args.month, state)
            print(f"{len(items)} sightings held for a locked month")
            for h in items:
                where = h.station or h.origin.value
                print(
                    f"  #{h.id} {h.time:%Y-%m-%d %H:%M} {names.get(h.person_id or 0, 'unknown')} ({where}) "
                    f"{h.state.value}"
                )
    return ExitCode.OK


def cmd_verify_lock(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        check = engine.verify_locked_month(args.month)
    if check.verified:
        print(f"{check.month}: the snapshot of {check.people} people verifies")
        return ExitCode.OK
    print(
        f"{check.month}: {len(check.differing)} of {check.people} people compute differently now "
        f"(person ids {', '.join(map(str, check.differing))}); the timesheet still shows the locked snapshot"
    )
    return ExitCode.NOT_DONE


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("edit", help="edit a holiday, leave, assignment (by id), a group or a shift (by name)")
    p.add_argument("kind", choices=["holiday", "leave", "assignment", "group", "shift"])
    p.add_argument("target", help="the id (`holiday list`, `leave list`, `shift assignments`) or the name")
    p.add_argument("--name", help="a new name (holiday, group, shift)")
    p.add_argument("--day", type=parse_day, help="holiday: its new day")
    p.add_argument("--first", type=parse_day, help="leave or assignment: first day")
    p.add_argument("--last", type=parse_day, help="leave or assignment: last day")
    p.add_argument("--reason", help="leave: its reason")
    p.add_argument("--shift", help="assignment: a shift name, or off")
    p.add_argument("--start", help="group or shift: HH:MM")
    p.add_argument("--end", help="group or shift: HH:MM")
    p.add_argument("--days", help="group or shift: working days, e.g. mon-fri")
    p.add_argument("--grace", type=int, help="group or shift: late grace in minutes")
    p.add_argument("--from", dest="since", type=parse_day, help="group or shift rules: apply from (default today)")
    p.set_defaults(func=cmd_edit)

    p = subparsers.add_parser("remove", help="remove a holiday, leave, assignment, rotation (by id), group or shift")
    p.add_argument("kind", choices=["holiday", "leave", "assignment", "rotation", "group", "shift"])
    p.add_argument("target", help="the id, or the group's or shift's name")
    p.add_argument("--reason", help="leave: why (cancelled, entered by mistake)")
    p.set_defaults(func=cmd_remove)

    p = subparsers.add_parser("person", help="a person's employee ID, start and end dates, or archive a leaver")
    p.add_argument("person", help="name or id")
    p.add_argument("--external-id", help="set or change the employee ID (unique)")
    p.add_argument("--clear-external-id", action="store_true")
    p.add_argument("--start", type=parse_day, help="joined on (days before are not counted)")
    p.add_argument("--end", type=parse_day, help="left after (days after read 'left')")
    p.add_argument(
        "--archive",
        type=parse_day,
        metavar="LAST_DAY",
        help="a leaver: recognition stops, the record and timesheets stay (unlike `delete`)",
    )
    p.add_argument("--reason", help="archive: why")
    p.set_defaults(func=cmd_person)

    p = subparsers.add_parser("held", help="sightings held for a locked month: list, count (unlock and count), dismiss")
    held = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = held.add_parser("list", help="the held sightings")
    listing.add_argument("--month", help="YYYY-MM")
    listing.add_argument("--all", action="store_true", help="also those counted or dismissed")
    for action, text in (("count", "unlock their months (audited) and count them"), ("dismiss", "do not count them")):
        one = held.add_parser(action, help=text)
        one.add_argument("ids", nargs="+", type=int)
        one.add_argument("--reason", required=True)
    p.set_defaults(func=cmd_held)

    p = subparsers.add_parser("verify-lock", help="check a locked month's snapshot against the month computed now")
    p.add_argument("month", help="YYYY-MM")
    p.set_defaults(func=cmd_verify_lock)
