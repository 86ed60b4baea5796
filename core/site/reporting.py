"""Read-only reporting on the site server: stable SQL views for BI tools (Metabase, Power BI, Excel), and
logins that can read those views and nothing else.

The views live in their own schema, `rollcall_reports`, and belong to the site's owner, so they read the
tables with the owner's rights; a reporter login gets USAGE on that schema and SELECT on its views only.
They are versioned with the server schema (a migration adds them; a later change is a new migration):

- people (person_id = the person's UUID, name, external_id, active, enrolled_at)
- raw_events (event_id, person_id, name, external_id, kind, time, utc_offset_min, station, received_at):
  every accepted sighting as its station recorded it (unknown faces have no person)
- corrections (correction_id, kind, event_id, person_id, time, reason, made_by, made_at), from the HR book
- day_status (person_id, name, external_id, day, status, shift, first_seen, last_seen, hours,
  late_minutes, early_leave_minutes, half_day, final, computed_at): the rules' verdict, as the admin
  station last published it (`rollcall site reporter publish`, and on each background delivery round)
- timesheet (person_id, name, external_id, month, days_attended, days_absent, days_late, late_minutes,
  half_days, hours): day_status summed per person and month
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from core.base.timekeeping import ATTENDED, PersonDay
from core.site.connection import SiteError, SiteProblem
from core.site.driver import psycopg
from core.site.hardening import REPORTER_SESSION_LIMITS, limit_sessions
from core.site.roles import MAX_ROLE_NAME, PASSWORD_BYTES

REPORTS_SCHEMA = "rollcall_reports"
REPORT_VIEWS = ("people", "raw_events", "corrections", "day_status", "timesheet")
REPORTER_CONNECTION_LIMIT = 8
_REPORTER_NAME = re.compile(r"[a-z0-9_]{1,30}")
_ATTENDED_SQL = ", ".join(f"'{status.value}'" for status in sorted(ATTENDED))

_REPORTING_MIGRATION = """
CREATE TABLE IF NOT EXISTS {s}.report_days (
    person_uuid uuid NOT NULL, day date NOT NULL, status text NOT NULL, shift text,
    first_seen timestamptz, last_seen timestamptz, hours real NOT NULL DEFAULT 0,
    late_minutes integer NOT NULL DEFAULT 0, early_leave_minutes integer NOT NULL DEFAULT 0,
    half_day boolean NOT NULL DEFAULT false, final boolean NOT NULL DEFAULT false,
    computed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (person_uuid, day));
CREATE SCHEMA IF NOT EXISTS {r};
REVOKE ALL ON SCHEMA {r} FROM PUBLIC;
CREATE OR REPLACE VIEW {r}.people AS
    SELECT p.uuid AS person_id, p.name, p.external_id, p.active, p.created_at AS enrolled_at FROM {s}.people p;
CREATE OR REPLACE VIEW {r}.raw_events AS
    SELECT e.event_uuid AS event_id, e.person_uuid AS person_id, p.name, p.external_id, e.kind,
           e.kiosk_time AS time, e.kiosk_utc_offset_min AS utc_offset_min, k.name AS station, e.received_at
    FROM {s}.events e JOIN {s}.kiosks k ON k.id = e.kiosk_id LEFT JOIN {s}.people p ON p.uuid = e.person_uuid;
CREATE OR REPLACE VIEW {r}.corrections AS
    SELECT (c ->> 'id')::bigint AS correction_id, c ->> 'kind' AS kind, (c ->> 'event')::uuid AS event_id,
           (c ->> 'person')::uuid AS person_id, (c ->> 'time_utc')::timestamptz AS time, c ->> 'reason' AS reason,
           c ->> 'made_by' AS made_by, (c ->> 'made_at_utc')::timestamptz AS made_at
    FROM {s}.hr_book b CROSS JOIN LATERAL jsonb_array_elements(coalesce(b.body -> 'corrections', '[]')) c;
CREATE OR REPLACE VIEW {r}.day_status AS
    SELECT d.person_uuid AS person_id, p.name, p.external_id, d.day, d.status, d.shift, d.first_seen, d.last_seen,
           d.hours, d.late_minutes, d.early_leave_minutes, d.half_day, d.final, d.computed_at
    FROM {s}.report_days d JOIN {s}.people p ON p.uuid = d.person_uuid;
