"""ERPNext (Frappe HRMS): each sighting as an Employee Checkin, through the API that Frappe's own
biometric sync tool posts to.

POST /api/method/hrms.hr.doctype.employee_checkin.employee_checkin.add_log_based_on_employee_field with
employee_field_value (Rollcall's external ID), timestamp (the site's zone, no offset, as Frappe expects),
device_id (the station) and no log_type, so ERPNext's shift rules decide; `Authorization: token KEY:SECRET`.
Read against frappe/hrms (develop, 2025): a refusal is HTTP 417 (ValidationError) with the message in
`_server_messages`. "This employee already has a log with the same timestamp." means it was stored
before (a lost reply): delivered. "No Employee found for the given employee field value." is a dead letter
naming the person. 401/403 stop the round with a clear error; the rows stay queued.
"""

from __future__ import annotations

import json

from core.base.timekeeping import CorrectionKind
from core.integrations.http import Answer, HttpReply, LoginRefused, TargetUnreachable, Verdict, http_verdict, request
from core.integrations.outbox import Message
from core.integrations.targets import MessageType, Target

ADD_LOG = "/api/method/hrms.hr.doctype.employee_checkin.employee_checkin.add_log_based_on_employee_field"
LOGGED_USER = "/api/method/frappe.auth.get_logged_user"
DUPLICATE = "already has a log with the same timestamp"
NO_EMPLOYEE = "No Employee found for the given employee field value"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


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


class ErpnextClient:
    def __init__(self, target: Target, secret: str, timeout_s: float):
        self.target, self.timeout_s = target, timeout_s
        self._headers = {
            "Authorization": f"token {secret}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }

    def _call(self, path: str, payload: dict | None) -> HttpReply:
        raw = json.dumps(payload).encode() if payload is not None else None
        reply = request(
            self.target.url + path,
            raw,
            self._headers,
            self.timeout_s,
            self.target.verify_tls,
            method="POST" if raw is not None else "GET",
        )
        if reply.status in (401, 403):
            raise LoginRefused(
                f"ERPNext at {self.target.url} refused the API key (HTTP {reply.status}: "
                f"{server_messages(reply)}); fix it with `rollcall integrations add` again"
            )
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
        reply = self._call(
            ADD_LOG,
            {
                "employee_field_value": message.external_id,
                "timestamp": message.time.strftime(TIMESTAMP_FORMAT),
                "device_id": message.station,
                "log_type": None,
                "employee_fieldname": self.target.employee_field,
            },
        )
        if reply.status == 200:
            return Answer(Verdict.DELIVERED)
        text = server_messages(reply)
        if DUPLICATE in text:
            return Answer(Verdict.DELIVERED, "already in ERPNext (same employee and time)")
        if NO_EMPLOYEE in text:
            return Answer(
                Verdict.DEAD,
                f"ERPNext has no employee for {message.person_name} "
                f"({self.target.employee_field} = {message.external_id!r}): {text}",
            )
        verdict = http_verdict(reply.status)
        return Answer(Verdict.RETRY if verdict is Verdict.DELIVERED else verdict, f"HTTP {reply.status}: {text}")

    def check(self) -> str:
        reply = self._call(LOGGED_USER, None)
        if reply.status != 200:
            raise TargetUnreachable(
                f"ERPNext at {self.target.url} answered HTTP {reply.status}: {server_messages(reply)}"
            )
        return f"ERPNext at {self.target.url} accepted the API key of {json.loads(reply.body).get('message')}"
