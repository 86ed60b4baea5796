"""ERPNext (Frappe HRMS): each sighting as an Employee Checkin, through the API that Frappe's own
biometric sync tool posts to.

POST /api/method/hrms.hr.doctype.employee_checkin.employee_checkin.add_log_based_on_employee_field (ERPNext 13:
erpnext.hr.doctype..., found once when the hrms path is missing) with employee_field_value (the external ID),
timestamp in the server's System Settings zone (read once through frappe.client.get_time_zone), device_id (the
station), log_type IN for the first sighting of the person's day by Rollcall's rules and OUT for the others (a
Shift Type "Strictly based on Log Type" refuses a check-in without one), and the target's fixed latitude and
longitude when set (HR Settings' geolocation tracking refuses a check-in without them).
A refusal is HTTP 417 with the message in `_server_messages`, in the API user's language: a repeat after a lost
reply is told by looking the check-in up (employee and time), never by the message's words. An earlier sighting
that arrives late turns the day's IN that went before it into OUT. After a round that delivered, the Shift
Types named on the target get `last_sync_of_checkin`, as the biometric tool sets it, so auto-attendance runs.
401/403 stop the round with a clear error; the rows stay queued.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.base.records import EventKind
from core.base.timekeeping import CorrectionKind
from core.integrations.http import Answer, HttpReply, LoginRefused, TargetUnreachable, Verdict, http_verdict, request
from core.integrations.outbox import Message
from core.integrations.targets import MessageType, Target

ADD_LOG = "/api/method/hrms.hr.doctype.employee_checkin.employee_checkin.add_log_based_on_employee_field"
ADD_LOG_V13 = "/api/method/erpnext.hr.doctype.employee_checkin.employee_checkin.add_log_based_on_employee_field"
LOGGED_USER = "/api/method/frappe.auth.get_logged_user"
TIME_ZONE = "/api/method/frappe.client.get_time_zone"
RESOURCE = "/api/resource/"
NO_EMPLOYEE = "No Employee found for the given employee field value"
MISSING_METHOD = ("Failed to get method", "No module named")  # frappe/handler.py execute_cmd, any language
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


class LogType(enum.StrEnum):
    """Employee Checkin's log_type."""

    IN = "IN"
    OUT = "OUT"


IN, OUT = LogType.IN, LogType.OUT


def server_messages(reply: HttpReply) -> str:
    """Frappe's error text: the `_server_messages` (a JSON list of JSON objects), else `exception`."""
    try:
        answer = json.loads(reply.body)
    except ValueError:
        return reply.text[:500]
    texts = []
    try:
        for item in json.loads(answer.get("_server_messages") or "[]"):
            texts.append(str(json.loads(item).get("message", item)))
    except (ValueError, AttributeError, TypeError):
        pass
    return " ".join(texts) or str(answer.get("exception") or answer.get("exc_type") or reply.text[:500])


def log_type(message: Message) -> LogType:
    """IN for the first sighting (or punch) of the person's day by Rollcall's rules, OUT for the later ones."""
    if message.span is not None:
        return IN if message.time.replace(microsecond=0) == message.span.first.replace(microsecond=0) else OUT
    return OUT if message.kind == EventKind.CHECK_OUT else IN


