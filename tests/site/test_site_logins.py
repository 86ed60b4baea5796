"""A stolen kiosk login cannot outlive its retirement, nor write outside the site's schema (issue 31, defects 5
and 6), on the real PostgreSQL; the other stations keep syncing."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from psycopg import errors

from core.app.cli import main
from core.site.connection import SiteError, load_credentials
from core.site.reporting import create_reporter
from tests.kits.site_kit import enroll, station, sync, write_events

RETIRE_WITHIN_S = 20  # the join waited 60 s, then failed, before


@pytest.fixture
def site(pg, tmp_path):
    _, url = pg
    admin = station(tmp_path / "admin")
    enroll(admin.store, "Ada Lovelace", seed=1)
    admin.init(url)
    north, south = station(tmp_path / "north"), station(tmp_path / "south")
    north.join(url, "north")
    south.join(url, "south")
    for kiosk in (north, south, admin):
        write_events(kiosk.store, 2)
        sync(kiosk)
    yield url, admin, north, south, tmp_path
    for kiosk in (admin, north, south):
        kiosk.close()


def holding_a_transaction(url: str) -> tuple[psycopg.Connection, threading.Thread]:
    """`BEGIN; SELECT rollcall_heartbeat(0, 0, 0); SELECT pg_sleep(1e9);` with the login, in a thread."""
    session = psycopg.connect(url)
    session.execute("SELECT rollcall_heartbeat(0, 0, 0)")  # a transaction, now holding its station's row

    def sleep() -> None:
        try:
            session.execute("SELECT pg_sleep(1e9)")
        except psycopg.Error:
            pass  # ended by the server

    thread = threading.Thread(target=sleep, daemon=True)
    thread.start()
    time.sleep(0.3)
    return session, thread


@pytest.mark.slow
def test_5_a_stolen_login_cannot_block_its_retirement(site, capsys):
    url, admin, north, south, folder = site
    stolen_url = load_credentials(folder / "north").url
    session, thread = holding_a_transaction(stolen_url)
    started = time.monotonic()
    replacement = station(folder / "north-new")
    replacement.join(url, "north")  # a join in its place: its sessions end before any lock is taken
    assert time.monotonic() - started < RETIRE_WITHIN_S
    thread.join(RETIRE_WITHIN_S)
    assert not thread.is_alive()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(stolen_url)
    write_events(replacement.store, 1)
    assert sync(replacement).uploaded == 1
    session.close()
    replacement.close()

    south_url = load_credentials(folder / "south").url  # the admin retires a kiosk by name, the same way
    session, thread = holding_a_transaction(south_url)
    started = time.monotonic()
    assert main(["--home", str(folder / "admin"), "site", "retire", "--kiosk", "south"]) == 0
    assert "retired" in capsys.readouterr().out
    assert time.monotonic() - started < RETIRE_WITHIN_S
    thread.join(RETIRE_WITHIN_S)
    assert not thread.is_alive()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(south_url)
    session.close()
    assert sync(admin).uploaded == 0


@pytest.mark.slow
def test_5_a_lock_held_by_another_station_is_named_not_waited_on(site):
    url, admin, north, south, folder = site
    session, thread = holding_a_transaction(load_credentials(folder / "south").url)
    started = time.monotonic()
    with pytest.raises(SiteError) as held:
        station(folder / "east").join(url, "east")
    assert time.monotonic() - started < RETIRE_WITHIN_S
    assert "south" in str(held.value) and "cannot be reached" not in str(held.value), str(held.value)
    session.cancel()
    thread.join(5)
    session.close()
    station(folder / "east").join(url, "east")
    with pytest.raises(SiteError):  # an admin station under a kiosk's name is refused, and retires nothing
        station(folder / "admin-2").init(url, "south")
    write_events(south.store, 1)
    assert sync(south).uploaded == 1


def test_6_no_kiosk_or_reporting_login_writes_outside_the_schema(site, pg):
    url, admin, north, south, folder = site
    cluster, _ = pg
    kiosk_url = load_credentials(folder / "north").url
    with psycopg.connect(url, autocommit=True) as owner:
        reporter = create_reporter(owner, "metabase")
        assert owner.execute("SELECT current_setting('lo_compat_privileges')").fetchone() == ("off",)
    reporter_url = psycopg.conninfo.make_conninfo(url, user=reporter.login, password=reporter.password)
    for login_url in (kiosk_url, reporter_url):
        with psycopg.connect(login_url, autocommit=True) as conn:
            conn.execute("SET default_transaction_read_only = off")  # a reporter's default, which it may change
            for statement in (
                "SELECT lo_from_bytea(0, repeat('x', 1048576)::bytea)",
                "SELECT lo_create(0)",
                "SELECT lo_creat(-1)",
                "CREATE TEMP TABLE t (x int)",
            ):
                with pytest.raises(errors.InsufficientPrivilege):
                    conn.execute(statement)
            settings = dict(
                conn.execute(
                    "SELECT name, setting FROM pg_settings WHERE name IN ('statement_timeout',"
                    " 'idle_in_transaction_session_timeout', 'temp_file_limit')"
                ).fetchall()
            )
            assert all(int(value) > 0 for value in settings.values()), settings
        other = psycopg.conninfo.make_conninfo(login_url, dbname="postgres")  # not in the site's database either
        with psycopg.connect(other, autocommit=True) as conn:
            conn.execute("SET default_transaction_read_only = off")
            for statement in ("CREATE TEMP TABLE t (x int)", "CREATE TABLE public.t (x int)", "CREATE SCHEMA s"):
                with pytest.raises(errors.InsufficientPrivilege):
                    conn.execute(statement)
    assert admin.status().server_gaps == []  # the owner here is a superuser: every step was allowed
    write_events(south.store, 1)
    assert sync(south).uploaded == 1
