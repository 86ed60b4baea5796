"""Odoo: hr.attendance records through the external JSON-RPC API (POST /jsonrpc, service "object",
method "execute_kw"), after service "common" "authenticate" gives the user id.

Rollcall's rules decide: a check-in opens an attendance, a check-out closes the person's latest one (a later
check-out of the same shift moves its end, first to last). Odoo allows one open attendance per employee
(hr_attendance.py `_check_validity`, odoo master 2025: "Cannot create new attendance record for %(empl_name)s,
the employee hasn't checked out since %(datetime)s"), so a check-in that finds one still open (a shift with
no check-out, which Rollcall counts as incomplete) first closes it at its own start: 0 hours, as incomplete.
Every step looks first, so a retry after a lost reply changes nothing. Times are naive UTC, as Odoo stores
them. The employee is matched by a configurable field (default barcode) holding the external ID.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

from core.base.records import EventKind
from core.base.timekeeping import CorrectionKind
from core.integrations.http import Answer, LoginRefused, TargetUnreachable, Verdict, request
from core.integrations.outbox import Message
from core.integrations.targets import MessageType, Target

ODOO_TIME = "%Y-%m-%d %H:%M:%S"
ACCESS_DENIED = "odoo.exceptions.AccessDenied"
_SERVER_SIDE = (
    "odoo.exceptions.ValidationError",
    "odoo.exceptions.UserError",
    "odoo.exceptions.AccessError",
    "odoo.exceptions.MissingError",
)


class OdooRefused(Exception):
    """Odoo refused a call (its ValidationError, UserError, ...): the message is Odoo's own."""


def odoo_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(ODOO_TIME)


class OdooClient:
    def __init__(self, target: Target, secret: str, timeout_s: float):
        self.target, self.password, self.timeout_s = target, secret, timeout_s
        self._ids = itertools.count(1)
        self._uid: int | None = None
        self._employees: dict[str, tuple[int, str] | None] = {}

    def _rpc(self, service: str, method: str, *args: object) -> object:
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": next(self._ids),
            "params": {"service": service, "method": method, "args": list(args)},
        }
        reply = request(
            self.target.url + "/jsonrpc",
            json.dumps(payload).encode(),
            {"Content-Type": "application/json"},
            self.timeout_s,
            self.target.verify_tls,
        )
        if reply.status != 200:
            raise TargetUnreachable(f"Odoo at {self.target.url} answered HTTP {reply.status}: {reply.text[:300]}")
        try:
            answer = json.loads(reply.body)
        except ValueError:
            raise TargetUnreachable(f"Odoo at {self.target.url} answered something that is not JSON-RPC") from None
        error = answer.get("error")
        if error is None:
            return answer.get("result")
        data = error.get("data") or {}
        name, text = data.get("name", ""), data.get("message") or error.get("message", "")
        if name == ACCESS_DENIED:
            raise LoginRefused(f"Odoo at {self.target.url} refused user {self.target.user!r} ({text})")
        if name in _SERVER_SIDE:
            raise OdooRefused(text)
        raise TargetUnreachable(f"Odoo at {self.target.url}: {name or error.get('message')}: {text}")

    def _login(self) -> int:
        if self._uid is None:
            uid = self._rpc("common", "authenticate", self.target.database, self.target.user, self.password, {})
            if not isinstance(uid, int) or isinstance(uid, bool):
                raise LoginRefused(
                    f"Odoo at {self.target.url} refused the login of {self.target.user!r} to "
                    f"database {self.target.database!r}"
                )
            self._uid = uid
        return self._uid

    def _execute(self, model: str, method: str, args: list, options: dict | None = None) -> object:
        return self._rpc(
            "object",
            "execute_kw",
            self.target.database,
            self._login(),
            self.password,
            model,
            method,
            args,
            options or {},
        )

    def _employee(self, external_id: str) -> tuple[int, str] | None:
        if external_id not in self._employees:
            rows = self._execute(
                "hr.employee",
                "search_read",
                [[[self.target.employee_field, "=", external_id]]],
                {"fields": ["id", "name"], "limit": 2},
            )
            found = rows if isinstance(rows, list) else []
            self._employees[external_id] = (found[0]["id"], found[0]["name"]) if len(found) == 1 else None
        return self._employees[external_id]

    def _attendances(self, domain: list, limit: int = 1) -> list[dict]:
        rows = self._execute(
            "hr.attendance",
            "search_read",
            [domain],
            {"fields": ["id", "check_in", "check_out"], "order": "check_in desc", "limit": limit},
        )
        return rows if isinstance(rows, list) else []

    def _check_in(self, employee: int, at: str) -> str:
        if self._attendances([["employee_id", "=", employee], ["check_in", "=", at]]):
            return "already in Odoo"
        note = ""
        for stale in self._attendances([["employee_id", "=", employee], ["check_out", "=", False]]):
            if stale["check_in"] < at:  # Odoo allows one open attendance: close the shift that never closed
                self._execute("hr.attendance", "write", [[stale["id"]], {"check_out": stale["check_in"]}])
                note = f"closed the attendance open since {stale['check_in']} UTC at its start (no check-out)"
        self._execute("hr.attendance", "create", [{"employee_id": employee, "check_in": at}])
        return note

    def _check_out(self, employee: int, at: str) -> str:
        latest = self._attendances([["employee_id", "=", employee], ["check_in", "<=", at]])
        if not latest:
            self._execute("hr.attendance", "create", [{"employee_id": employee, "check_in": at}])
            return "no attendance to close: opened one"
        if latest[0]["check_out"] and latest[0]["check_out"] >= at:
            return "already in Odoo"
        self._execute("hr.attendance", "write", [[latest[0]["id"]], {"check_out": at}])
        return ""

    def deliver(self, message: Message) -> Answer:
        if message.type is MessageType.CORRECTION and message.kind != CorrectionKind.PUNCH:
            return Answer(Verdict.DELIVERED, f"not sent: correct the {message.kind} in Odoo's attendances")
        if not message.external_id:
            return Answer(
                Verdict.DEAD,
                f"{message.person_name} has no external ID; set it to their Odoo "
                f"{self.target.employee_field} and retry",
            )
        at = odoo_time(message.time)
        try:
            employee = self._employee(message.external_id)
            if employee is None:
                return Answer(
                    Verdict.DEAD,
                    f"Odoo has no employee for {message.person_name} "
                    f"({self.target.employee_field} = {message.external_id!r})",
                )
            if message.type is MessageType.CORRECTION:  # a manual punch closes an open attendance, else opens one
                is_open = self._attendances([["employee_id", "=", employee[0]], ["check_out", "=", False]])
                closing = bool(is_open) and is_open[0]["check_in"] < at
                note = self._check_out(employee[0], at) if closing else self._check_in(employee[0], at)
            elif message.kind == EventKind.CHECK_OUT:
                note = self._check_out(employee[0], at)
            else:
                note = self._check_in(employee[0], at)
        except OdooRefused as refusal:
            return Answer(Verdict.DEAD, f"Odoo refused {message.person_name}'s {message.kind} at {at} UTC: {refusal}")
        return Answer(Verdict.DELIVERED, note)

    def check(self) -> str:
        version = self._rpc("common", "version")
        uid = self._login()
        count = self._execute("hr.employee", "search_count", [[[self.target.employee_field, "!=", False]]])
        server = version.get("server_version", "?") if isinstance(version, dict) else "?"
        return (
            f"Odoo {server} at {self.target.url}: logged in as user {uid}, {count} employees have a "
            f"{self.target.employee_field}"
        )
