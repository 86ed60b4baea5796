"""Odoo: hr.attendance records, one per person and work day, equal to Rollcall's day board.

Transport: Odoo 19 and later (GET /web/version says so) get the JSON-2 API (POST /json/2/<model>/<method>,
`Authorization: bearer <API key>`, `X-Odoo-Database`), as Odoo 19 deprecates /jsonrpc; older servers get
JSON-RPC (POST /jsonrpc, "common" "authenticate", then "object" "execute_kw").

Each sighting or manual punch makes the person's attendance for the day it counted for (Rollcall's rules:
its first and last sighting, `Message.span`) equal that span: the day's attendance (its check-in on that day,
at or after the day's first sighting) is written, else one is created. So a late check-in re-pairs the day,
a check-out never reaches back to another day, a punch after close moves the end, an earlier punch moves the
start, a check-out written later by Odoo's auto-check-out or by hand is replaced by the real one, and the
sightings of one day never make 0-hour chains. Odoo allows one open attendance per employee (hr_attendance.py
`_check_validity`): one left open on an earlier day by Rollcall (that day had one sighting) is closed at its
start, as the day board has it; one opened by Odoo's kiosk or systray is left to Odoo, and Odoo's refusal is
the dead letter. A refused create reopens what was closed for it. Times are naive UTC, as Odoo stores them.
The employee is matched by a configurable field (default barcode). An AccessError (a user without the groups
docs/integrations.md lists) stops the round: every row would fail the same way.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, time

from core.base.timekeeping import CorrectionKind
from core.integrations.http import Answer, HttpReply, LoginRefused, TargetUnreachable, Verdict, request
from core.integrations.outbox import DaySpan, Message
from core.integrations.targets import MessageType, Target

ODOO_TIME = "%Y-%m-%d %H:%M:%S"
JSON2_SINCE = 19  # the first Odoo with /json/2
IN_MODE_SINCE = 17  # the first Odoo whose hr.attendance has in_mode (kiosk, systray, manual, ...)
RECENT_ATTENDANCES = 10  # a person's latest attendances up to a day's end, searched for that day's own
ACCESS_DENIED = "odoo.exceptions.AccessDenied"
ACCESS_ERROR = "odoo.exceptions.AccessError"
_SERVER_SIDE = ("odoo.exceptions.ValidationError", "odoo.exceptions.UserError", "odoo.exceptions.MissingError")
GROUPS_NEEDED = (
    "Employees: Officer (hr.group_hr_user, which reads `barcode` in Odoo master) and Attendances: Administrator "
    "(hr_attendance.group_hr_attendance_manager)"
)
KIOSK_MODES = ("kiosk", "systray")  # hr.attendance in_mode of an attendance someone opened in Odoo itself


class OdooRefused(Exception):
    """Odoo refused a call (its ValidationError, UserError, ...): the message is Odoo's own."""


class AccessRefused(LoginRefused):
    """The user lacks a group: every row would fail alike, so the round stops and the rows stay queued."""


def odoo_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(ODOO_TIME)


