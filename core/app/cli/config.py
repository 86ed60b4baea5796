"""`rollcall config list|get|set|reset`: the typed Settings from a terminal (settings.json is never edited by hand)."""

from __future__ import annotations

import argparse
import json
import sys

from core.app.cli.common import ExitCode
from core.base.settings import Settings
from core.base.settings_keys import (
    WRITE_PROTECTED,
    SettingChanged,
    describe,
    list_settings,
    reset_setting,
    set_setting,
    shown,
)


def cmd_list(args: argparse.Namespace) -> int:
    infos = list_settings(Settings.load(), args.section)
    if args.json:
        values = {i.key: shown(i.key, i.value) if i.key in WRITE_PROTECTED else i.value for i in infos}
        print(json.dumps(values, indent=2, default=str))
        return ExitCode.OK
    width = max(len(i.key) for i in infos)
    for info in infos:
        mark = "*" if info.changed else " "
        print(
            f"{mark} {info.key:<{width}}  {info.shown_value():<24}  ({info.type_name}; default "
            f"{shown(info.key, info.default)})"
        )
    print("* = changed from the default", file=sys.stderr)
    return ExitCode.OK


def cmd_get(args: argparse.Namespace) -> int:
    print(describe(Settings.load(), args.key).shown_value())
    return ExitCode.OK


def _save_and_say(settings: Settings, change: SettingChanged) -> int:
    path = settings.save()
    if change.old == change.new:
        print(f"{change.key} is already {shown(change.key, change.new)}")
    else:
        print(f"{change.key}: {shown(change.key, change.old)} -> {shown(change.key, change.new)} (saved to {path})")
    return ExitCode.OK


def cmd_set(args: argparse.Namespace) -> int:
    settings = Settings.load()
    return _save_and_say(settings, set_setting(settings, args.key, args.value))


def cmd_reset(args: argparse.Namespace) -> int:
    settings = Settings.load()
    return _save_and_say(settings, reset_setting(settings, args.key))


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = subparsers.add_parser("config", help="read and change settings (checked like the Settings dialog)")
    sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")

    p = sub.add_parser("list", help="every setting with its value, type and default")
    p.add_argument("section", nargs="?", help="only this section (recognition, attendance, ...)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("get", help="print one setting's value")
    p.add_argument("key", help="section.name, e.g. attendance.cooldown_minutes")
    p.set_defaults(func=cmd_get)

    p = sub.add_parser("set", help="change one setting (the running app reads it at its next start)")
    p.add_argument("key", help="section.name, e.g. attendance.cooldown_minutes")
    p.add_argument("value", help="the new value: a number, true/false, text, or a list as 0.8,0.7,0.7")
    p.set_defaults(func=cmd_set)

    p = sub.add_parser("reset", help="put one setting back to its default")
    p.add_argument("key", help="section.name")
    p.set_defaults(func=cmd_reset)
