"""`rollcall events import`: CSV and ZKTeco logs through the recogniser's own path, on a real store."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.app.cli import main
from core.app.engine import Engine
from core.app.import_ops import ImportPhase
from core.attendance.book import AttendanceBook
from core.attendance.event_import import ImportRefused, LogFormat
from core.base.errors import Cancelled, InvalidInputError
from core.base.settings import Settings
from core.base.timekeeping import AuditAction, DayStatus
from core.gallery.store import GalleryStore

ZONE = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 10, 12)
DAYS = [MONDAY + timedelta(days=n) for n in range(4)]
PEOPLE = (
    ("Nadia Night", "N-1", "Night"),
    ("Otto Outmode", "N-2", "Night"),
    ("Dora Day", "D-1", "Day"),
    ("Wim Wednesday", "D-2", "Day"),
)


def at(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=ZONE)


def night(n: int, hh: int, mm: int = 0) -> datetime:
    """A time of night n (1-based), which starts on MONDAY + n - 1; hours before noon are the morning after."""
    return at(MONDAY + timedelta(days=n - (hh >= 12)), hh, mm)


TUE, WED = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
# The issue's four cases: who was sighted when (the sightings a camera would have seen)
SIGHTINGS = {
    "N-1": [night(n, hh) for n in (1, 2, 3) for hh in (22, 6)],
    "N-2": [night(n, hh) for n in (1, 2, 3) for hh in (22, 6)] + [night(2, 23, 30)],
    "D-1": [at(TUE, 8, 0), at(TUE, 12, 0), at(TUE, 22, 30)],
    "D-2": [at(TUE, 8, 0), at(TUE, 12, 0), at(TUE, 22, 30), at(WED, 11, 0)],
}


def make_engine(settings: Settings, store: GalleryStore | None = None) -> Engine:
    """Groups Night (22:00-06:00) and Day (08:00-12:00), every day, and the four people in them."""
    engine = Engine(settings, store=store)
    engine.clock = lambda: at(date(2026, 11, 2), 12, 0)
    groups = {
        name: engine.add_group(name, start, end, 0, "mon-sun", 0.0, actor="admin").value
        for name, start, end in (("Night", "22:00", "06:00"), ("Day", "08:00", "12:00"))
    }
    for name, external_id, group in PEOPLE:
        person = engine.store.add_person(name, external_id=external_id)
        engine.assign_group(person.id, groups[group].id, actor="admin")
    conn = sqlite3.connect(engine.store.path)  # enrolled before the test's days, so they count
    with conn:
        conn.execute("UPDATE people SET created_at = '2026-01-01T00:00:00+00:00'")
    conn.close()
    return engine


@pytest.fixture
def settings() -> Settings:
    settings = Settings()
    settings.attendance.time_zone = "Europe/Berlin"
    return settings


@pytest.fixture
def engine(settings, rollcall_home):
    engine = make_engine(settings)
    yield engine
    engine.close()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def sightings_csv(path: Path, offset: bool = False) -> Path:
    """Every sighting as a CSV line, people by name, times on the site's wall clock (or ISO with offset)."""
    names = {external_id: name for name, external_id, _ in PEOPLE}
    lines = ["person,time,station"]
    for external_id, moments in SIGHTINGS.items():
        for moment in moments:
            written = moment.isoformat() if offset else f"{moment:%Y-%m-%d %H:%M}"
            lines.append(f"{names[external_id]},{written},door")
    return write(path, "\n".join(lines) + "\n")


def import_file(engine: Engine, path: Path, **options):
    return engine.import_events_now(path, **options).value


def board(engine: Engine) -> list[dict]:
    return [row.to_json() for day in DAYS for row in engine.day_board(day)]