CREATE OR REPLACE VIEW {r}.timesheet AS
    SELECT person_id, name, external_id, date_trunc('month', day)::date AS month,
           count(*) FILTER (WHERE status IN ({attended})) AS days_attended,
           count(*) FILTER (WHERE status = 'absent') AS days_absent,
           count(*) FILTER (WHERE late_minutes > 0) AS days_late, sum(late_minutes) AS late_minutes,
           count(*) FILTER (WHERE half_day) AS half_days, round(sum(hours)::numeric, 2) AS hours
    FROM {r}.day_status GROUP BY person_id, name, external_id, date_trunc('month', day);
"""


def migrate_reporting(conn: psycopg.Connection, schema: str) -> None:
    """Server migration: the published day statuses and the reporting views (safe to run again)."""
    sql = psycopg.sql
    conn.execute(
        sql.SQL(_REPORTING_MIGRATION).format(
            s=sql.Identifier(schema), r=sql.Identifier(REPORTS_SCHEMA), attended=sql.SQL(_ATTENDED_SQL)
        )
    )


@dataclass(frozen=True)
class ReporterLogin:
    login: str
    password: str  # shown once; the server keeps only its SCRAM verifier
    views: tuple[str, ...]


def reporter_prefix(database: str) -> str:
    return f"{database}_report_"


def reporter_role(database: str, name: str) -> str:
    """`<db>_report_<name>`, or SiteError: a reporter's name is 1 to 30 lower-case letters, digits or '_'."""
    if not _REPORTER_NAME.fullmatch(name):
        raise SiteError(
            f"A reporting login's name is 1 to 30 lower-case letters, digits or '_' (e.g. metabase); "
            f"{name[:40]!r} is not.",
            SiteProblem.BAD_NAME,
        )
    return f"{reporter_prefix(database)}{name}"[:MAX_ROLE_NAME]


def create_reporter(conn: psycopg.Connection, name: str) -> ReporterLogin:
    """A login that can read the reporting views and nothing else, with a SCRAM verifier computed here
    (the password never reaches the server). Run by the site's owner."""
    login = reporter_role(conn.info.dbname, name)
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    verifier = conn.pgconn.encrypt_password(password.encode(), login.encode(), b"scram-sha-256").decode()
    sql = psycopg.sql
    with conn.transaction():
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [login]).fetchone():
            raise SiteError(f"A reporting login {login} exists already; choose another name.", SiteProblem.BAD_NAME)
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOINHERIT CONNECTION LIMIT {} PASSWORD {}").format(
                sql.Identifier(login), sql.Literal(REPORTER_CONNECTION_LIMIT), sql.Literal(verifier)
            )
        )
        conn.execute(
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(REPORTS_SCHEMA), sql.Identifier(login))
        )
        for view in REPORT_VIEWS:
            conn.execute(
                sql.SQL("GRANT SELECT ON {}.{} TO {}").format(
                    sql.Identifier(REPORTS_SCHEMA), sql.Identifier(view), sql.Identifier(login)
                )
            )
        conn.execute(
            sql.SQL("ALTER ROLE {} SET search_path = {}").format(sql.Identifier(login), sql.Identifier(REPORTS_SCHEMA))
        )
        conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(sql.Identifier(login)))
        limit_sessions(conn, login, REPORTER_SESSION_LIMITS)
    return ReporterLogin(login, password, REPORT_VIEWS)


def publish_days(conn: psycopg.Connection, days: Iterable[tuple[str, PersonDay]]) -> int:
    """The rules' day statuses (person UUID, day) for the day_status and timesheet views; returns how many."""
    rows = [
        (
            uuid,
            d.day,
            d.status.value,
            d.shift,
            d.first_seen,
            d.last_seen,
            d.hours,
            d.late_minutes,
            d.early_leave_minutes,
            d.half_day,
            d.final,
        )
        for uuid, d in days
    ]
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO report_days (person_uuid, day, status, shift, first_seen, last_seen, hours, late_minutes,"
            " early_leave_minutes, half_day, final) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (person_uuid, day) DO UPDATE SET status = excluded.status, shift = excluded.shift,"
            " first_seen = excluded.first_seen, last_seen = excluded.last_seen, hours = excluded.hours,"
            " late_minutes = excluded.late_minutes, early_leave_minutes = excluded.early_leave_minutes,"
            " half_day = excluded.half_day, final = excluded.final, computed_at = now()",
            rows,
        )
    return len(rows)
