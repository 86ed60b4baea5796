"""`rollcall site reporter create|publish`: read-only logins for BI tools on the site server, and the day
statuses their day_status and timesheet views read (docs/integrations.md)."""

from __future__ import annotations

import argparse
from datetime import timedelta

from core.app.cli.common import ExitCode, open_engine, parse_day


def cmd_reporter(args: argparse.Namespace) -> int:
    with open_engine(args) as engine:
        if args.reporter_action == "create":
            login = engine.create_site_reporter(args.name)
            server = engine.site_status(check_server=False).server
            print(f"reporting login {login.login} on {server}")
            print(f"password (shown once; the server keeps only its SCRAM verifier): {login.password}")
            print(f"it reads rollcall_reports.{{{','.join(login.views)}}} and nothing else")
            return ExitCode.OK
        last = args.last or engine.site_today()
        first = args.first or last - timedelta(days=1)
        print(f"published {engine.publish_site_reports(first, last)} day statuses, {first} to {last}")
        return ExitCode.OK


def add_reporter_parser(site_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`site reporter ...`, added to the `site` command's actions."""
    q = site_sub.add_parser("reporter", help="read-only logins for BI tools (the rollcall_reports views)")
    sub = q.add_subparsers(dest="reporter_action", required=True, metavar="ACTION")
    create = sub.add_parser("create", help="a login that can read the reporting views and nothing else")
    create.add_argument("name", help="1 to 30 lower-case letters, digits or _, e.g. metabase")
    publish = sub.add_parser("publish", help="the rules' day statuses for the day_status and timesheet views")
    publish.add_argument("--from", dest="first", type=parse_day, default=None, help="default: yesterday")
    publish.add_argument("--to", dest="last", type=parse_day, default=None, help="default: today")
    for action in (create, publish):
        action.set_defaults(func=cmd_reporter)
