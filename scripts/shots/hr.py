"""The HR scene: a month of check-ins for the dev people's names, groups, shifts, a roster, a holiday, leave,
corrections and a locked last month, as at 11:30 today. No face model is loaded."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from pathlib import Path

from core.base.timekeeping import DayStatus
from scripts.shots.common import FACES, Shot, engine_in, main_window, wait

SEED = 15
PEOPLE_SHOWN = 18
VIEWS = ["attendance-today", "attendance-timesheet", "attendance-charts", "attendance-history", "attendance-audit"]
HR_PAGES = ["hr-roster", "hr-shifts", "hr-groups", "hr-calendar", "hr-import", "hr-locks", "hr-held"]
DIALOGS = [
    "attendance-why",
    "hr-edit-holiday",
    "hr-edit-group",
    "hr-edit-shift",
    "people-employee-id",
    "people-joined-left",
]


def take(pages: list[str], shot: Shot) -> None:
    engine = engine_in("hr")
    shown_at = datetime.now(engine.site_zone()).replace(hour=11, minute=30, second=0, microsecond=0)
    engine.clock = lambda: shown_at  # mid-morning: a busy board
    populate(engine)
    with main_window(engine, shot) as window:
        panel = window.show_panel("attendance")
        views = {
            "today": panel.today_view,
            "timesheet": panel.timesheet_view,
            "charts": panel.charts_view,
            "history": panel.history_view,
            "audit": panel.audit_view,
            "roster": panel.roster_page,
            "shifts": panel.shifts_page,
            "groups": panel.groups_page,
            "calendar": panel.calendar_page,
            "import": panel.import_page,
            "locks": panel.locks_page,
            "held": panel.held_page,
        }
        for page in pages:
            if page in DIALOGS:
                continue
            if page == "hr-held":
                hold_late_sightings(engine)
            view = views[page.split("-", 1)[1]]
            panel.show_view(view)
            if view is panel.history_view:
                view.show_person(engine.people()[0].person.id)
            if view is panel.groups_page:
                view.select_group("Office")
            wait(500)
            shot.save(window, page)
        if any(page in DIALOGS for page in pages):
            save_dialogs(window, panel, engine, shot, [page for page in pages if page in DIALOGS])


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
    leave = engine.add_leave(
        people[2][0].id, first + timedelta(days=16), first + timedelta(days=20), "vacation", actor="hr"
    ).value
    enrolled_before(engine.settings.database_path, first)
    with engine.store.transaction():  # one commit for the month's events (the kiosk writes them one by one)
        record_month(engine, people, first, now, holiday, leave, rng, zone)
    engine.punch(
        people[4][0].id, datetime.combine(first + timedelta(days=3), time(8, 57)), "badge reader was down", actor="hr"
    )
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
                minutes=rng.uniform(6, 40) if late else rng.uniform(-25, 4)
            )
            depart = datetime.combine(day, schedule.start) + schedule.length + timedelta(minutes=rng.uniform(-15, 45))
            for kind, wall in ((EventKind.CHECK_IN, arrive), (EventKind.CHECK_OUT, depart)):
                moment = localize(wall, zone)
                if moment < now:
                    photo = face_photo(person.name) if day == now.date() else None  # today's evidence, for Why?
                    engine.store.record_event(
                        AttendanceEvent(
                            None,
                            person.id,
                            None,
                            kind,
                            moment,
                            "kiosk-1",
                            round(rng.uniform(0.62, 0.9), 3),
                            None,
                            photo,
                        )
                    )
        day += timedelta(days=1)


def face_photo(name: str) -> bytes | None:
    """The person's first dev photo, as the kiosk would have kept it with the sighting."""
    photos = sorted((FACES / "dev" / name.replace(" ", "_")).glob("*.jpg"))
    return photos[0].read_bytes() if photos else None


def hold_late_sightings(engine) -> None:
    """Last month locked, then two sightings dated in it arrive late: they are held for HR."""
    from core.attendance.book import AttendanceBook

    now = engine.clock()
    last_month = (now.replace(day=1) - timedelta(days=1)).replace(hour=8, minute=57)
    engine.lock_month(f"{last_month:%Y-%m}", actor="payroll", reason="paid")
    book = AttendanceBook(engine.store, engine.settings.attendance, hold_locked=True)
    for overview, minutes in zip(engine.people()[:2], (0, 9), strict=False):
        book.observe(overview.person.id, 0.9, "door-2", when=last_month + timedelta(minutes=minutes))


def save_dialogs(window, panel, engine, shot: Shot, pages: list[str]) -> None:
    """One screenshot of each dialog that edits what HR entered (opened on the HR pages and in People), and Why?
    for a late arrival on the day board."""
    if "attendance-why" in pages:
        today = panel.show_view(panel.today_view)
        late = next(row for row in today.rows if row.status is DayStatus.LATE)
        row = next(r for r in range(today.table.rowCount()) if today.table.item(r, 0).text() == late.name)
        today.table.selectRow(row)
        why = today.open_why()
        wait(300)
        shot.save(why, "attendance-why")
        why.reject()
    calendar = panel.show_view(panel.calendar_page)
    calendar.table.selectRow(0)
    for dialog, name, prefix in (
        (calendar.edit_selected(), "edit-holiday", "hr"),
        (edit_group(panel), "edit-group", "hr"),
        (edit_shift(panel), "edit-shift", "hr"),
    ):
        if f"{prefix}-{name}" in pages:
            wait(300)
            shot.save(dialog, f"{prefix}-{name}")
        dialog.reject()
    people = window.show_panel("people")
    people.select_person(engine.people()[0].person.id)
    for dialog, name in ((people.edit_external_id(), "employee-id"), (people.edit_working_life(), "joined-left")):
        if f"people-{name}" in pages:
            wait(300)
            shot.save(dialog, f"people-{name}")
        dialog.reject()


def edit_group(panel):
    page = panel.show_view(panel.groups_page)
    page.select_group("Office")
    return page.edit_group()


def edit_shift(panel):
    page = panel.show_view(panel.shifts_page)
    page.table.selectRow(0)
    return page.edit_shift()