class OdooClient:
    def __init__(self, target: Target, secret: str, timeout_s: float):
        self.target, self.password, self.timeout_s = target, secret, timeout_s
        self._ids = itertools.count(1)
        self._uid: int | None = None
        self._major: int | None = None
        self._employees: dict[str, tuple[int, str] | None] = {}

    # ---- transport ----

    def major_version(self) -> int:
        """Odoo's major version from GET /web/version (Odoo 19); a server without it is older (JSON-RPC)."""
        if self._major is None:
            reply = request(self.target.url + "/web/version", None, {}, self.timeout_s, self.target.verify_tls, "GET")
            try:
                self._major = int(json.loads(reply.body)["version_info"][0]) if reply.status == 200 else 0
            except (ValueError, KeyError, IndexError, TypeError):
                self._major = 0
            if self._major < JSON2_SINCE:
                version = self._rpc("common", "version")
                serie = str(version.get("server_serie", "")) if isinstance(version, dict) else ""
                head = serie.split(".")[0].removeprefix("saas~")
                self._major = int(head) if head.isdigit() else 0
        return self._major

    def _refusal(self, name: str, text: str) -> Exception:
        if name == ACCESS_DENIED:
            return LoginRefused(f"Odoo at {self.target.shown_url} refused user {self.target.user!r} ({text})")
        if name == ACCESS_ERROR:
            return AccessRefused(
                f"Odoo at {self.target.shown_url}: user {self.target.user!r} lacks access ({text}); give them "
                f"{GROUPS_NEEDED}. The rows stay queued."
            )
        if name in _SERVER_SIDE:
            return OdooRefused(text)
        return TargetUnreachable(f"Odoo at {self.target.shown_url}: {name}: {text}")

    def _rpc(self, service: str, method: str, *args: object) -> object:
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": next(self._ids),
            "params": {"service": service, "method": method, "args": list(args)},
        }
        reply = self._post("/jsonrpc", payload, {})
        if reply.status != 200:
            raise TargetUnreachable(f"Odoo at {self.target.shown_url} answered HTTP {reply.status}: {reply.text[:300]}")
        answer = self._json(reply)
        error = answer.get("error")
        if error is None:
            return answer.get("result")
        data = error.get("data") or {}
        raise self._refusal(data.get("name", ""), data.get("message") or error.get("message", ""))

    def _post(self, path: str, payload: dict, headers: dict[str, str]) -> HttpReply:
        return request(
            self.target.url + path,
            json.dumps(payload).encode(),
            {"Content-Type": "application/json", **headers},
            self.timeout_s,
            self.target.verify_tls,
        )

    def _json(self, reply: HttpReply) -> dict:
        try:
            answer = json.loads(reply.body)
        except ValueError:
            raise TargetUnreachable(f"Odoo at {self.target.shown_url} answered something that is not JSON") from None
        return answer if isinstance(answer, dict) else {"result": answer}

    def _json2(self, model: str, method: str, params: dict) -> object:
        """POST /json/2/<model>/<method> with named parameters; errors are HTTP statuses (odoo/http.py
        Json2Dispatcher.handle_error: a UserError's http_status, 422, an AccessError's 403, 401 for the key)."""
        headers = {"Authorization": f"bearer {self.password}", "X-Odoo-Database": self.target.database}
        reply = self._post(f"/json/2/{model}/{method}", params, headers)
        if reply.status == 200:
            return json.loads(reply.body)
        if reply.status == 401:
            raise LoginRefused(
                f"Odoo at {self.target.shown_url} refused the API key of {self.target.user!r} (HTTP 401; Odoo 19's "
                "JSON-2 API takes an API key, not a password)"
            )
        try:
            error = json.loads(reply.body)
        except ValueError:
            error = {}
        name, text = (error.get("name", ""), error.get("message", "")) if isinstance(error, dict) else ("", "")
        if reply.status >= 500 or not name:
            raise TargetUnreachable(f"Odoo at {self.target.shown_url} answered HTTP {reply.status}: {reply.text[:300]}")
        raise self._refusal(name, text)

    def _login(self) -> int:
        if self._uid is None:
            uid = self._rpc("common", "authenticate", self.target.database, self.target.user, self.password, {})
            if not isinstance(uid, int) or isinstance(uid, bool):
                raise LoginRefused(
                    f"Odoo at {self.target.shown_url} refused the login of {self.target.user!r} to "
                    f"database {self.target.database!r}"
                )
            self._uid = uid
        return self._uid

    def _call(self, model: str, method: str, **params: object) -> object:
        """One model method with named parameters, over JSON-2 or, for older servers, execute_kw."""
        if self.major_version() >= JSON2_SINCE:
            return self._json2(model, method, params)
        if method == "create":
            args: list = [params.pop("vals_list")]
        elif method == "write":
            args = [params.pop("ids"), params.pop("vals")]
        else:
            args = [params.pop("domain")]
        login = self._login()
        return self._rpc(
            "object", "execute_kw", self.target.database, login, self.password, model, method, args, params
        )

    # ---- the records ----

    def _employee(self, external_id: str) -> tuple[int, str] | None:
        if external_id not in self._employees:
            rows = self._call(
                "hr.employee",
                "search_read",
                domain=[[self.target.employee_field, "=", external_id]],
                fields=["id", "name"],
                limit=2,
            )
            found = rows if isinstance(rows, list) else []
            self._employees[external_id] = (found[0]["id"], found[0]["name"]) if len(found) == 1 else None
        return self._employees[external_id]

    def _attendances(self, domain: list, limit: int) -> list[dict]:
        fields = ["id", "check_in", "check_out"] + (["in_mode"] if self.major_version() >= IN_MODE_SINCE else [])
        rows = self._call(
            "hr.attendance", "search_read", domain=domain, fields=fields, order="check_in desc", limit=limit
        )
        return rows if isinstance(rows, list) else []

    def _write(self, attendance: int, values: dict) -> None:
        self._call("hr.attendance", "write", ids=[attendance], vals=values)

    def sync_day(self, employee: int, span: DaySpan) -> str:
        """The person's attendance for the span's day made equal to it: [first, last], open while first == last."""
        first, last = odoo_time(span.first), odoo_time(span.last)
        midnight = datetime.combine(span.day, time(), span.first.tzinfo)
        floor = odoo_time(min(span.first, midnight))
        rows = self._attendances([["employee_id", "=", employee], ["check_in", "<=", last]], RECENT_ATTENDANCES)
        # Rollcall's attendance of the day starts at a first sighting: never before the day's first (an earlier
        # one was entered in Odoo, and Odoo decides whether ours may overlap it)
        ours = sorted((r for r in rows if r["check_in"] >= first), key=lambda r: r["check_in"])
        if ours:
            main = ours[0]
            want_in = first
            want_out = last if last > want_in else main["check_out"]
            changes = {
                key: value for key, value in (("check_in", want_in), ("check_out", want_out)) if main[key] != value
            }
            if not changes:
                return "already in Odoo"
            self._write(main["id"], changes)
            return "" if main["check_out"] in (False, want_out) else f"end {main['check_out']} UTC replaced"
        closed, note = None, ""
        for stale in self._attendances([["employee_id", "=", employee], ["check_out", "=", False]], limit=1):
            if stale["check_in"] < floor and stale.get("in_mode") not in KIOSK_MODES:
                self._write(stale["id"], {"check_out": stale["check_in"]})  # Rollcall's one-sighting day
                closed = stale["id"]
                note = f"closed the attendance open since {stale['check_in']} UTC at its start (one sighting)"
        values: dict = {"employee_id": employee, "check_in": first}
        if last > first:
            values["check_out"] = last
        try:
            self._call("hr.attendance", "create", vals_list=[values])
        except OdooRefused:
            if closed is not None:  # two transactions: undo the close the refused create needed
                self._write(closed, {"check_out": False})
            raise
        return note

    def deliver(self, message: Message) -> Answer:
        if message.type is MessageType.CORRECTION and message.kind != CorrectionKind.PUNCH:
            return Answer(Verdict.DELIVERED, f"not sent: correct the {message.kind} in Odoo's attendances")
        if not message.external_id:
            return Answer(
                Verdict.DEAD,
                f"{message.person_name} has no external ID; set it to their Odoo "
                f"{self.target.employee_field} and retry",
            )
        span = message.span or DaySpan(message.time.date(), message.time, message.time)
        try:
            employee = self._employee(message.external_id)
            if employee is None:
                return Answer(
                    Verdict.DEAD,
                    f"Odoo has no employee for {message.person_name} "
                    f"({self.target.employee_field} = {message.external_id!r})",
                )
            note = self.sync_day(employee[0], span)
        except OdooRefused as refusal:
            at = odoo_time(message.time)
            return Answer(Verdict.DEAD, f"Odoo refused {message.person_name}'s {message.kind} at {at} UTC: {refusal}")
        return Answer(Verdict.DELIVERED, note)

    def finish(self, delivered: int, synced_until: datetime) -> str:
        return ""

    def check(self) -> str:
        major = self.major_version()
        api = "JSON-2" if major >= JSON2_SINCE else "JSON-RPC"
        who = f"user {self._login()}" if major < JSON2_SINCE else f"{self.target.user!r}'s API key"
        count = self._call("hr.employee", "search_count", domain=[[self.target.employee_field, "!=", False]])
        return (
            f"Odoo {major or '?'} at {self.target.shown_url} ({api}): logged in as {who}, {count} employees have "
            f"a {self.target.employee_field}"
        )
