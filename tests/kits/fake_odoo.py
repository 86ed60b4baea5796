"""A local Odoo that implements what Rollcall uses of its external JSON-RPC API, as Odoo does it.

Followed: odoo/odoo master (2025). POST /jsonrpc {"jsonrpc": "2.0", "method": "call", "params": {"service",
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
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable

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


class FakeOdoo(FakeTarget):
    def __init__(self, db: str = "rollcall", login: str = "admin", password: str = "pw"):
        super().__init__()
        self.db, self.login, self.password, self.uid = db, login, password, 2
        self.models: dict[str, dict[int, dict]] = {"hr.employee": {}, "hr.attendance": {}}
        self.next_id = 1
        self.calls: list[tuple[str, str]] = []

    def add_employee(self, name: str, **fields: object) -> int:
        return self._create("hr.employee", {"name": name, "barcode": False, **fields})

    def attendances(self, employee_id: int | None = None) -> list[dict]:
        rows = sorted(self.models["hr.attendance"].values(), key=lambda r: r["check_in"])
        return [r for r in rows if employee_id is None or r["employee_id"] == employee_id]

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, object]:
        if path != "/jsonrpc" or method != "POST":
            return 404, {"error": "not found"}
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

    def _dispatch(self, service: str, method: str, args: list) -> object:
        if service == "common":
            if method == "version":
                return {"server_version": "18.0", "server_serie": "18.0", "protocol_version": 1}
            if method in ("login", "authenticate"):
                db, login, password = args[:3]
                return self.uid if (db, login, password) == (self.db, self.login, self.password) else False
            raise OdooError("builtins.NameError", f"Method not available {method}")
        if service != "object" or method != "execute_kw":
            raise OdooError("builtins.NameError", f"Method not available {method}")
        db, uid, password, model, model_method, model_args = args[:6]
        kwargs = args[6] if len(args) > 6 else {}
        if (db, uid, password) != (self.db, self.uid, self.password):
            raise OdooError("odoo.exceptions.AccessDenied", "Access Denied")
        self.calls.append((model, model_method))
        if model_method not in ("create", "write"):
            return self._model_call(model, model_method, model_args, kwargs)
        saved = {model: {i: dict(r) for i, r in rows.items()} for model, rows in self.models.items()}
        try:
            return self._model_call(model, model_method, model_args, kwargs)
        except OdooError:
            self.models = saved  # the transaction is rolled back
            raise

    def _search(self, model: str, domain: list, order: str | None = None, limit: int | None = None) -> list[dict]:
        rows = [r for r in self.models[model].values() if _matches(r, domain)]
        if order:
            field, _, direction = order.partition(" ")
            rows.sort(key=lambda r: (r.get(field) is False, r.get(field)), reverse=direction.lower() == "desc")
        return rows[:limit] if limit else rows

    def _model_call(self, model: str, method: str, args: list, kwargs: dict) -> object:
        if model not in self.models:
            raise OdooError("builtins.KeyError", model)
        if method in ("search", "search_read", "search_count"):
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
