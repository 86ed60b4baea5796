"""What the integration tests share: an engine on a database file with people, events through the store,
and the three local targets configured."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from core.app.engine import Engine
from core.base.records import AttendanceEvent, EventKind, Person
from core.base.settings import Settings
from core.integrations.outbox import DeliveryPolicy
from core.integrations.targets import Target, TargetKind
from tests.kits.fake_erpnext import FakeErpnext
from tests.kits.fake_odoo import FakeOdoo
from tests.kits.fake_webhook import FakeWebhook

ZONE = "Europe/Berlin"
QUICK = DeliveryPolicy(first_retry_s=0.0, max_backoff_s=0.0, timeout_s=2.0, interval_s=0.05)


def at(day: int, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(2026, 10, day, hh, mm, ss, tzinfo=ZoneInfo(ZONE))


def make_engine() -> Engine:
    settings = Settings()
    settings.attendance.time_zone = ZONE
    engine = Engine(settings)
    engine.integration_policy = QUICK
    return engine


def people(engine: Engine, count: int) -> list[Person]:
    return [engine.store.add_person(f"Person {i}", external_id=f"E{i:03d}") for i in range(count)]


def sight(engine: Engine, person: Person, moment: datetime, kind: EventKind = EventKind.CHECK_IN) -> AttendanceEvent:
    return engine.store.record_event(AttendanceEvent(None, person.id, None, kind, moment, "camera:0", 0.9))


def secret_file(folder: Path, name: str, secret: str) -> Path:
    path = folder / f"{name}.secret"
    path.write_text(secret + "\n")
    return path


def add_webhook(engine: Engine, hook: FakeWebhook, name: str = "hook") -> None:
    engine.add_integration(Target(name, TargetKind.WEBHOOK, hook.url + "/rollcall"), hook.secret)


def add_erpnext(engine: Engine, erp: FakeErpnext, name: str = "erp") -> None:
    engine.add_integration(Target(name, TargetKind.ERPNEXT, erp.url), erp.token.removeprefix("token "))


def add_odoo(engine: Engine, odoo: FakeOdoo, name: str = "odoo") -> None:
    engine.add_integration(Target(name, TargetKind.ODOO, odoo.url, database=odoo.db, user=odoo.login), odoo.password)


def status(engine: Engine) -> dict[str, tuple[int, int, int]]:
    return {row.target: (row.queued, row.delivered, row.dead) for row in engine.integration_status()}
