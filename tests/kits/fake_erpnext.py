"""A local ERPNext: a hand-written subset of Frappe HRMS, keeping the rules Rollcall meets, each ported from the
real code named beside it (frappe/hrms develop 2025; frappe v15). What it leaves out is listed in
docs/integrations.md ("The test servers").

- hrms/hr/doctype/employee_checkin/employee_checkin.py `add_log_based_on_employee_field` (its texts), and
  EmployeeCheckin `before_validate` (microseconds dropped), `validate`: `validate_active_employee`
  (hrms/hr/utils.py), `validate_duplicate_log` (employee, time, log_type), `fetch_shift` (a shift type
  "Strictly based on Log Type in Employee Checkin" refuses a check-in without a log type),
  `validate_distance_from_shift_location` (HR Settings' allow_geolocation_tracking wants latitude and longitude).
- hrms/hr/doctype/shift_type/shift_type.py `process_auto_attendance` / `get_employee_checkins`: only check-ins
  whose shift ended before `last_sync_of_checkin` become attendance.
- frappe/handler.py `execute_cmd`: a method of an app that is not installed ("Failed to get method ... No module
  named 'hrms'", as ERPNext 13, whose check-in lives in erpnext.hr, answers); frappe/client.py `get_time_zone`;
  frappe/api `/api/resource/<doctype>` GET (filters, fields) and PUT; frappe/auth.py `validate_auth` (token,
  else 401 AuthenticationError); frappe/permissions.py (a role without the doctype's permission: 403
  PermissionError); frappe/translate.py (messages in the user's language: a German user gets German text).
Errors come back as Frappe answers them: HTTP 417 ValidationError with `_server_messages`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

from tests.kits.fake_target import FakeTarget

HRMS = "/api/method/hrms.hr.doctype.employee_checkin.employee_checkin.add_log_based_on_employee_field"
ERPNEXT_13 = "/api/method/erpnext.hr.doctype.employee_checkin.employee_checkin.add_log_based_on_employee_field"
LOGGED_USER = "/api/method/frappe.auth.get_logged_user"
TIME_ZONE = "/api/method/frappe.client.get_time_zone"
STRICT = "Strictly based on Log Type in Employee Checkin"
ALTERNATING = "Alternating entries as IN and OUT during the same shift"
# the doctypes' permissions (their .json "permissions"): who may read and who may write
READ = {
    "Employee": {"HR User", "HR Manager", "System Manager"},
    "Employee Checkin": {"HR User", "HR Manager", "System Manager"},
    "Shift Type": {"HR User", "HR Manager", "Employee"},
}
WRITE = {"Employee Checkin": {"HR User", "HR Manager", "System Manager"}, "Shift Type": {"HR User", "HR Manager"}}
# frappe.translate answers a user with language "de" in German from hrms/locale/de.po; these renderings are
# ours (the .po file's exact wording was not at hand): what matters is that the text is not the English one
GERMAN = {
    "This employee already has a log with the same timestamp.{0}": (
        "Dieser Mitarbeiter hat bereits ein Protokoll mit demselben Zeitstempel.{0}"
    ),
    "Log Type is required for check-ins falling in the shift: {0}.": (
        "Der Protokolltyp ist für Check-ins in der Schicht erforderlich: {0}."
    ),
}


def frappe_error(status: int, exc_type: str, message: str) -> tuple[int, dict]:
    server_message = json.dumps({"message": message, "title": "Message", "indicator": "red", "raise_exception": 1})
    return status, {
        "exception": f"frappe.exceptions.{exc_type}: {message}",
        "exc_type": exc_type,
        "exc": json.dumps([f"Traceback (most recent call last):\n frappe.exceptions.{exc_type}"]),
        "_server_messages": json.dumps([server_message]),
    }


class FrappeThrow(Exception):
    def __init__(self, status: int, exc_type: str, message: str):
        super().__init__(message)
        self.answer = frappe_error(status, exc_type, message)


@dataclass
class ShiftType:
    name: str
    start: time
    end: time
    determine_check_in_and_check_out: str = ALTERNATING
    begin_check_in_before_shift_start_time: int = 60  # minutes
    allow_check_out_after_shift_end_time: int = 60
    last_sync_of_checkin: datetime | None = None
    attendance: list[dict] = field(default_factory=list)


class FakeErpnext(FakeTarget):
    def __init__(self, api_key: str = "key1", api_secret: str = "secret1", user: str = "sync@example.com"):
        super().__init__()
        self.token = f"token {api_key}:{api_secret}"
        self.user = user
        self.roles = {"HR User"}
        self.language = "en"
        self.time_zone = "Europe/Berlin"  # System Settings
        self.version = 15  # 13: the check-in API is erpnext's, hrms is not installed
        self.allow_geolocation_tracking = False  # HR Settings
        self.employees: list[dict] = []  # {"name": "HR-EMP-00001", "employee_name": ..., field: value}
        self.checkins: list[dict] = []
        self.shift_types: dict[str, ShiftType] = {}

    def add_employee(self, employee_name: str, status: str = "Active", **fields: str) -> dict:
        employee = {
            "name": f"HR-EMP-{len(self.employees) + 1:05d}",
            "employee_name": employee_name,
            "status": status,
            **fields,
        }
        self.employees.append(employee)
        return employee

    def add_shift_type(self, shift: ShiftType, *employees: dict) -> ShiftType:
        self.shift_types[shift.name] = shift
        for employee in employees:
            employee["default_shift"] = shift.name
        return shift

    def _(self, text: str) -> str:  # frappe.translate: the user's language
        return GERMAN.get(text, text) if self.language == "de" else text

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, object]:
        if path == TIME_ZONE:  # whitelisted with allow_guest
            return 200, {"message": {"time_zone": self.time_zone}}
        if headers.get("Authorization") != self.token:
            return frappe_error(401, "AuthenticationError", "Invalid token")  # frappe.auth.validate_auth
        try:
            if path == LOGGED_USER:
                return 200, {"message": self.user}
            if path in (HRMS, ERPNEXT_13) and method == "POST":
                if (path == HRMS) != (self.version >= 14):  # frappe.handler.execute_cmd
                    app = "hrms" if path == HRMS else "erpnext.hr"
                    raise FrappeThrow(
                        417,
                        "ValidationError",
                        f"Failed to get method for command {path[12:]} with No module named {app!r}",
                    )
                return 200, {"message": self.add_log_based_on_employee_field(**json.loads(body or b"{}"))}
            if path.startswith("/api/resource/"):
                return self._resource(method, path, body)
        except FrappeThrow as thrown:
            return thrown.answer
        return frappe_error(404, "DoesNotExistError", f"Method {path} not found")

    def _permit(self, doctype: str, write: bool) -> None:  # frappe.permissions.has_permission
        if not self.roles & (WRITE if write else READ).get(doctype, set()):
            raise FrappeThrow(403, "PermissionError", f"No permission for {doctype}")

    def _resource(self, method: str, path: str, body: bytes) -> tuple[int, object]:
        parts = urlsplit(path)
        doctype, _, name = unquote(parts.path.removeprefix("/api/resource/")).partition("/")
        self._permit(doctype, method != "GET")
        if method == "GET":
            query = parse_qs(parts.query)
            filters = json.loads(query.get("filters", ["[]"])[0])
            fields = json.loads(query.get("fields", ['["name"]'])[0])
            rows = {"Employee": self.employees, "Employee Checkin": self.checkins}[doctype]
            found = [r for r in rows if all(_match(r.get(f), op, v) for f, op, v in filters)]
            return 200, {"data": [{f: _shown(r.get(f)) for f in fields} for r in found]}
        values = json.loads(body)
        if doctype == "Shift Type":
            shift = self.shift_types[name]
            shift.last_sync_of_checkin = datetime.fromisoformat(values["last_sync_of_checkin"])
            return 200, {"data": {"name": name, "last_sync_of_checkin": values["last_sync_of_checkin"]}}
        checkin = next(c for c in self.checkins if c["name"] == name)
        checkin.update(values)
        return 200, {"data": {**checkin, "time": _shown(checkin["time"])}}

    def _shift_of(self, employee: dict, moment: datetime) -> ShiftType | None:
        """shift_assignment.get_actual_start_end_datetime_of_shift, for a default shift of the same day."""
        shift = self.shift_types.get(employee.get("default_shift", ""))
        if shift is None:
            return None
        start = datetime.combine(moment.date(), shift.start) - timedelta(
            minutes=shift.begin_check_in_before_shift_start_time
        )
        end = datetime.combine(moment.date(), shift.end) + timedelta(minutes=shift.allow_check_out_after_shift_end_time)
        return shift if start <= moment <= end else None

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
    ) -> dict:
        self._permit("Employee Checkin", True)
        if not employee_field_value or not timestamp:
            raise FrappeThrow(417, "ValidationError", self._("'employee_field_value' and 'timestamp' are required."))
        found = [e for e in self.employees if e.get(employee_fieldname) == employee_field_value]
        if not found:
            raise FrappeThrow(
                417,
                "ValidationError",
                f"No Employee found for the given employee field value. '{employee_fieldname}': {employee_field_value}",
            )
        employee = found[0]
        moment = datetime.fromisoformat(timestamp).replace(microsecond=0)  # before_validate
        if employee["status"] == "Inactive":  # hrms/hr/utils.py validate_active_employee
            raise FrappeThrow(
                417,
                "InactiveEmployeeStatusError",
                f"Transactions cannot be created for an Inactive Employee {employee['name']}",
            )
        for log in self.checkins:  # validate_duplicate_log
            if log["employee"] == employee["name"] and log["time"] == moment and log["log_type"] == log_type:
                link = f'<Br><a href="/app/employee-checkin/{log["name"]}">{log["name"]}</a>'
                raise FrappeThrow(
                    417,
                    "ValidationError",
                    self._("This employee already has a log with the same timestamp.{0}").format(link),
                )
        shift = self._shift_of(employee, moment)  # fetch_shift
        if (
            shift is not None
            and shift.determine_check_in_and_check_out == STRICT
            and not log_type
            and not skip_auto_attendance
        ):
            raise FrappeThrow(
                417,
                "ValidationError",
                self._("Log Type is required for check-ins falling in the shift: {0}.").format(shift.name),
            )
        if self.allow_geolocation_tracking and not (latitude or longitude):  # validate_distance_from_shift_location
            raise FrappeThrow(
                417, "ValidationError", self._("Latitude and longitude values are required for checking in.")
            )
        doc = {
            "name": f"EMP-CKIN-{len(self.checkins) + 1:05d}",
            "employee": employee["name"],
            "employee_name": employee["employee_name"],
            "time": moment,
            "device_id": device_id,
            "log_type": log_type,
            "shift": shift.name if shift else None,
            "latitude": latitude,
            "longitude": longitude,
            "skip_auto_attendance": int(skip_auto_attendance),
            "attendance": None,
        }
        self.checkins.append(doc)
        return {**doc, "time": _shown(moment), "doctype": "Employee Checkin"}

    def process_auto_attendance(self, name: str) -> list[dict]:
        """shift_type.py ShiftType.process_auto_attendance: the check-ins of shifts that ended before
        last_sync_of_checkin, grouped per employee and day, become attendance (First IN to last OUT)."""
        shift = self.shift_types[name]
        if shift.last_sync_of_checkin is None:
            return []
        logs = [
            c
            for c in sorted(self.checkins, key=lambda c: (c["employee"], c["time"]))
            if c["shift"] == name
            and not c["attendance"]
            and not c["skip_auto_attendance"]
            and datetime.combine(c["time"].date(), shift.end)
            + timedelta(minutes=shift.allow_check_out_after_shift_end_time)
            < shift.last_sync_of_checkin
        ]
        marked = []
        for key in sorted({(c["employee"], c["time"].date()) for c in logs}):
            day_logs = [c for c in logs if (c["employee"], c["time"].date()) == key]
            ins = [c["time"] for c in day_logs if c["log_type"] == "IN"]
            outs = [c["time"] for c in day_logs if c["log_type"] == "OUT"]
            hours = (outs[-1] - ins[0]).total_seconds() / 3600 if ins and outs else 0.0
            attendance = {
                "name": f"HR-ATT-{len(shift.attendance) + 1:05d}",
                "employee": key[0],
                "date": key[1],
                "hours": hours,
            }
            shift.attendance.append(attendance)
            for c in day_logs:
                c["attendance"] = attendance["name"]
            marked.append(attendance)
        return marked


def _shown(value: object) -> object:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else value


def _match(have: object, op: str, want: object) -> bool:
    if isinstance(have, datetime):
        want = datetime.fromisoformat(str(want))
    if op == "=":
        return have == want
    if have is None:
        return False
    return {">": have > want, "<": have < want, ">=": have >= want, "<=": have <= want}[op]  # type: ignore[operator]