@pytest.mark.parametrize("checkout_mode", [False, True], ids=["default mode", "check-out mode"])
def test_an_imported_log_means_what_the_same_sightings_through_the_recogniser_mean(
    settings, rollcall_home, tmp_path, checkout_mode
):
    settings.attendance.checkout_mode = checkout_mode
    imported = make_engine(settings)
    observed = make_engine(settings, GalleryStore(tmp_path / "observed.db"))
    try:
        result = import_file(imported, sightings_csv(tmp_path / "log.csv"))
        book = AttendanceBook(observed.store, settings.attendance)
        by_external_id = {p.external_id: p.id for p in observed.store.list_people()}
        for moment, external_id in sorted((m, e) for e, moments in SIGHTINGS.items() for m in moments):
            book.observe(by_external_id[external_id], 1.0, "door", when=moment)
        assert result.sightings == sum(len(moments) for moments in SIGHTINGS.values())
        assert result.already_there == 0 and result.people == len(PEOPLE)
        assert [(e.person_id, e.kind, e.time) for e in imported.store.events()] == [
            (e.person_id, e.kind, e.time) for e in observed.store.events()
        ]
        assert board(imported) == board(observed)
    finally:
        imported.close()
        observed.close()


@pytest.mark.parametrize("checkout_mode", [False, True], ids=["default mode", "check-out mode"])
def test_the_issues_four_cases_imported_from_a_log(settings, rollcall_home, tmp_path, checkout_mode):
    settings.attendance.checkout_mode = checkout_mode
    engine = make_engine(settings)
    try:
        day = engine.add_shift("Day", "08:00", "12:00", "mon-sun", checkin_before=60, checkout_after=60).value
        engine.set_group_shift(engine.find_group("Day").id, day.id, from_day=MONDAY)  # a change applies from a day
        import_file(engine, sightings_csv(tmp_path / "log.csv"))
        rows = {(row.external_id, row.day): row for day in DAYS for row in engine.day_board(day)}
        for external_id in ("N-1", "N-2"):  # three nights present with 8 h each, in both modes
            nights = [rows[(external_id, MONDAY + timedelta(days=n))] for n in range(3)]
            assert [(r.status, r.hours) for r in nights] == [(DayStatus.PRESENT, 8.0)] * 3, external_id
        if checkout_mode:  # Tuesday present with 4 h, the 22:30 sighting outside any window
            tuesday = rows[("D-1", TUE)]
            assert (tuesday.status, tuesday.hours) == (DayStatus.PRESENT, 4.0)
            assert at(TUE, 22, 30) in tuesday.outside_window
        else:  # the evening visit is not Wednesday's arrival: Wednesday is late by 180 minutes
            wednesday = rows[("D-2", WED)]
            assert (wednesday.status, wednesday.late_minutes) == (DayStatus.LATE, 180)
    finally:
        engine.close()


def test_a_zkteco_log_is_told_from_its_content_and_matched_by_external_id(engine, tmp_path):
    log = write(
        tmp_path / "1_attlog.dat",
        "".join(
            f"{external_id:>9}\t{moment:%Y-%m-%d %H:%M:%S}\t1\t0\t1\t0\r\n"
            for external_id in ("D-1", "D-2")
            for moment in SIGHTINGS[external_id]
        ),
    )
    result = import_file(engine, log)
    assert result.log_format is LogFormat.ZKTECO and result.sightings == 7 and result.people == 2
    events = engine.store.events()
    assert result.recorded == len(events) > 0
    assert {e.source for e in events} == {"1_attlog.dat"}  # no station column: the file names the terminal
    assert events[0].time == at(TUE, 8, 0) and events[0].person_name in ("Dora Day", "Wim Wednesday")


def test_a_zkteco_log_names_people_only_by_external_id(engine, tmp_path):
    log = write(tmp_path / "attlog.dat", f"Dora Day\t{at(TUE, 8, 0):%Y-%m-%d %H:%M:%S}\t1\t0\t1\t0\n")
    with pytest.raises(ImportRefused, match="line 1: no one enrolled has the external ID 'Dora Day'"):
        import_file(engine, log, log_format=LogFormat.ZKTECO)


def test_a_spreadsheet_csv_with_a_byte_order_mark_quotes_and_stations(engine, tmp_path):
    log = tmp_path / "excel.csv"
    log.write_text(
        'Station,Person,Time,Note\r\n"Gate, north",Dora Day,2026-10-13 08:00,"late bus"\r\n,D-2,2026-10-13 08:05,\r\n',
        encoding="utf-8-sig",
    )
    result = import_file(engine, log, station="Warehouse terminal")
    assert (result.log_format, result.recorded) == (LogFormat.CSV, 2)
    assert [(e.person_name, e.source) for e in engine.store.events()] == [
        ("Dora Day", "Gate, north"),
        ("Wim Wednesday", "Warehouse terminal"),
    ]