class ErpnextClient:
    def __init__(self, target: Target, secret: str, timeout_s: float):
        self.target, self.timeout_s = target, timeout_s
        self._headers = {
            "Authorization": f"token {secret}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        self._add_log = ADD_LOG
        self._zone: ZoneInfo | None = None
        self._employees: dict[str, str] = {}  # external ID -> Employee name (HR-EMP-00001)

    def _call(self, path: str, payload: dict | None, method: str | None = None) -> HttpReply:
        raw = json.dumps(payload).encode() if payload is not None else None
        reply = request(
            self.target.url + path,
            raw,
            self._headers,
            self.timeout_s,
            self.target.verify_tls,
            method=method or ("POST" if raw is not None else "GET"),
        )
        if reply.status in (401, 403):
            raise LoginRefused(
                f"ERPNext at {self.target.shown_url} refused the API key (HTTP {reply.status}: "
                f"{server_messages(reply)}); give its user the roles docs/integrations.md lists, or fix the key "
                "with `rollcall integrations add --replace`"
            )
        return reply

    def _answer(self, path: str) -> object:
        reply = self._call(path, None)
        if reply.status != 200:
            raise TargetUnreachable(
                f"ERPNext at {self.target.shown_url} answered HTTP {reply.status}: {server_messages(reply)}"
            )
        answer = json.loads(reply.body)
        return answer.get("message", answer.get("data")) if isinstance(answer, dict) else None

    def server_zone(self) -> ZoneInfo:
        """The System Settings time zone that Frappe reads a naive timestamp in (read once)."""
        if self._zone is None:
            answer = self._answer(TIME_ZONE)
            name = answer.get("time_zone") if isinstance(answer, dict) else None
            try:
                self._zone = ZoneInfo(str(name))
            except (ZoneInfoNotFoundError, ValueError):
                raise TargetUnreachable(
                    f"ERPNext at {self.target.shown_url} names no time zone Rollcall knows ({name!r}); set it in "
                    "System Settings, or check times would be off by the difference"
                ) from None
        return self._zone

    def _list(self, doctype: str, filters: list, fields: list[str]) -> list[dict]:
        query = urlencode({"filters": json.dumps(filters), "fields": json.dumps(fields), "limit_page_length": 0})
        rows = self._answer(f"{RESOURCE}{quote(doctype)}?{query}")
        return rows if isinstance(rows, list) else []

    def _employee(self, external_id: str) -> str | None:
        if external_id not in self._employees:
            rows = self._list("Employee", [[self.target.employee_field, "=", external_id]], ["name"])
            if len(rows) != 1:
                return None
            self._employees[external_id] = rows[0]["name"]
        return self._employees[external_id]

    def _stored(self, employee: str, stamp: str) -> list[dict]:
        return self._list("Employee Checkin", [["employee", "=", employee], ["time", "=", stamp]], ["name"])

    def _add_log_call(self, payload: dict) -> HttpReply:
        reply = self._call(self._add_log, payload)
        if reply.status != 200 and self._add_log == ADD_LOG:
            text = server_messages(reply)
            if reply.status == 404 or any(sign in text for sign in MISSING_METHOD):  # ERPNext 13: no hrms app
                self._add_log = ADD_LOG_V13
                reply = self._call(self._add_log, payload)
        return reply

    def deliver(self, message: Message) -> Answer:
        if message.type is MessageType.CORRECTION and message.kind != CorrectionKind.PUNCH:
            return Answer(Verdict.DELIVERED, f"not sent: ERPNext's check-in API cannot {message.kind} a check-in")
        if not message.external_id:
            return Answer(
                Verdict.DEAD,
                f"{message.person_name} has no external ID; set it to their ERPNext "
                f"{self.target.employee_field} and retry",
            )
        stamp = message.time.astimezone(self.server_zone()).strftime(TIMESTAMP_FORMAT)
        direction = log_type(message)
        payload: dict = {
            "employee_field_value": message.external_id,
            "timestamp": stamp,
            "device_id": message.station,
            "log_type": direction,
            "employee_fieldname": self.target.employee_field,
        }
        if self.target.latitude is not None:
            payload |= {"latitude": self.target.latitude, "longitude": self.target.longitude}
        reply = self._add_log_call(payload)
        if reply.status != 200:
            text = server_messages(reply)
            if http_verdict(reply.status) is Verdict.RETRY:  # 5xx, 429: ERPNext is struggling, look nothing up
                return Answer(Verdict.RETRY, f"HTTP {reply.status}: {text}")
            employee = self._employee(message.external_id)
            if employee is None or NO_EMPLOYEE in text:
                return Answer(
                    Verdict.DEAD,
                    f"ERPNext has no employee for {message.person_name} "
                    f"({self.target.employee_field} = {message.external_id!r}): {text}",
                )
            if not self._stored(employee, stamp):
                verdict = http_verdict(reply.status)  # a 2xx other than 200 is not Frappe's answer: retried
                return Answer(
                    Verdict.RETRY if verdict is Verdict.DELIVERED else verdict, f"HTTP {reply.status}: {text}"
                )
            note = "already in ERPNext (same employee and time)"
        else:
            answer = json.loads(reply.body).get("message") or {}
            employee = answer.get("employee") if isinstance(answer, dict) else None
            note = ""
        if direction == IN and employee and message.span is not None and message.span.last > message.span.first:
            note = " ".join(filter(None, (note, self._later_ins_out(employee, stamp, message))))
        return Answer(Verdict.DELIVERED, note)

    def _later_ins_out(self, employee: str, stamp: str, message: Message) -> str:
        """An earlier sighting arrived late: the day's check-ins sent as IN after it become OUT."""
        assert message.span is not None
        last = message.span.last.astimezone(self.server_zone()).strftime(TIMESTAMP_FORMAT)
        later = self._list(
            "Employee Checkin",
            [["employee", "=", employee], ["time", ">", stamp], ["time", "<=", last], ["log_type", "=", IN]],
            ["name"],
        )
        for row in later:
            reply = self._call(f"{RESOURCE}Employee%20Checkin/{quote(row['name'])}", {"log_type": OUT}, "PUT")
            if reply.status != 200:
                raise TargetUnreachable(f"ERPNext refused to turn {row['name']} into OUT: {server_messages(reply)}")
        return f"{len(later)} later check-in(s) of the day turned from IN to OUT" if later else ""

    def finish(self, delivered: int, synced_until: datetime) -> str:
        """After a round that delivered: each named Shift Type's last_sync_of_checkin moved to synced_until
        (everything before it is in ERPNext), as the biometric sync tool does, so auto-attendance takes it."""
        if not delivered or not self.target.shift_types:
            return ""
        stamp = synced_until.astimezone(self.server_zone()).strftime(TIMESTAMP_FORMAT)
        for shift_type in self.target.shift_types:
            reply = self._call(f"{RESOURCE}Shift%20Type/{quote(shift_type)}", {"last_sync_of_checkin": stamp}, "PUT")
            if reply.status != 200:
                raise TargetUnreachable(
                    f"ERPNext did not take Shift Type {shift_type!r}'s last sync of check-in: HTTP {reply.status}: "
                    f"{server_messages(reply)}"
                )
        return stamp

    def check(self) -> str:
        user = self._answer(LOGGED_USER)
        zone = self.server_zone()
        return f"ERPNext at {self.target.shown_url} accepted the API key of {user}; its time zone is {zone.key}"
