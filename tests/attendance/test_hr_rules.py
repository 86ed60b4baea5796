"""Golden tests for the attendance rules (core.attendance.status): pure functions, fixed facts."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.attendance.corrections import effective_punches
from core.attendance.explain import explain_day
from core.attendance.schedule import make_schedule, parse_days, shift_window
from core.attendance.status import AttendanceFacts, day_statuses
from core.base.errors import InvalidInputError
from core.base.records import AttendanceEvent, EventKind
from core.base.timekeeping import Correction, CorrectionKind, DayStatus, Group, Holiday, Leave, RosterEntry, Schedule

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 11, 23)
DAY_SHIFT = Group(1, "Office", make_schedule("09:00", "17:00", 5, "mon-fri", 7.5))
NIGHT_SHIFT = Group(2, "Night", make_schedule("22:00", "06:00", 0, "mon-fri", 7.0))
ADA = RosterEntry(1, "Ada", "E1", 1)
BOB = RosterEntry(2, "Bob", "E2", 1)
NINA = RosterEntry(3, "Nina", None, 2)


def at(day: date, hh: int, mm: int, ss: int = 0, zone=LONDON) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=zone)


def event(event_id: int, person_id: int | None, moment: datetime, kind=EventKind.CHECK_IN) -> AttendanceEvent:
    return AttendanceEvent(event_id, person_id, None, kind if person_id else EventKind.UNKNOWN, moment, "cam", 0.9)


def facts(events=(), corrections=(), holidays=(), leave=(), roster=(ADA, BOB, NINA), checkout_mode=False):
    return AttendanceFacts(
        list(roster),
        {1: DAY_SHIFT, 2: NIGHT_SHIFT},
        list(holidays),
        list(leave),
        list(events),
        list(corrections),
        LONDON,
        checkout_mode,
    )


def status_of(f: AttendanceFacts, person: RosterEntry, day: date, reported: datetime, now: datetime | None = None):
    """The day board's day; `explain` must give the same day by the same run of the rules."""
    found = next(d for d in day_statuses(f, [day], reported, now) if d.person_id == person.person_id)
    assert explain_day(f, person.person_id, day, reported, now).day == found
    return found


EVENING = at(MONDAY, 23, 59)


def test_exactly_at_the_grace_limit_is_on_time_and_a_minute_past_is_late():
    on_time = status_of(facts([event(1, 1, at(MONDAY, 9, 5))]), ADA, MONDAY, at(MONDAY, 12, 0))
    assert on_time.status is DayStatus.PRESENT and on_time.late_minutes == 0
    late = status_of(facts([event(1, 1, at(MONDAY, 9, 6))]), ADA, MONDAY, at(MONDAY, 12, 0))
    assert late.status is DayStatus.LATE and late.late_minutes == 6
    a_second_past = status_of(facts([event(1, 1, at(MONDAY, 9, 5, 1))]), ADA, MONDAY, at(MONDAY, 12, 0))
    assert a_second_past.status is DayStatus.LATE and a_second_past.late_minutes == 6


def test_early_leave_is_decided_once_the_shift_is_over():
    events = [event(1, 1, at(MONDAY, 8, 55)), event(2, 1, at(MONDAY, 16, 30), EventKind.CHECK_OUT)]
    during = status_of(facts(events), ADA, MONDAY, at(MONDAY, 16, 40))
    assert during.status is DayStatus.PRESENT  # may still come back before the end
    after = status_of(facts(events), ADA, MONDAY, EVENING)
    assert after.status is DayStatus.EARLY_LEAVE and after.early_leave_minutes == 30
    within_grace = [event(1, 1, at(MONDAY, 8, 55)), event(2, 1, at(MONDAY, 16, 56), EventKind.CHECK_OUT)]
    assert status_of(facts(within_grace), ADA, MONDAY, EVENING).status is DayStatus.PRESENT


def test_a_day_below_the_minimum_hours():
    # On time and left within the grace period, yet 9:04 to 16:56 is 7.87 h, under the 8 h minimum.
    schedule = Schedule(time(9), time(17), 5, parse_days("mon-fri"), 8.0)
    group = Group(1, "Office", schedule)
    f = AttendanceFacts(
        [ADA],
        {1: group},
        [],
        [],
        [event(1, 1, at(MONDAY, 9, 4)), event(2, 1, at(MONDAY, 16, 56), EventKind.CHECK_OUT)],
        [],
        LONDON,
    )
    short = status_of(f, ADA, MONDAY, EVENING)
    assert short.status is DayStatus.SHORT_DAY and short.below_minimum and short.hours == pytest.approx(7.8667, 1e-3)
    assert short.late_minutes == short.early_leave_minutes == 0


