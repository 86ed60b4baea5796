"""`rollcall unknowns`: unknown visitors grouped by face, listed, enrolled, added or dismissed; an add undone,
a dismissed group restored."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.app.cli.common import ExitCode, open_engine, parse_day, print_report
from core.base.errors import DuplicateNameError


def cmd_unknowns(args: argparse.Namespace) -> int:
    """Unknown visitors, grouped; --json prints one object per group (a contract, see the README)."""
    span = {"first": args.first, "last": args.last}
    with open_engine(args) as engine:
        if args.action == "enroll":
            try:
                report = engine.enroll_unknown_group(args.id, args.name, args.group, **span).value
            except DuplicateNameError as exc:
                print(
                    f"error: {exc}\n  to add this group to them: rollcall unknowns assign {args.id} --person ID",
                    file=sys.stderr,
                )
                return ExitCode.ERROR
            print_report(report)
            return ExitCode.OK
        if args.action == "assign":
            person = engine.find_person(args.person)
            record = engine.assign_unknown_group(args.id, person.id, **span).value
            print(f"added to {person.name} (id {person.id}); {len(record.event_ids)} sightings count as theirs")
            print_report(record.report)
            return ExitCode.OK
        if args.action == "unassign":
            record = engine.undo_unknown_assign(args.id).value
            print(
                f"undone: unknown group {args.id} is back in review; {len(record.sample_ids)} face samples removed "
                f"from {record.person_name}, {len(record.event_ids)} sightings no longer count as theirs"
            )
            return ExitCode.OK
        if args.action == "dismissed":
            for visitor in engine.dismissed_unknowns():
                kept = f"kept until {visitor.kept_until:%Y-%m-%d}" if visitor.kept_until else "kept"
                print(
                    f"{visitor.id:>6}  {visitor.count:>3} sightings  {visitor.first_seen:%Y-%m-%d %H:%M} - "
                    f"{visitor.last_seen:%Y-%m-%d %H:%M}  {', '.join(visitor.sources)}  {kept}"
                )
            return ExitCode.OK
        if args.action == "restore":
            visitor = engine.restore_unknown_group(args.id).value
            print(f"restored unknown group {args.id}: {visitor.count} faces are back in review")
            return ExitCode.OK
        if args.action == "dismiss":
            dismissed = engine.dismiss_unknown_group(args.id, **span).value
            print(f"dismissed unknown group {args.id}: {dismissed} face{'s' if dismissed != 1 else ''}")
            return ExitCode.OK
        first, last = engine.unknown_range(args.first, args.last)
        groups = engine.unknown_groups(first, last)
        folder = Path(args.snapshots).expanduser() if args.snapshots else engine.review_snapshots_dir
        from core.gallery.unknowns import write_group_snapshots  # numpy and the models only when listing

        paths = write_group_snapshots(groups, folder)
        for group in groups:
            if args.json:
                print(
                    json.dumps(
                        {
                            "id": group.id,
                            "count": group.count,
                            "first_seen": group.first_seen.isoformat(),
                            "last_seen": group.last_seen.isoformat(),
                            "sources": list(group.sources),
                            "snapshot": str(paths[group.id]),
                            "face_ids": list(group.face_ids),
                        }
                    )
                )
            else:
                print(
                    f"{group.id:>6}  {group.count:>3} sighting{'s' if group.count != 1 else ' '}  "
                    f"{group.first_seen:%Y-%m-%d %H:%M} - {group.last_seen:%Y-%m-%d %H:%M}  "
                    f"{', '.join(group.sources)}  {paths[group.id]}"
                )
        if not args.json:
            print(
                f"{len(groups)} open unknown groups from {first} to {last}"
                if groups
                else f"no open unknown groups from {first} to {last}"
            )
        return ExitCode.OK


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "unknowns",
        help="unknown visitors grouped by face: list, enroll, add to a person, dismiss",
        description="Without an action: list the open groups of unknown faces seen from --from to "
        "--to (default: the last review.days_shown days). Each group's best face is "
        "written as unknown-group-ID.jpg under --snapshots (default: the data "
        "folder's unknowns/, rewritten by each listing); with --json one object per "
        "group: id, count, first_seen, last_seen, sources, snapshot (that file's "
        "path), face_ids. The actions take a group's id from the same days.",
    )
    span = argparse.ArgumentParser(add_help=False)  # the actions' --from/--to, left unset unless given
    span.add_argument(
        "--from",
        dest="first",
        type=parse_day,
        default=argparse.SUPPRESS,
        help="first day, YYYY-MM-DD (default: see above)",
    )
    span.add_argument("--to", dest="last", type=parse_day, default=argparse.SUPPRESS, help="last day (default today)")
    p.add_argument(
        "--from", dest="first", type=parse_day, help="first day, YYYY-MM-DD (default: the last review.days_shown days)"
    )
    p.add_argument("--to", dest="last", type=parse_day, help="last day, YYYY-MM-DD (default today)")
    p.add_argument("--json", action="store_true", help="one JSON object per group")
    p.add_argument("--snapshots", help="folder for the groups' snapshot JPEGs (default: <data folder>/unknowns)")
    unknowns_sub = p.add_subparsers(dest="action", metavar="ACTION")
    q = unknowns_sub.add_parser("enroll", parents=[span], help="enroll a group as a new person (its best faces)")
    q.add_argument("id", type=int, help="the group's id, as listed")
    q.add_argument("--name", required=True)
    q.add_argument("--group", help="the schedule group the new person belongs to")
    q = unknowns_sub.add_parser("assign", parents=[span], help="add a group's best faces to an enrolled person")
    q.add_argument("id", type=int)
    q.add_argument("--person", required=True, help="name or id")
    q = unknowns_sub.add_parser("dismiss", parents=[span], help="nobody to enroll: the group leaves the list")
    q.add_argument("id", type=int)
    q = unknowns_sub.add_parser("unassign", help="undo an assign: samples removed, sightings no longer theirs")
    q.add_argument("id", type=int, help="the group's id when it was assigned")
    unknowns_sub.add_parser("dismissed", help="list the dismissed groups retention still keeps")
    q = unknowns_sub.add_parser("restore", help="a dismissed group goes back to review")
    q.add_argument("id", type=int, help="the group's id, as `unknowns dismissed` lists it")
    p.set_defaults(func=cmd_unknowns)
