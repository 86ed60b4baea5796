"""`rollcall integrations`: targets that receive attendance (ERPNext, Odoo, signed webhooks), delivery now,
and the outbox's state. Secrets are read from files, never from the command line (shell history, ps)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import TYPE_CHECKING

from core.app.cli.common import ExitCode, advance, open_engine, parse_day, progress_bar
from core.integrations.http import CLOCK_SKEW
from core.integrations.targets import Target, TargetKind, read_secret_file
from core.site.records import SiteRole

if TYPE_CHECKING:
    from core.app.engine import Engine


def _target(args: argparse.Namespace) -> tuple[Target, str]:
    kind = TargetKind(args.kind)
    secret_option = {
        TargetKind.WEBHOOK: "secret_file",
        TargetKind.ERPNEXT: "api_key_file",
        TargetKind.ODOO: "password_file",
    }[kind]
    secret_file = getattr(args, secret_option)
    target = Target(
        args.name,
        kind,
        args.url,
        getattr(args, "employee_field", None) or "",
        getattr(args, "db", None) or "",
        getattr(args, "user", None) or "",
        not args.insecure,
        latitude=getattr(args, "latitude", None),
        longitude=getattr(args, "longitude", None),
        shift_types=tuple(getattr(args, "shift_type", None) or ()),
    )
    return target, read_secret_file(secret_file)


def cmd_add(args: argparse.Namespace) -> int:
    target, secret = _target(args)
    with open_engine(args) as engine:
        saved = engine.add_integration(target, secret, args.replace).value
    field = f", employee field {saved.employee_field}" if saved.employee_field else ""
    tls = "" if saved.verify_tls else " (certificate checks OFF)"
    print(
        f"added {saved.kind.value} target {saved.name}: {saved.shown_url}{field}{tls}; events and corrections from "
        "now on are queued for it"
    )
    return ExitCode.OK


def cmd_list(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        targets = engine.integration_targets()
    if args.json:
        print(json.dumps([target.to_json() for target in targets], indent=2))
    for target in targets if not args.json else ():
        field = f", employee field {target.employee_field}" if target.employee_field else ""
        print(f"{target.name}: {target.kind.value} {target.shown_url}{field}")
    if not targets and not args.json:
        print("No integration targets; add one with `rollcall integrations add`.")
    return ExitCode.OK


def cmd_remove(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        removed = engine.remove_integration(args.name).value
    print(f"removed {args.name} and its queue" if removed else f"no target named {args.name}")
    return ExitCode.OK if removed else ExitCode.NOT_DONE


def cmd_test(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        print(engine.test_integration(args.name))
    return ExitCode.OK


def cmd_deliver(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        if args.retry_dead:
            print(f"{engine.retry_integration(args.target).value} dead letters queued again")
        report = engine.deliver_integrations_now(args.target)
    for item in report.targets:
        error = f" (stopped: {item.error})" if item.error else ""
        print(f"{item.target}: {item.delivered} delivered, {item.retried} to retry, {item.dead} dead{error}")
    return ExitCode.NOT_DONE if report.errors or report.dead else ExitCode.OK


def cmd_backfill(args: argparse.Namespace) -> int:
    last = args.last or date.today()
    with open_engine(args) as engine:
        with progress_bar(f"queueing {args.name}") as bar:
            generator = engine.backfill_integration(args.name, args.first, last)
            while True:
                try:
                    step = next(generator)
                except StopIteration as done:
                    queued = done.value
                    break
                advance(bar, step.done, step.total, f"{step.queued} queued")
        print(
            f"{args.name}: {queued.queued} of the {queued.total} sightings and corrections of {args.first} to {last} "
            f"queued ({queued.already} it already had)"
        )
        report = engine.deliver_integrations_now(args.name)
    for item in report.targets:
        error = f" (stopped: {item.error})" if item.error else ""
        print(f"{item.target}: {item.delivered} delivered, {item.retried} to retry, {item.dead} dead{error}")
    return ExitCode.NOT_DONE if report.errors or report.dead else ExitCode.OK


def cmd_status(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        rows = engine.integration_status()
        dead = engine.integration_dead_letters() if args.dead else []
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "target": r.target,
                        "queued": r.queued,
                        "delivered": r.delivered,
                        "dead": r.dead,
                        "last_error": r.last_error,
                        "last_delivered": r.last_delivered.isoformat() if r.last_delivered else None,
                    }
                    for r in rows
                ],
                indent=2,
            )
        )
        return ExitCode.OK
    for r in rows:
        error = f"; last error: {r.last_error}" if r.last_error else ""
        print(f"{r.target}: {r.queued} queued, {r.delivered} delivered, {r.dead} dead{error}")
        if r.queued and (r.last_error or "").startswith(CLOCK_SKEW):
            print(f"  WARNING: {r.target}: this station's clock is off; its rows wait until it is set (NTP)")
    for letter in dead:
        print(
            f"  dead {letter.target} {letter.type.value} {letter.uuid} ({letter.person_name}, "
            f"{letter.attempts} tries): {letter.error}"
        )
    if not rows:
        print("No integration targets.")
    return ExitCode.OK


def final_delivery(engine: Engine) -> None:
    """At the end of `recognize`: the background thread stopped, then one more round; a target that is away
    only leaves its rows queued."""
    engine.stop_integration_delivery()
    if engine.site.role is SiteRole.KIOSK or not engine.integration_targets():
        return
    report = engine.deliver_integrations_now()
    rows = engine.integration_status()
    waiting = [f"{row.target}: {row.queued} queued ({row.last_error})" for row in rows if row.queued]
    print(
        f"[integrations] delivered {report.delivered} at the end, {report.dead} dead; "
        + ("; ".join(waiting) if waiting else "nothing queued"),
        file=sys.stderr,
    )


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("integrations", help="send attendance to ERPNext, Odoo or signed webhooks")
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="add a target; every event and correction from now on is queued for it")
    kinds = add.add_subparsers(dest="kind", required=True, metavar="KIND")
    webhook = kinds.add_parser("webhook", help="a signed JSON POST per event, correction and day status")
    webhook.add_argument("--secret-file", required=True, help="file holding the signing secret")
    erpnext = kinds.add_parser("erpnext", help="Employee Checkins in ERPNext (Frappe HRMS)")
    erpnext.add_argument("--api-key-file", required=True, help="file holding API_KEY:API_SECRET")
    erpnext.add_argument(
        "--employee-field", default="", help="Employee field holding the external ID (default attendance_device_id)"
    )
    erpnext.add_argument("--latitude", type=float, default=None, help="the station's latitude (geolocation tracking)")
    erpnext.add_argument("--longitude", type=float, default=None, help="the station's longitude")
    erpnext.add_argument(
        "--shift-type",
        action="append",
        default=[],
        help="a Shift Type whose last_sync_of_checkin each delivery moves on (repeat for more)",
    )
    odoo = kinds.add_parser("odoo", help="hr.attendance records in Odoo (JSON-2 from Odoo 19, else JSON-RPC)")
    odoo.add_argument("--db", required=True, help="Odoo database")
    odoo.add_argument("--user", required=True, help="Odoo login")
    odoo.add_argument("--password-file", required=True, help="file holding the password or API key")
    odoo.add_argument(
        "--employee-field", default="", help="hr.employee field holding the external ID (default barcode)"
    )
    for kind in (webhook, erpnext, odoo):
        kind.add_argument("name", help="the target's name: lower-case letters, digits, . _ -")
        kind.add_argument("--url", required=True, help="https://... (the site's base address; a webhook's full URL)")
        kind.add_argument("--insecure", action="store_true", help="skip certificate checks (test servers only)")
        kind.add_argument("--replace", action="store_true", help="change an existing target; its queue is kept")
        kind.set_defaults(func=cmd_add)
    listing = sub.add_parser("list", help="the targets")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)
    remove = sub.add_parser("remove", help="forget a target, its queue and its secret")
    remove.add_argument("name")
    remove.set_defaults(func=cmd_remove)
    test = sub.add_parser("test", help="one round trip that changes nothing (a login, a signed ping)")
    test.add_argument("name")
    test.set_defaults(func=cmd_test)
    deliver = sub.add_parser("deliver", help="one delivery round now")
    deliver.add_argument("--target", default=None, help="only this target")
    deliver.add_argument("--retry-dead", action="store_true", help="queue the dead letters again first")
    deliver.set_defaults(func=cmd_deliver)
    fill = sub.add_parser("backfill", help="send an existing period to a target (a new one, say); nothing twice")
    fill.add_argument("name")
    fill.add_argument("--from", dest="first", type=parse_day, required=True, help="first day, YYYY-MM-DD")
    fill.add_argument("--to", dest="last", type=parse_day, default=None, help="last day (default today)")
    fill.set_defaults(func=cmd_backfill)
    status = sub.add_parser("status", help="per target: queued, delivered, dead, the last error")
    status.add_argument("--json", action="store_true")
    status.add_argument("--dead", action="store_true", help="list the dead letters with the targets' answers")
    status.set_defaults(func=cmd_status)
