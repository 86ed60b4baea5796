"""A local Odoo: a hand-written subset of what Rollcall uses of its external APIs, keeping the rules Rollcall
meets, each ported from the real code named beside it. What it leaves out: docs/integrations.md ("The test
servers").

Followed: odoo/odoo 18.0 and master (2025). POST /jsonrpc {"jsonrpc": "2.0", "method": "call", "params": {"service",
"method", "args"}}: service "common" (version, login, authenticate: the uid, or False for a wrong login),
service "object" execute_kw(db, uid, password, model, method, args, kwargs), which checks the password
(a wrong one: odoo.exceptions.AccessDenied). Errors come back as Odoo's JSON-RPC error: HTTP 200,
{"error": {"code": 200, "message": "Odoo Server Error", "data": {"name": "odoo.exceptions.ValidationError",
"message": ..., "arguments": [...], "debug": ...}}}. Models hr.employee and hr.attendance with search,
search_read (domain, fields, order, limit), search_count, read, create and write; naive UTC times
"YYYY-MM-DD HH:MM:SS". hr.attendance's constraints as addons/hr_attendance/models/hr_attendance.py has
them: `_check_validity_check_in_check_out` ('"Check Out" time cannot be earlier than "Check In" time.') and
`_check_validity` (one open attendance per employee: "Cannot create new attendance record for
%(empl_name)s, the employee hasn't checked out since %(datetime)s"; no overlap: "... the employee was already
checked in on %(datetime)s"), run after create and write; a refused call changes nothing.
Also: the JSON-2 API of Odoo 19 (`version=19`: POST /json/2/<model>/<method> with named parameters, `Authorization:
bearer <API key>`, errors as odoo/http.py `Json2Dispatcher.handle_error` answers them: 401, 403 AccessError, 422
ValidationError, with {"name", "message", ...}; GET /web/version, addons/rpc/controllers); field groups
(odoo/orm/models.py `_check_field_access`: addons/hr/models/hr_employee.py in master declares `barcode` with
groups="hr.group_hr_user", so a user without HR Officer gets an AccessError reading or searching it); archived
employees (active=False, left out of a search as `active_test` does); `in_mode` ("kiosk", "systray", "manual")
and hr_attendance.py `_cron_auto_check_out` (an attendance open longer than the day's expected hours plus the
tolerance is closed at check-in + expected hours + tolerance, out_mode "auto_check_out").
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from datetime import datetime, timedelta

from tests.kits.fake_target import FakeTarget

_OPS: dict[str, Callable[[object, object], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class OdooError(Exception):
    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name, self.message = name, message


def _matches(record: dict, domain: list) -> bool:
    for field, op, value in domain:
        have = record.get(field, False)
        if value is False or have is False:
            if not (_OPS[op](have is False, value is False) if op in ("=", "!=") else False):
                return False
        elif not _OPS[op](have, value):
            return False
    return True


PROTECTED = {"hr.employee": {"barcode": "hr.group_hr_user"}}  # field -> the group it is declared with
ODOO_TIME = "%Y-%m-%d %H:%M:%S"


class FakeOdoo(FakeTarget):
    def __init__(self, db: str = "rollcall", login: str = "admin", password: str = "pw", version: int = 18):
        super().__init__()
        self.db, self.login, self.password, self.uid = db, login, password, 2
        self.version = version
        self.api_key = "odoo-api-key"  # JSON-2 takes an API key (res.users.apikeys)
        self.groups = {"hr.group_hr_user", "hr_attendance.group_hr_attendance_manager"}
        self.models: dict[str, dict[int, dict]] = {"hr.employee": {}, "hr.attendance": {}}
        self.next_id = 1
        self.calls: list[tuple[str, str]] = []
        self.deprecation_warnings = 0  # /jsonrpc calls an Odoo 19 logs a DeprecationWarning for

    def add_employee(self, name: str, **fields: object) -> int:
        return self._create("hr.employee", {"name": name, "barcode": False, "active": True, **fields})

    def add_attendance(
        self, employee: int, check_in: str, check_out: str | bool = False, in_mode: str = "manual"
    ) -> int:
        """One entered in Odoo itself (kiosk, systray or by hand), constraints checked."""
        return self._create(
            "hr.attendance", {"employee_id": employee, "check_in": check_in, "check_out": check_out, "in_mode": in_mode}
        )

    def auto_check_out(self, now: str, expected_hours: float, tolerance_hours: float) -> list[int]:
        """hr_attendance.py `_cron_auto_check_out` (tolerance mode): an attendance open longer than the day's
        expected hours plus the tolerance gets check_out = check_in + expected + tolerance, out_mode auto."""
        closed = []
        limit = timedelta(hours=expected_hours + tolerance_hours)
        for attendance in self.models["hr.attendance"].values():
            start = datetime.strptime(attendance["check_in"], ODOO_TIME)
            if attendance["check_out"] is False and datetime.strptime(now, ODOO_TIME) - start > limit:
                attendance["check_out"] = (start + limit).strftime(ODOO_TIME)
                attendance["out_mode"] = "auto_check_out"
                closed.append(attendance["id"])
        return closed

    def _check_field_access(self, model: str, fields: list, domain: list | None = None) -> None:
        """odoo/orm/models.py `_check_field_access`: a field declared with groups the user lacks."""
        named = set(fields) | {leaf[0] for leaf in domain or [] if isinstance(leaf, list)}
        for field_name, group in PROTECTED.get(model, {}).items():
            if field_name in named and group not in self.groups:
                raise OdooError(
                    "odoo.exceptions.AccessError",
                    f'You do not have enough rights to access the field "{field_name}" on Employee ({model}). '
                    "Please contact your system administrator.",
                )

    def attendances(self, employee_id: int | None = None) -> list[dict]:
        rows = sorted(self.models["hr.attendance"].values(), key=lambda r: r["check_in"])
        return [r for r in rows if employee_id is None or r["employee_id"] == employee_id]

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, object]:
        if path == "/web/version" and self.version >= 19:
            return 200, {"version_info": [self.version, 0, 0, "final", 0, ""], "version": f"{self.version}.0"}
        if path.startswith("/json/2/") and self.version >= 19 and method == "POST":
            return self._json2(path.removeprefix("/json/2/"), headers, body)
        if path != "/jsonrpc" or method != "POST":
            return 404, {"error": "not found"}
        if self.version >= 19:
            self.deprecation_warnings += 1
        call = json.loads(body)
        params = call["params"]
        try:
            result = self._dispatch(params["service"], params["method"], params.get("args", []))
            return 200, {"jsonrpc": "2.0", "id": call.get("id"), "result": result}
        except OdooError as exc:
            return 200, {
                "jsonrpc": "2.0",
                "id": call.get("id"),
                "error": {
                    "code": 200,
                    "message": "Odoo Server Error",
                    "data": {
                        "name": exc.name,
                        "debug": f"Traceback (most recent call last):\n{exc.name}: {exc.message}",
                        "message": exc.message,
                        "arguments": [exc.message],
                        "context": {},
                    },
                },
            }

    def _json2(self, route: str, headers: dict[str, str], body: bytes) -> tuple[int, object]:
        """addons/rpc/controllers/json2.py: the model method with the body's named parameters."""
        if headers.get("Authorization") != f"bearer {self.api_key}" or headers.get("X-Odoo-Database") != self.db:
            return 401, {"name": "werkzeug.exceptions.Unauthorized", "message": "Invalid apikey"}
        model, _, model_method = route.partition("/")
        params = json.loads(body or b"{}")
        ids = params.pop("ids", [])
        if model_method == "create":
            args, kwargs = [params.pop("vals_list")], {}
        elif model_method == "write":
            args, kwargs = [ids, params.pop("vals")], {}
        else:
            args, kwargs = [params.pop("domain", [])], params
        try:
            result = self._guarded(model, model_method, args, kwargs)
        except OdooError as exc:
            status = {"odoo.exceptions.AccessError": 403, "odoo.exceptions.MissingError": 404}.get(exc.name, 422)
            return status, {"name": exc.name, "message": exc.message, "arguments": [exc.message], "context": {}}
        return 200, result

    def _guarded(self, model: str, model_method: str, args: list, kwargs: dict) -> object:
        self.calls.append((model, model_method))
        if model_method not in ("create", "write"):
            return self._model_call(model, model_method, args, kwargs)
        saved = {model: {i: dict(r) for i, r in rows.items()} for model, rows in self.models.items()}
        try:
            return self._model_call(model, model_method, args, kwargs)
        except OdooError:
            self.models = saved  # the transaction is rolled back
            raise

    def _dispatch(self, service: str, method: str, args: list) -> object:
        if service == "common":
            if method == "version":
                return {"server_version": "18.0", "server_serie": "18.0", "protocol_version": 1}
            if method in ("login", "authenticate"):
                db, login, password = args[:3]
                return (
                    self.uid
                    if (db, login) == (self.db, self.login) and password in (self.password, self.api_key)
                    else False
                )
            raise OdooError("builtins.NameError", f"Method not available {method}")
        if service != "object" or method != "execute_kw":
            raise OdooError("builtins.NameError", f"Method not available {method}")
        db, uid, password, model, model_method, model_args = args[:6]
        kwargs = args[6] if len(args) > 6 else {}
        if (db, uid) != (self.db, self.uid) or password not in (self.password, self.api_key):  # an API key works too
            raise OdooError("odoo.exceptions.AccessDenied", "Access Denied")
        return self._guarded(model, model_method, model_args, kwargs)

    def _search(self, model: str, domain: list, order: str | None = None, limit: int | None = None) -> list[dict]:
        active_test = not any(leaf[0] == "active" for leaf in domain)  # archived records are left out
        rows = [
            r
            for r in self.models[model].values()
            if _matches(r, domain) and not (active_test and r.get("active") is False)
        ]
        if order:
            field, _, direction = order.partition(" ")
            rows.sort(key=lambda r: (r.get(field) is False, r.get(field)), reverse=direction.lower() == "desc")
        return rows[:limit] if limit else rows

    def _model_call(self, model: str, method: str, args: list, kwargs: dict) -> object:
        if model not in self.models:
            raise OdooError("builtins.KeyError", model)
        if method in ("search", "search_read", "search_count"):
            self._check_field_access(model, kwargs.get("fields") or [], args[0])
            rows = self._search(model, args[0], kwargs.get("order"), kwargs.get("limit"))
            if method == "search_count":
                return len(rows)
            if method == "search":
                return [r["id"] for r in rows]
            fields = kwargs.get("fields") or list(rows[0]) if rows else []
            return [{f: r.get(f, False) for f in ["id", *fields]} for r in rows]
        if method == "read":
            return [dict(self.models[model][i]) for i in args[0]]
        if method == "create":
            if isinstance(args[0], list):  # vals_list (JSON-2, or execute_kw with a list): the new ids
                return [self._create(model, dict(values)) for values in args[0]]
            return self._create(model, dict(args[0]))
        if method == "write":
            for record_id in args[0]:
                self.models[model][record_id].update(args[1])
                self._constraints(model, record_id)
            return True
        raise OdooError("builtins.AttributeError", f"The method '{method}' does not exist on the model '{model}'")

    def _create(self, model: str, values: dict) -> int:
        record_id, self.next_id = self.next_id, self.next_id + 1
        if model == "hr.attendance":
            values.setdefault("check_out", False)
            values.setdefault("in_mode", "manual")
        self.models[model][record_id] = {"id": record_id, **values}
        self._constraints(model, record_id)
        return record_id

    def _constraints(self, model: str, record_id: int) -> None:
        if model != "hr.attendance":
            return
        attendance = self.models[model][record_id]
        if attendance["check_out"] and attendance["check_out"] < attendance["check_in"]:
            raise OdooError(
                "odoo.exceptions.ValidationError", '"Check Out" time cannot be earlier than "Check In" time.'
            )
        employee = attendance["employee_id"]
        name = self.models["hr.employee"][employee]["name"]
        others = [["employee_id", "=", employee], ["id", "!=", record_id]]
        before_in = self._search(model, [*others, ["check_in", "<=", attendance["check_in"]]], "check_in desc", 1)
        if before_in and before_in[0]["check_out"] and before_in[0]["check_out"] > attendance["check_in"]:
            raise OdooError(
                "odoo.exceptions.ValidationError",
                f"Cannot create new attendance record for {name}, "
                f"the employee was already checked in on {attendance['check_in']}",
            )
        if not attendance["check_out"]:
            open_one = self._search(model, [*others, ["check_out", "=", False]], "check_in desc", 1)
            if open_one:
                raise OdooError(
                    "odoo.exceptions.ValidationError",
                    f"Cannot create new attendance record for {name}, "
                    f"the employee hasn't checked out since {open_one[0]['check_in']}",
                )
        else:
            before_out = self._search(model, [*others, ["check_in", "<", attendance["check_out"]]], "check_in desc", 1)
            if before_out and (not before_in or before_in[0]["id"] != before_out[0]["id"]):
                raise OdooError(
                    "odoo.exceptions.ValidationError",
                    f"Cannot create new attendance record for {name}, "
                    f"the employee was already checked in on {before_out[0]['check_in']}",
                )
