"""Take the README screenshots of the Attendance panel's HR views from a real window at 1280x720:
docs/screenshot-attendance-{today,timesheet,charts,history,audit}.png and
docs/screenshot-hr-{roster,shifts,groups,calendar,import,locks,held}.png, and the dialogs that put right what HR
entered: docs/screenshot-hr-edit-{holiday,group,shift}.png and docs/screenshot-people-{employee-id,joined-left}.png.

    xvfb-run -a .venv/bin/python scripts/screenshots_hr.py

A temporary data folder gets two groups (an office day and a night shift) with the names of the
people in ../shared/data/faces/dev, and this month's check-ins and check-outs up to now, drawn from a
fixed random seed, as at 11:30 today; a holiday, leave and a few audited corrections; two shift types, a
rotating roster for some people and a dated assignment. No face model is loaded.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
from datetime import datetime, time, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FACES = REPO.parent / "shared" / "data" / "faces"
DOCS = REPO / "docs"
sys.path.insert(0, str(REPO))

HOME = Path(tempfile.mkdtemp(prefix="rollcall-hr-shots-"))
os.environ["ROLLCALL_HOME"] = str(HOME)
os.environ.setdefault("ROLLCALL_MODELS_DIR", str(REPO / ".cache" / "models"))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

SEED = 15
PEOPLE_SHOWN = 18


def wait(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def save(widget: QWidget, name: str, prefix: str = "attendance") -> None:
    QApplication.processEvents()
    path = DOCS / f"screenshot-{prefix}-{name}.png"
    widget.grab().save(str(path))
    print("wrote", path.relative_to(REPO))


def populate(engine) -> None:
    rng = random.Random(SEED)
    names = sorted(p.name.replace("_", " ") for p in (FACES / "dev").iterdir() if p.is_dir())[:PEOPLE_SHOWN]
    office = engine.add_group("Office", "09:00", "17:00", 5, "mon-fri", 7.5, actor="admin").value
    night = engine.add_group("Night shift", "22:00", "06:00", 10, "sun-thu", 7.0, actor="admin").value
    zone = engine.site_zone()
    now = engine.clock().astimezone(zone)
    first = now.date().replace(day=1)
    people = []
    for index, name in enumerate(names):
        person = engine.store.add_person(name, external_id=f"E{100 + index}")
        group = night if index % 6 == 5 else office
        engine.assign_group(person.id, group.id, actor="admin")
        people.append((person, group, rng.random()))  # the third value: how often they are late
    holiday = first + timedelta(days=10)
    engine.add_holiday(holiday, "Company day", actor="admin")
    leave = engine.add_leave(people[2][0].id, first + timedelta(days=16), first + timedelta(days=20), "vacation",
                             actor="hr").value
    enrolled_before(engine.settings.database_path, first)
    with engine.store.transaction():  # one commit for the month's events (the kiosk writes them one by one)
        record_month(engine, people, first, now, holiday, leave, rng, zone)
    engine.punch(people[4][0].id, datetime.combine(first + timedelta(days=3), time(8, 57)), "badge reader was down",
                 actor="hr")
    engine.lock_month(f"{first - timedelta(days=1):%Y-%m}", actor="payroll", reason="payroll sent")
    plan_shifts(engine, people, first)


def plan_shifts(engine, people, first) -> None:
    """Early and Late shifts; a rotation for every third person from the 1st; one person on Late for a week."""
    engine.add_shift("Early", "06:00", "14:00", "mon-sun", 5, checkin_before=60, checkout_after=60, actor="hr")
    late = engine.add_shift("Late", "14:00", "22:00", "mon-sun", 5, half_day_below=4, actor="hr").value
    for person, _, _ in people[::3]:
        engine.rotate_shift(person.id, "Early,Early,Late,Late,off,off", first, actor="hr")
    engine.assign_shift(people[1][0].id, late.id, first + timedelta(days=14), first + timedelta(days=20), actor="hr")


def enrolled_before(database: Path, first) -> None:
    """The people were enrolled before this month (the rules leave days before enrollment out)."""
    import sqlite3

    conn = sqlite3.connect(database)
    with conn:
        conn.execute("UPDATE people SET created_at = ?", [f"{first - timedelta(days=30)}T00:00:00+00:00"])
    conn.close()


def record_month(engine, people, day, now, holiday, leave, rng, zone) -> None:
    from core.attendance.schedule import localize
    from core.base.records import AttendanceEvent, EventKind

    while day <= now.date():
        for person, group, lateness in people:
            schedule = group.schedule
            away = day == holiday or (person.id == leave.person_id and leave.covers(day))
            if day.weekday() not in schedule.working_days or away or rng.random() < 0.06:
                continue
            late = rng.random() < lateness * 0.35
            arrive = datetime.combine(day, schedule.start) + timedelta(
                minutes=rng.uniform(6, 40) if late else rng.uniform(-25, 4))
            depart = datetime.combine(day, schedule.start) + schedule.length + timedelta(minutes=rng.uniform(-15, 45))
            for kind, wall in ((EventKind.CHECK_IN, arrive), (EventKind.CHECK_OUT, depart)):
                moment = localize(wall, zone)
                if moment < now:
                    engine.store.record_event(AttendanceEvent(None, person.id, None, kind, moment, "kiosk-1",
                                                              round(rng.uniform(0.62, 0.9), 3)))
        day += timedelta(days=1)


def hold_late_sightings(engine) -> None:
    """Last month locked, then two sightings dated in it arrive late: they are held for HR."""
    from core.attendance.book import AttendanceBook

    now = engine.clock()
    last_month = (now.replace(day=1) - timedelta(days=1)).replace(hour=8, minute=57)
    engine.lock_month(f"{last_month:%Y-%m}", actor="payroll", reason="paid")
    book = AttendanceBook(engine.store, engine.settings.attendance, hold_locked=True)
    for overview, minutes in zip(engine.people()[:2], (0, 9), strict=False):
        book.observe(overview.person.id, 0.9, "door-2", when=last_month + timedelta(minutes=minutes))


def save_dialogs(window, panel, engine) -> None:
    """One screenshot of each dialog that edits what HR entered (opened on the HR pages and in People)."""
    calendar = panel.show_view(panel.calendar_page)
    calendar.table.selectRow(0)
    for dialog, name, prefix in (
        (calendar.edit_selected(), "edit-holiday", "hr"),
        (edit_group(panel), "edit-group", "hr"),
        (edit_shift(panel), "edit-shift", "hr"),
    ):
        wait(300)
        save(dialog, name, prefix)
        dialog.reject()
    people = window.show_panel("people")
    people.select_person(engine.people()[0].person.id)
    for dialog, name in ((people.edit_external_id(), "employee-id"), (people.edit_working_life(), "joined-left")):
        wait(300)
        save(dialog, name, "people")
        dialog.reject()


def edit_group(panel):
    page = panel.show_view(panel.groups_page)
    page.select_group("Office")
    return page.edit_group()


def edit_shift(panel):
    page = panel.show_view(panel.shifts_page)
    page.table.selectRow(0)
    return page.edit_shift()


def main() -> int:
    from core.app.engine import Engine
    from core.base.settings import Settings
    from gui.main_window import MainWindow
    from gui.style import apply_style

    app = QApplication.instance() or QApplication(sys.argv)
    apply_style(app)
    engine = Engine(Settings())
    real_now = datetime.now(engine.site_zone())
    shown_at = real_now.replace(hour=11, minute=30, second=0, microsecond=0)  # mid-morning: a busy board
    engine.clock = lambda: shown_at
    populate(engine)
    window = MainWindow(engine)
    window.resize(1280, 720)
    window.show()
    wait(400)
    panel = window.show_panel("attendance")
    for view, name in ((panel.today_view, "today"), (panel.timesheet_view, "timesheet"),
                       (panel.charts_view, "charts"), (panel.history_view, "history"), (panel.audit_view, "audit")):
        panel.show_view(view)
        if view is panel.history_view:
            view.show_person(engine.find_person("Angelina Jolie").id if any(
                p.person.name == "Angelina Jolie" for p in engine.people()) else engine.people()[0].person.id)
        wait(500)
        save(window, name)
    hold_late_sightings(engine)
    for page, name in ((panel.roster_page, "roster"), (panel.shifts_page, "shifts"), (panel.groups_page, "groups"),
                       (panel.calendar_page, "calendar"), (panel.import_page, "import"), (panel.locks_page, "locks"),
                       (panel.held_page, "held")):
        panel.show_view(page)
        if page is panel.groups_page:
            page.select_group("Office")
        wait(500)
        save(window, name, "hr")
    save_dialogs(window, panel, engine)
    window.close()
    engine.close()
    shutil.rmtree(HOME, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
