"""A local ERPNext that implements what Rollcall uses, as Frappe HRMS does it.

Followed: frappe/hrms develop (2025), hrms/hr/doctype/employee_checkin/employee_checkin.py:
`add_log_based_on_employee_field(employee_field_value, timestamp, device_id=None, log_type=None,
skip_auto_attendance=0, employee_fieldname="attendance_device_id", ...)` at
/api/method/hrms.hr.doctype.employee_checkin.employee_checkin.add_log_based_on_employee_field; its
frappe.throw texts ("'employee_field_value' and 'timestamp' are required.", "No Employee found for the given
employee field value. '{}': {}", "This employee already has a log with the same timestamp.{0}" from
validate_duplicate_log on employee, time (microseconds dropped) and log_type) answered as Frappe answers a
ValidationError: HTTP 417 with exc_type and `_server_messages` (a JSON list of JSON objects). Token
authentication (`Authorization: token KEY:SECRET`), a wrong one HTTP 401 AuthenticationError (frappe/
exceptions.py). /api/method/frappe.auth.get_logged_user answers {"message": user}.
"""

from __future__ import annotations

import json
from datetime import datetime

from tests.kits.fake_target import FakeTarget

ADD_LOG = "/api/method/hrms.hr.doctype.employee_checkin.employee_checkin.add_log_based_on_employee_field"
LOGGED_USER = "/api/method/frappe.auth.get_logged_user"


def frappe_error(status: int, exc_type: str, message: str) -> tuple[int, dict]:
    server_message = json.dumps({"message": message, "title": "Message", "indicator": "red", "raise_exception": 1})
    return status, {
        "exception": f"frappe.exceptions.{exc_type}: {message}",
        "exc_type": exc_type,
        "exc": json.dumps([f"Traceback (most recent call last):\n frappe.exceptions.{exc_type}"]),
        "_server_messages": json.dumps([server_message]),
    }


class FakeErpnext(FakeTarget):
    def __init__(self, api_key: str = "key1", api_secret: str = "secret1", user: str = "sync@example.com"):
        super().__init__()
        self.token = f"token {api_key}:{api_secret}"
        self.user = user
        self.employees: list[dict] = []  # {"name": "HR-EMP-00001", "employee_name": ..., field: value}
        self.checkins: list[dict] = []

    def add_employee(self, employee_name: str, **fields: str) -> dict:
        employee = {"name": f"HR-EMP-{len(self.employees) + 1:05d}", "employee_name": employee_name, **fields}
        self.employees.append(employee)
        return employee

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, object]:
        if headers.get("Authorization") != self.token:
            return frappe_error(401, "AuthenticationError", "Invalid token")  # frappe.auth.validate_auth
        if path == LOGGED_USER:
            return 200, {"message": self.user}
        if path != ADD_LOG or method != "POST":
            return frappe_error(404, "DoesNotExistError", f"Method {path} not found")
        args = json.loads(body or b"{}")
        return self.add_log_based_on_employee_field(**args)

    def add_log_based_on_employee_field(
        self,
        employee_field_value: str | None = None,
        timestamp: str | None = None,
        device_id: str | None = None,
        log_type: str | None = None,
        skip_auto_attendance: int = 0,
        employee_fieldname: str = "attendance_device_id",
        latitude: float | None = None,
        longitude: float | None = None,
    ) -> tuple[int, object]:
        if not employee_field_value or not timestamp:
            return frappe_error(417, "ValidationError", "'employee_field_value' and 'timestamp' are required.")
        found = [e for e in self.employees if e.get(employee_fieldname) == employee_field_value]
        if not found:
            return frappe_error(
                417,
                "ValidationError",
                f"No Employee found for the given employee field value. '{employee_fieldname}': {employee_field_value}",
            )
        employee = found[0]
        time = datetime.fromisoformat(timestamp).replace(microsecond=0)  # before_validate
        for log in self.checkins:  # validate_duplicate_log
            if log["employee"] == employee["name"] and log["time"] == time and log["log_type"] == log_type:
                return frappe_error(
                    417,
                    "ValidationError",
                    "This employee already has a log with the same "
                    f'timestamp.<Br><a href="/app/employee-checkin/{log["name"]}">{log["name"]}</a>',
                )
        doc = {
            "name": f"EMP-CKIN-{len(self.checkins) + 1:05d}",
            "employee": employee["name"],
            "employee_name": employee["employee_name"],
            "time": time,
            "device_id": device_id,
            "log_type": log_type,
            "skip_auto_attendance": int(skip_auto_attendance),
        }
        self.checkins.append(doc)
        return 200, {"message": {**doc, "time": time.strftime("%Y-%m-%d %H:%M:%S"), "doctype": "Employee Checkin"}}
