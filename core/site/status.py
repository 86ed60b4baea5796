"""Reading the site: this station's status, every station as the server sees it, every station's events."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone

from core.site.driver import psycopg
from core.site.records import SiteRole


@dataclass(frozen=True)
class StationStatus:
    """A station as the server sees it (an admin's `site status` lists them all)."""

    name: str
    is_admin: bool
    last_contact: datetime | None
    queue_length: int
    acked_seq: int
    gallery_version: int
    events_on_server: int
    left: bool


@dataclass(frozen=True)
class SiteStatus:
    role: SiteRole
    station: str | None = None
    server: str | None = None  # host:port/database as user; never the password
    reachable: bool | None = None  # None: not checked (standalone)
    error: str | None = None
    last_sync: datetime | None = None
    queue: int = 0  # events not yet on the server
    gallery_version: int = 0
    server_gallery_version: int | None = None
    stations: list[StationStatus] = field(default_factory=list)
    notice: str | None = None  # after a join: what it meant for an earlier copy of the station

    def to_json(self) -> dict:
        data = asdict(self)
        for item in [data, *data["stations"]]:
            for key, value in item.items():
                if isinstance(value, datetime):
                    item[key] = value.isoformat()
        return data


@dataclass(frozen=True)
class SiteEvent:
    """An attendance event as the server holds it: the station's own time and when it arrived."""

    kiosk: str
    person_uuid: str | None
    person_name: str | None
    external_id: str | None
    kind: str
    time: datetime  # in the station's own UTC offset
    received_at: datetime
    source: str
    similarity: float

    @property
    def day(self) -> date:
        return self.time.date()


def read_server_status(conn: psycopg.Connection, role: SiteRole) -> tuple[int, list[StationStatus]]:
    """The server's gallery version, and (for an admin station) every station as the server sees it."""
    with conn.transaction():
        version = conn.execute("SELECT gallery_version FROM site_meta").fetchone()[0]
        stations = []
        if role is SiteRole.ADMIN:
            stations = [StationStatus(*row) for row in conn.execute(
                "SELECT k.name, k.is_admin, k.last_contact, k.queue_length, k.acked_seq, k.gallery_version,"
                " (SELECT count(*) FROM events e WHERE e.kiosk_id = k.id), k.left_at IS NOT NULL"
                " FROM kiosks k ORDER BY k.name")]
        return version, stations


def read_site_events(conn: psycopg.Connection, start: date, end: date) -> list[SiteEvent]:
    """Every station's events from start to end (the stations' own days), oldest first."""
    with conn.transaction():
        rows = conn.execute(
            "SELECT k.name, e.person_uuid::text, p.name, p.external_id, e.kind, e.kiosk_time,"
            " e.kiosk_utc_offset_min, e.received_at, e.source, e.similarity FROM events e"
            " JOIN kiosks k ON k.id = e.kiosk_id LEFT JOIN people p ON p.uuid = e.person_uuid"
            " WHERE e.kiosk_day BETWEEN %s AND %s ORDER BY e.kiosk_time, k.name, e.kiosk_seq",
            [start, end]).fetchall()
    return [SiteEvent(r[0], r[1], r[2], r[3], r[4], r[5].astimezone(timezone(timedelta(minutes=r[6]))), r[7],
                      r[8], float(r[9])) for r in rows]