def test_a_file_in_neither_format_is_refused_before_anything_is_read(engine, tmp_path):
    with pytest.raises(InvalidInputError, match="Cannot tell the log's format"):
        import_file(engine, write(tmp_path / "notes.txt", "who,when\nDora,8am\n"))
    with pytest.raises(ImportRefused, match="line 1: the header has no 'person' or 'time' column"):
        import_file(engine, write(tmp_path / "notes.txt", "who,when\nDora,8am\n"), log_format=LogFormat.CSV)
    assert engine.store.events() == []


def test_importing_the_same_file_twice_adds_nothing(engine, tmp_path):
    log = sightings_csv(tmp_path / "log.csv")
    first = import_file(engine, log)
    events = engine.store.events()
    again = import_file(engine, log)
    assert engine.store.events() == events
    assert again.recorded == 0 and again.already_there == first.recorded
    assert again.within_cooldown == first.within_cooldown


def test_a_sighting_seen_live_and_then_imported_counts_once(engine, tmp_path):
    dora = engine.find_person("Dora Day")
    book = AttendanceBook(engine.store, engine.settings.attendance)
    book.observe(dora.id, 0.8, "hall camera", when=at(TUE, 8, 0, 34) + timedelta(microseconds=500_000))
    to_the_second = write(tmp_path / "seconds.csv", "person,time\nD-1,2026-10-13 08:00:34\n")
    to_the_minute = write(tmp_path / "minutes.csv", "person,time\nD-1,2026-10-13 08:00\n")
    for log in (to_the_second, to_the_minute):
        result = import_file(engine, log)
        assert (result.recorded, result.already_there) == (0, 1)
    assert len(engine.store.events()) == 1


def test_an_unknown_person_and_a_bad_line_change_nothing_and_are_named_by_line(engine, tmp_path):
    log = write(
        tmp_path / "log.csv",
        "person,time\n"
        "Dora Day,2026-10-13 08:00\n"
        "Zed Unknown,2026-10-13 08:05\n"
        "\n"
        "D-2,13/10/2026 08:10\n"
        "D-2,2026-10-13 12:00\n",
    )
    with pytest.raises(ImportRefused) as refused:
        import_file(engine, log)
    message = str(refused.value)
    assert "2 problems, nothing was imported" in message
    assert "line 3: No one named 'Zed Unknown'" in message and "line 5: '13/10/2026 08:10' is not a time" in message
    assert [p.line for p in refused.value.problems] == [3, 5]
    assert engine.store.events() == []
    assert not [e for e in engine.audit_log() if e.action is AuditAction.EVENTS_IMPORTED]


def test_future_times_are_refused_and_a_locked_months_lines_are_held(engine, tmp_path):
    engine.lock_month("2026-09", actor="hr")
    log = write(tmp_path / "log.csv", "person,time\nD-1,2026-09-30 08:00\nD-1,2026-11-30 08:00\nD-1,2026-10-13 08:00\n")
    with pytest.raises(ImportRefused) as refused:
        import_file(engine, log)
    assert [p.line for p in refused.value.problems] == [3]
    assert "in the future" in str(refused.value)
    assert engine.store.events() == []
    ok = write(tmp_path / "ok.csv", "person,time\nD-1,2026-09-30 08:00\nD-1,2026-10-13 08:00\n")
    result = import_file(engine, ok)
    assert (result.recorded, result.held) == (1, 1)  # September's line is held for HR, not counted
    assert [h.month for h in engine.held_sightings()] == ["2026-09"] and len(engine.store.events()) == 1