def test_holiday_and_leave_win_over_absence():
    holidays = [Holiday(1, MONDAY, "Founders' day")]
    f = facts(holidays=holidays)
    assert {d.status for d in day_statuses(f, [MONDAY], EVENING)} == {DayStatus.HOLIDAY}
    group_only = facts(holidays=[Holiday(1, MONDAY, "Office outing", group_id=1)])
    by_person = {d.person_id: d.status for d in day_statuses(group_only, [MONDAY], EVENING)}
    assert by_person[ADA.person_id] is DayStatus.HOLIDAY and by_person[NINA.person_id] is not DayStatus.HOLIDAY
    leave = [Leave(1, ADA.person_id, MONDAY, MONDAY + timedelta(days=1), "flu")]
    f = facts(leave=leave)
    assert status_of(f, ADA, MONDAY, EVENING).status is DayStatus.ON_LEAVE
    assert status_of(f, ADA, MONDAY + timedelta(days=1), EVENING + timedelta(days=1)).status is DayStatus.ON_LEAVE
    assert status_of(f, ADA, MONDAY + timedelta(days=2), EVENING + timedelta(days=2)).status is DayStatus.ABSENT
    assert status_of(f, BOB, MONDAY, EVENING).status is DayStatus.ABSENT


def test_weekend_is_a_day_off_not_an_absence():
    saturday = MONDAY + timedelta(days=5)
    assert status_of(facts(), ADA, saturday, at(saturday, 20, 0)).status is DayStatus.DAY_OFF


def test_night_shift_across_midnight_belongs_to_the_day_it_started():
    tuesday = MONDAY + timedelta(days=1)
    events = [event(1, 3, at(MONDAY, 21, 58)), event(2, 3, at(tuesday, 6, 1), EventKind.CHECK_OUT)]
    monday = status_of(facts(events, checkout_mode=True), NINA, MONDAY, at(tuesday, 9, 0))
    assert monday.status is DayStatus.PRESENT and monday.hours == pytest.approx(8.05, 1e-3)
    assert monday.first_seen.date() == MONDAY and monday.last_seen.date() == tuesday
    assert status_of(facts(events), NINA, tuesday, at(tuesday, 9, 0)).status is DayStatus.PENDING  # not due
    late_night = [event(1, 3, at(tuesday, 0, 30))]
    late = status_of(facts(late_night), NINA, MONDAY, at(tuesday, 1, 0))
    assert late.status is DayStatus.LATE and late.late_minutes == 150


def test_across_the_autumn_clock_change():
    # Sunday 25 Oct 2026: UK clocks go back at 02:00 BST. A night shift 22:00-06:00 lasts 9 real hours.
    saturday = date(2026, 10, 24)
    group = Group(2, "Night", make_schedule("22:00", "06:00", 0, "mon-sun", 8.5))
    window = shift_window(saturday, group.schedule, LONDON)
    assert window.end - window.start == 9 * 3600
    sunday = date(2026, 10, 25)
    events = [event(1, 3, at(saturday, 21, 55)), event(2, 3, at(sunday, 6, 0), EventKind.CHECK_OUT)]
    f = AttendanceFacts([NINA], {2: group}, [], [], events, [], LONDON)
    day = status_of(f, NINA, saturday, at(sunday, 12, 0))
    assert day.status is DayStatus.PRESENT and day.hours == pytest.approx(9 + 5 / 60)
    # The same events stored as UTC give the same answer: storage zone never matters.
    utc_events = [AttendanceEvent(e.id, e.person_id, None, e.kind, e.time.astimezone(UTC), "cam", 0.9) for e in events]
    f_utc = AttendanceFacts([NINA], {2: group}, [], [], utc_events, [], LONDON)
    assert status_of(f_utc, NINA, saturday, at(sunday, 12, 0)) == day
    # Spring forward (29 Mar 2026): a 09:00 day shift starts at 08:00 UTC, not 09:00.
    spring = date(2026, 3, 30)
    start = shift_window(spring, DAY_SHIFT.schedule, LONDON).start
    assert datetime.fromtimestamp(start, UTC).hour == 8


def test_check_out_and_check_in_in_the_same_second_count_once_whatever_the_order():
    events = [
        event(1, 1, at(MONDAY, 9, 0)),
        event(2, 1, at(MONDAY, 12, 0), EventKind.CHECK_OUT),
        event(3, 1, at(MONDAY, 12, 0)),
        event(4, 1, at(MONDAY, 17, 0), EventKind.CHECK_OUT),
    ]
    expected = status_of(facts(events), ADA, MONDAY, EVENING)
    assert expected.status is DayStatus.PRESENT and expected.hours == 8.0 and expected.punches == 3
    for seed in range(5):
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        assert status_of(facts(shuffled), ADA, MONDAY, EVENING) == expected
    alone = [event(1, 1, at(MONDAY, 9, 0), EventKind.CHECK_OUT), event(2, 1, at(MONDAY, 9, 0))]
    day = status_of(facts(alone, checkout_mode=True), ADA, MONDAY, EVENING)
    assert day.punches == 1 and day.status is DayStatus.INCOMPLETE and day.hours == 0


