"""Integration targets: where attendance goes (ERPNext, Odoo, webhooks), and their secrets.

A target's settings live in the database (table integration_targets, so the outbox triggers see it);
its secret (a webhook's signing secret, ERPNext's API key and secret, Odoo's password) lives in
<data folder>/integration-secrets.json, owner read/write only (0600), never in settings.json or logs.
"""

from __future__ import annotations

import enum
import json
import os
import re
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from core.base.errors import InvalidInputError, RollcallError

SECRETS_FILE = "integration-secrets.json"
MAX_NAME_LEN = 64
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
DEFAULT_ERPNEXT_FIELD = "attendance_device_id"
DEFAULT_ODOO_FIELD = "barcode"


class IntegrationError(RollcallError):
    """An integration target could not be reached or refused; the message says which and why."""


class TargetKind(enum.StrEnum):
    WEBHOOK = "webhook"
    ERPNEXT = "erpnext"
    ODOO = "odoo"


class MessageType(enum.StrEnum):
    """What an outbox row carries; the text is the webhook body's `type`."""

    EVENT = "event"
    CORRECTION = "correction"
    DAY_STATUS = "day_status"


# What each kind of target is sent: webhooks take day status changes too.
TAKES: dict[TargetKind, tuple[MessageType, ...]] = {
    TargetKind.WEBHOOK: (MessageType.EVENT, MessageType.CORRECTION, MessageType.DAY_STATUS),
    TargetKind.ERPNEXT: (MessageType.EVENT, MessageType.CORRECTION),
    TargetKind.ODOO: (MessageType.EVENT, MessageType.CORRECTION),
}


@dataclass(frozen=True)
class Target:
    """A configured target, without its secret."""

    name: str
    kind: TargetKind
    url: str
    employee_field: str = ""  # ERPNext and Odoo: the Employee field that holds Rollcall's external ID
    database: str = ""  # Odoo
    user: str = ""  # Odoo
    verify_tls: bool = True
    added_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    latitude: float | None = None  # ERPNext: the station's fixed place, for HR Settings' geolocation tracking
    longitude: float | None = None
    shift_types: tuple[str, ...] = ()  # ERPNext: Shift Types whose last_sync_of_checkin each round moves on

    def config(self) -> dict:
        return {
            "url": self.url,
            "employee_field": self.employee_field,
            "database": self.database,
            "user": self.user,
            "verify_tls": self.verify_tls,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "shift_types": list(self.shift_types),
        }

    @property
    def shown_url(self) -> str:
        """The address as errors, status and the GUI show it: a token in its path or query masked."""
        return masked_url(self.url)

    def to_json(self) -> dict:
        shown = {**self.config(), "url": self.shown_url}
        return {"name": self.name, "kind": self.kind.value, **shown, "added_at": self.added_at.isoformat()}