def test_wall_clock_times_are_in_the_site_zone_and_offsets_are_kept(engine, tmp_path):
    log = write(
        tmp_path / "log.csv",
        "time,person\n"  # columns in any order
        "2026-10-13 08:00,D-1\n"  # Berlin summer time: 06:00 UTC
        "2026-10-13T06:00:00Z,D-1\n"  # the same moment, written in UTC
        "2026-10-14T12:00:00+02:00,D-2\n"
        "2026-10-25 02:30:00,D-2\n",
    )  # the repeated hour: the first (summer) one
    result = import_file(engine, log)
    assert (result.sightings, result.already_there) == (4, 1)
    times = [(e.person_name, e.time) for e in engine.store.events()]
    assert times == [
        ("Dora Day", at(TUE, 8, 0)),
        ("Wim Wednesday", at(WED, 12, 0)),
        ("Wim Wednesday", datetime(2026, 10, 25, 0, 30, tzinfo=ZoneInfo("UTC"))),
    ]
    assert times[0][1].utcoffset() == timedelta(hours=2)  # stored in the site's zone
    assert engine.day_board(TUE)[0].first_seen == at(TUE, 8, 0)


def test_the_import_is_audited_with_the_file_its_checksum_and_counts(engine, tmp_path):
    log = sightings_csv(tmp_path / "log.csv", offset=True)
    result = import_file(engine, log, actor="hr-anna")
    entry = engine.audit_log()[0]
    assert (entry.action, entry.actor, entry.subject) == (AuditAction.EVENTS_IMPORTED, "hr-anna", "file log.csv")
    assert entry.details["sha256"] == hashlib.sha256(log.read_bytes()).hexdigest() == result.sha256
    assert (entry.details["sightings"], entry.details["recorded"]) == (result.sightings, result.recorded)


def test_a_large_log_streams_with_progress_and_a_cancel_keeps_nothing(engine, tmp_path):
    log = tmp_path / "big_attlog.dat"
    with log.open("w") as out:
        for minute in range(2_500):  # D-1 every 3 minutes for 5 days: most fall within the cooldown
            out.write(
                f"D-1\t{at(MONDAY - timedelta(days=60), 0, 0) + timedelta(minutes=3 * minute):%Y-%m-%d %H:%M:%S}"
                "\t1\t0\t1\t0\n"
            )
    phases: list[ImportPhase] = []
    with pytest.raises(Cancelled):  # stopped while the sightings are being written
        for step in engine.import_events(log, cancel=lambda: ImportPhase.RECORDING in phases):
            phases.append(step.phase)
    assert engine.store.events() == [] and ImportPhase.RECORDING in phases
    steps = list(engine.import_events(log))
    reading = [s for s in steps if s.phase is ImportPhase.READING]
    assert reading[-1].done == reading[-1].total == log.stat().st_size and len(reading) > 2
    assert 0 < len(engine.store.events()) < 2_500


def test_history_imported_after_live_recognition_keeps_its_sightings(engine, tmp_path):
    dora = engine.find_person("Dora Day")
    AttendanceBook(engine.store, engine.settings.attendance).observe(dora.id, 0.8, "cam", when=at(DAYS[3], 8, 0))
    result = import_file(engine, write(tmp_path / "log.csv", "person,time\nD-1,2026-10-13 08:00\n"))
    assert result.recorded == 1 and len(engine.store.events()) == 2


def test_cli_imports_and_reports_problems_by_line(rollcall_home, tmp_path, capsys):
    with Engine(Settings.load()) as engine:
        engine.store.add_person("Dora Day", external_id="D-1")  # enrolled today: the log is before her start
    good = write(tmp_path / "log.csv", "person,time,station\nD-1,2026-10-13 08:00,door\n")
    assert main(["events", "import", str(good)]) == 1
    out = capsys.readouterr().out
    assert "0 recorded" in out and "line 2: 2026-10-13 is before Dora Day's start date" in out and "NOT recorded" in out
    assert main(["events", "import", str(good), "--move-start"]) == 0
    out = capsys.readouterr().out
    assert "1 sightings of 1 people, 1 recorded" in out and "moved to 2026-10-13" in out
    assert main(["events", "import", str(good), "--format", "csv"]) == 0
    assert "0 recorded, 1 already there" in capsys.readouterr().out
    bad = write(tmp_path / "bad.csv", "person,time\nnobody,2026-10-13 08:00\n")
    assert main(["events", "import", str(bad)]) == 2
    assert "line 2: No one named 'nobody'" in capsys.readouterr().err