def test_repeated_sightings_make_no_extra_punches():
    from core.attendance.book import AttendanceBook
    from core.base.settings import AttendanceSettings
    from core.gallery.store import GalleryStore

    store = GalleryStore.memory()
    person = store.add_person("Ada")
    book = AttendanceBook(store, AttendanceSettings(cooldown_minutes=10, checkout_mode=True))
    sightings = [at(MONDAY, 9, 0) + timedelta(seconds=s) for s in range(0, 8 * 3600 + 600, 7)]  # 09:00 to 17:10
    for moment in sightings:
        book.observe(person.id, 0.9, "cam", when=moment)
    events = store.events()  # every sighting after the cooldown is kept: one each 10 minutes (and 2 s), 09:00 to 17:10
    assert [e.kind for e in events] == [EventKind.CHECK_IN] + [EventKind.CHECK_OUT] * 48
    assert all(b.time - a.time >= timedelta(minutes=10) for a, b in zip(events, events[1:]))
    roster = [RosterEntry(person.id, "Ada", None, 1)]
    f = AttendanceFacts(roster, {1: DAY_SHIFT}, [], [], events, [], LONDON, checkout_mode=True)
    day = status_of(f, roster[0], MONDAY, EVENING)
    assert day.punches == 49 and day.status is DayStatus.PRESENT and day.hours >= 8
    store.close()


def test_a_late_kiosk_upload_turns_pending_into_present():
    now = at(MONDAY, 10, 0)
    kiosk_behind = at(MONDAY, 8, 30)  # one kiosk last reported at 08:30
    assert status_of(facts(), ADA, MONDAY, kiosk_behind, now).status is DayStatus.PENDING
    uploaded = facts([event(1, 1, at(MONDAY, 8, 57))])
    assert status_of(uploaded, ADA, MONDAY, now, now).status is DayStatus.PRESENT
    assert status_of(facts(), ADA, MONDAY, now, now).status is DayStatus.ABSENT  # all reported: absent (live)
    assert not status_of(facts(), ADA, MONDAY, now, now).final
    assert status_of(facts(), ADA, MONDAY, EVENING + timedelta(hours=2)).final


def test_corrections_void_reassign_and_punch():
    made = at(MONDAY, 18, 0)
    events = [event(1, 1, at(MONDAY, 8, 50)), event(2, None, at(MONDAY, 8, 59)), event(3, 2, at(MONDAY, 9, 30))]
    corrections = [
        Correction(1, CorrectionKind.VOID, "matched Bob's twin", "hr", made, event_id=3),
        Correction(2, CorrectionKind.REASSIGN, "badge photo", "hr", made, event_id=2, person_id=2),
        Correction(3, CorrectionKind.PUNCH, "forgot", "hr", made, person_id=3, time=at(MONDAY, 22, 0)),
    ]
    punches = effective_punches(events, corrections)
    assert [(p.person_id, p.event_id) for p in punches] == [(1, 1), (2, 2), (3, None)]
    by_person = {d.person_id: d for d in day_statuses(facts(events, corrections), [MONDAY], at(MONDAY, 23, 0))}
    assert by_person[2].status is DayStatus.PRESENT and by_person[2].first_seen == at(MONDAY, 8, 59)
    assert by_person[3].status is DayStatus.PRESENT


def test_bad_schedules_are_refused_with_a_clear_message():
    assert parse_days("sat,sun") == {5, 6} and parse_days("mon-sun") == set(range(7))
    assert parse_days("fri-mon") == {4, 5, 6, 0}
    for bad in ("", "funday", "mon-tue-wed"):
        with pytest.raises(InvalidInputError):
            parse_days(bad)
    with pytest.raises(InvalidInputError, match="HH:MM"):
        make_schedule("9am", "17:00", 0, "mon-fri", 0)
    with pytest.raises(InvalidInputError, match="same time"):
        make_schedule("09:00", "09:00", 0, "mon-fri", 0)


def test_days_before_enrollment_are_not_absences():
    hired = RosterEntry(4, "New Hire", None, 1, at(MONDAY, 14, 0))
    f = facts(roster=[hired])
    days = [MONDAY - timedelta(days=1), MONDAY, MONDAY + timedelta(days=1)]
    statuses = [d.status for d in day_statuses(f, days, at(MONDAY + timedelta(days=1), 23, 0))]
    assert statuses == [DayStatus.NOT_ENROLLED, DayStatus.ABSENT, DayStatus.ABSENT]  # the day of enrollment counts