def masked_url(url: str) -> str:
    """scheme://host[:port]/first-segment, the rest of the path and every query value as "***": a webhook
    address often carries its token there (…/hooks/T0/B0/XXXX, ?token=…)."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    path = "/" + segments[0] if segments else ""
    if len(segments) > 1:
        path += "/***"
    query = "&".join(f"{item.split('=', 1)[0]}=***" for item in parts.query.split("&") if item)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{path}" + (f"?{query}" if query else "")


def check_target(target: Target) -> Target:
    """The target with defaults filled in, or InvalidInputError naming what is wrong."""
    if len(target.name) > MAX_NAME_LEN or not _NAME.match(target.name):
        raise InvalidInputError(
            f"Target name {target.name[:MAX_NAME_LEN]!r}: use up to {MAX_NAME_LEN} lower-case "
            "letters, digits, '.', '_' or '-'."
        )
    parts = urlsplit(target.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(f"Target {target.name}: {masked_url(target.url)!r} is not an http(s) address.")
    if parts.username or parts.password:
        raise InvalidInputError(f"Target {target.name}: put the login in the secret file, not in the address.")
    kind = TargetKind(target.kind)
    default_field = {TargetKind.ERPNEXT: DEFAULT_ERPNEXT_FIELD, TargetKind.ODOO: DEFAULT_ODOO_FIELD}.get(kind, "")
    if kind is TargetKind.ODOO and not (target.database and target.user):
        raise InvalidInputError(f"Target {target.name}: Odoo needs --db and --user.")
    if (target.latitude is None) != (target.longitude is None):
        raise InvalidInputError(f"Target {target.name}: give both --latitude and --longitude, or neither.")
    if target.latitude is not None and not (-90 <= target.latitude <= 90 and -180 <= (target.longitude or 0) <= 180):
        raise InvalidInputError(f"Target {target.name}: latitude is -90..90 and longitude -180..180 degrees.")
    return replace(
        target,
        kind=kind,
        url=target.url.rstrip("/"),
        employee_field=target.employee_field or default_field,
        shift_types=tuple(name.strip() for name in target.shift_types if name.strip()),
    )


def check_secret(kind: TargetKind, secret: str) -> str:
    secret = secret.strip()
    if not secret:
        raise InvalidInputError("The secret file is empty.")
    if kind is TargetKind.ERPNEXT and (secret.count(":") != 1 or secret.startswith(":") or secret.endswith(":")):
        raise InvalidInputError("ERPNext's key file holds API_KEY:API_SECRET on one line.")
    return secret


# ---- the targets table ----


def save_target(conn: sqlite3.Connection, target: Target) -> None:
    takes = ",".join(TAKES[target.kind])
    conn.execute(
        "INSERT INTO integration_targets (name, kind, config_json, takes, added_at) VALUES (?, ?, ?, ?, ?)",
        [target.name, target.kind.value, json.dumps(target.config()), takes, target.added_at.isoformat()],
    )


def update_target(conn: sqlite3.Connection, target: Target) -> bool:
    """A target's settings replaced; its queue is kept."""
    return (
        conn.execute(
            "UPDATE integration_targets SET kind = ?, config_json = ?, takes = ? WHERE name = ?",
            [target.kind.value, json.dumps(target.config()), ",".join(TAKES[target.kind]), target.name],
        ).rowcount
        > 0
    )


def delete_target(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("DELETE FROM integration_targets WHERE name = ?", [name]).rowcount > 0


def load_targets(conn: sqlite3.Connection) -> list[Target]:
    targets = []
    for name, kind, config_json, added_at in conn.execute(
        "SELECT name, kind, config_json, added_at FROM integration_targets ORDER BY name"
    ):
        config = json.loads(config_json)
        targets.append(
            Target(
                name,
                TargetKind(kind),
                config["url"],
                config.get("employee_field", ""),
                config.get("database", ""),
                config.get("user", ""),
                config.get("verify_tls", True),
                datetime.fromisoformat(added_at),
                config.get("latitude"),
                config.get("longitude"),
                tuple(config.get("shift_types") or ()),
            )
        )
    return targets


# ---- the secrets file ----


def secrets_path(data_dir: Path) -> Path:
    return Path(data_dir) / SECRETS_FILE


def load_secrets(data_dir: Path) -> dict[str, str]:
    path = secrets_path(data_dir)
    if not path.exists():
        return {}
    if os.name == "posix" and path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # someone loosened it: tighten, the secrets are inside
    try:
        secrets = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(
            f"The integration secrets file {path} cannot be read ({type(exc).__name__}); add the targets again."
        ) from None
    return {str(name): str(secret) for name, secret in secrets.items()}


def _write_secrets(data_dir: Path, secrets: dict[str, str]) -> None:
    """Written owner-only from the start (never world-readable for a moment), then swapped in."""
    path = secrets_path(data_dir)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(secrets, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def store_secret(data_dir: Path, name: str, secret: str) -> None:
    _write_secrets(data_dir, {**load_secrets(data_dir), name: secret})


def forget_secret(data_dir: Path, name: str) -> None:
    secrets = load_secrets(data_dir)
    if secrets.pop(name, None) is not None:
        _write_secrets(data_dir, secrets)


def read_secret_file(path: Path | str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise InvalidInputError(f"Cannot read the secret file {path}: {exc.strerror or exc}.") from None
