"""Reading the site: this station's status, every station as the server sees it, every station's events."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone

from core.site.driver import psycopg
from core.site.intake import MAX_SOURCE_BYTES
from core.site.records import SiteRole
from core.site.trust import SkippedRow, event_problem


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
    reported_up_to: datetime | None = None  # how far it holds the site's absences pending (None: it holds none)
    rows_this_hour: int = 0  # what it sent this hour, against the site's quota
    bytes_this_hour: int = 0
    refused_at: datetime | None = None  # when the quota last refused its uploads


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
    skipped_total: int = 0  # rows of other stations this station could not use (core.site.trust)
    skipped: list[SkippedRow] = field(default_factory=list)  # the most recent of them
    refused_total: int = 0  # this station's own events the server refused (kept in the local database)
    refused: list[SkippedRow] = field(default_factory=list)
    pending_held_by: str | None = None  # the station whose report holds the site's absences pending the longest
    quota: tuple[int, int] | None = None  # the server's (rows, bytes) per station and hour (admin station)
    server_gaps: list[str] = field(default_factory=list)  # what logins may still write outside the schema

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


@dataclass(frozen=True)
class ServerStatus:
    gallery_version: int
    stations: list[StationStatus]
    pending_held_by: str | None
    quota: tuple[int, int] | None


def read_server_status(conn: psycopg.Connection, role: SiteRole) -> ServerStatus:
    """The server's gallery version, the station holding absences pending, and (for an admin station) every
    station as the server sees it, with what it sent this hour."""
    with conn.transaction():
        version = conn.execute("SELECT gallery_version FROM site_meta").fetchone()[0]
        held = conn.execute("SELECT station FROM rollcall_station_reports() LIMIT 1").fetchone()
        stations, quota = [], None
        if role is SiteRole.ADMIN:
            stations = [StationStatus(*row) for row in conn.execute(
                "SELECT k.name, k.is_admin, k.last_contact, k.queue_length, k.acked_seq, k.gallery_version,"
                " (SELECT count(*) FROM events e WHERE e.kiosk_id = k.id), k.left_at IS NOT NULL, r.reported_up_to,"
                " CASE WHEN i.hour = date_trunc('hour', now()) THEN i.rows ELSE 0 END,"
                " CASE WHEN i.hour = date_trunc('hour', now()) THEN i.bytes ELSE 0 END, i.refused_at"
                " FROM kiosks k LEFT JOIN rollcall_station_reports() r ON r.station = k.name"
                " LEFT JOIN station_intake i ON i.kiosk_id = k.id ORDER BY k.name")]
            quota = conn.execute("SELECT rows_per_hour, bytes_per_hour FROM site_limits").fetchone()
        return ServerStatus(version, stations, held[0] if held else None, quota)


def read_site_events(conn: psycopg.Connection, start: date, end: date,
                     skipped: list[tuple[str, str, str]] | None = None) -> list[SiteEvent]:
    """Every station's events from start to end (the stations' own days), oldest first. Rows that cannot be
    used (core.site.trust) are left out and added to `skipped` as (station, event UUID, why)."""
    with conn.transaction():
        rows = conn.execute(
            "SELECT k.name, e.person_uuid::text, p.name, p.external_id, e.kind,"
            " CASE WHEN isfinite(e.kiosk_time) THEN e.kiosk_time END, e.kiosk_utc_offset_min, e.received_at,"
            f" left(e.source, {MAX_SOURCE_BYTES + 1}), e.similarity, e.event_uuid::text FROM events e"
            " JOIN kiosks k ON k.id = e.kiosk_id LEFT JOIN people p ON p.uuid = e.person_uuid"
            " WHERE e.kiosk_day BETWEEN %s AND %s ORDER BY e.kiosk_time, k.name, e.kiosk_seq",
            [start, end]).fetchall()
    events = []
    for r in rows:
        problem = event_problem(r[4], r[1], r[5], r[6], r[8], r[9], r[7])
        if problem:
            if skipped is not None:
                skipped.append((r[0], r[10], problem))
            continue
        events.append(SiteEvent(r[0], r[1], r[2], r[3], r[4], r[5].astimezone(timezone(timedelta(minutes=r[6]))),
                                r[7], r[8], float(r[9])))
    return events
