"""The site server's reporting role on a real PostgreSQL: the views hold the site's people, sightings,
corrections, day statuses and timesheet, and a reporter login reads them and nothing else."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest

from core.app.engine import Engine
from core.base.records import AttendanceEvent, EventKind
from core.base.settings import Settings
from core.site.connection import SiteError, load_credentials
from core.site.reporting import REPORT_VIEWS, REPORTS_SCHEMA
from tests.kits.site_kit import FAST

ZONE = ZoneInfo("Europe/Berlin")
DAY = date(2026, 10, 12)


@pytest.fixture
def admin(pg, rollcall_home):
    cluster, url = pg
    settings = Settings()
    settings.attendance.time_zone = "Europe/Berlin"
    settings.site = FAST
    settings.save()  # the CLI's engine reads the same
    engine = Engine(settings)
    engine.clock = lambda: datetime(2026, 10, 12, 23, 0, tzinfo=ZONE)
    group = engine.add_group("Office", "09:00", "17:00", 5, "mon-fri", 0, actor="admin").value
    ada = engine.store.add_person("Ada Lovelace", external_id="E1")
    engine.assign_group(ada.id, group.id, actor="admin")
    engine.store._conn.execute("UPDATE people SET created_at = '2026-01-01T00:00:00+00:00'")
    for hh, mm, kind in ((9, 20, EventKind.CHECK_IN), (17, 5, EventKind.CHECK_OUT)):
        engine.store.record_event(
            AttendanceEvent(None, ada.id, None, kind, datetime(2026, 10, 12, hh, mm, tzinfo=ZONE), "cam", 0.9)
        )
    engine.punch(ada.id, datetime(2026, 10, 12, 12, 0, tzinfo=ZONE), "forgot to look", actor="admin")
    engine.site_init(url)
    engine.sync_site_now()
    yield engine, cluster, url
    engine.close()


def reporter_url(cluster, url: str, login: str, password: str) -> str:
    database = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    return cluster.url(database, user=login, password=password)


def test_reporter_reads_the_views(admin):
    engine, cluster, url = admin
    assert engine.publish_site_reports(DAY, DAY) == 1
    login = engine.create_site_reporter("metabase")
    assert login.password not in load_credentials(engine._integration_folder()).url
    with psycopg.connect(reporter_url(cluster, url, login.login, login.password), autocommit=True) as conn:
        assert conn.execute("SELECT name, external_id FROM people").fetchall() == [("Ada Lovelace", "E1")]
        events = conn.execute("SELECT name, kind, time, station FROM raw_events ORDER BY time").fetchall()
        assert [(n, k, s) for n, k, _, s in events] == [
            ("Ada Lovelace", "check_in", "admin"),
            ("Ada Lovelace", "check_out", "admin"),
        ]
        assert conn.execute("SELECT kind, reason FROM corrections").fetchall() == [("punch", "forgot to look")]
        assert conn.execute("SELECT day, status, late_minutes FROM day_status").fetchall() == [(DAY, "late", 20)]
        assert conn.execute("SELECT month, days_attended, days_late, late_minutes, hours FROM timesheet").fetchone()[
            :4
        ] == (date(2026, 10, 1), 1, 1, 20)


def test_reporter_reads_nothing_else(admin):
    engine, cluster, url = admin
    login = engine.create_site_reporter("powerbi")
    with pytest.raises(SiteError, match="exists already"):
        engine.create_site_reporter("powerbi")
    with pytest.raises(SiteError, match="lower-case"):
        engine.create_site_reporter("Power BI; DROP")
    refused = 0
    with psycopg.connect(reporter_url(cluster, url, login.login, login.password), autocommit=True) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
        for view in REPORT_VIEWS:
            conn.execute(f"SELECT * FROM {REPORTS_SCHEMA}.{view} LIMIT 1")
        conn.execute("SET default_transaction_read_only = off")  # what it may not do, even then
        for statement in (
            "SELECT * FROM public.people",
            "SELECT crop_jpeg FROM public.samples",
            "SELECT * FROM public.embeddings",
            "SELECT * FROM public.events",
            "SELECT * FROM public.kiosks",
            "SELECT body FROM public.hr_book",
            "SELECT * FROM public.report_days",
            "SELECT * FROM public.unknown_faces",
            "SELECT * FROM public.model_package_parts",
            "SELECT * FROM public.rollcall_site_events('-infinity', 0, 0, 10)",
            "SELECT public.rollcall_kiosk_id()",
            "SELECT public.rollcall_reported_up_to()",
            "UPDATE people SET name = 'x'",
            "DELETE FROM people",
            "CREATE TABLE public.mine (x int)",
            "CREATE VIEW rollcall_reports.mine AS SELECT 1",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            refused += 1
    assert refused == 16


def test_site_reporter_create_and_publish_through_the_cli(admin, capsys):
    from core.app.cli import main

    engine, cluster, url = admin
    assert main(["site", "reporter", "publish", "--from", "2026-10-12", "--to", "2026-10-12"]) == 0
    assert "published 1 day statuses" in capsys.readouterr().out
    assert main(["site", "reporter", "create", "excel"]) == 0
    out = capsys.readouterr().out
    login = out.split("reporting login ")[1].split()[0]
    password = out.split("password (shown once; the server keeps only its SCRAM verifier): ")[1].split()[0]
    with psycopg.connect(reporter_url(cluster, url, login, password), autocommit=True) as conn:
        assert conn.execute("SELECT status FROM day_status").fetchall() == [("late",)]
