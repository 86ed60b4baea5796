"""Engine operations for time and attendance: groups, holidays, leave, corrections, locks, reports.

Engine inherits these (it stays the one door). Every mutation writes its audit entry in the same
transaction, returns an Outcome with its Changes, and notifies subscribers. The rules themselves are
the pure functions of core.attendance; this module only gathers their facts from the store.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path

from core.app.changes import ChangeKind, Changes, Outcome
from core.app.dated_ops import DatedOperations
from core.app.engine_state import T
from core.app.final_ops import FinalOperations
from core.app.hr_edit_ops import HrEditOperations
from core.app.shift_ops import ShiftOperations
from core.attendance.charts import (
    Series,
    arrival_histogram,
    attendance_rate_per_day,
    late_arrivals_per_person,
    save_png,
)
from core.attendance.corrections import (
    LEAVE_NEEDS_REASON,
    UNLOCK_NEEDS_REASON,
    clean_reason,
    correction_days,
    locked_months_touched,
)
from core.attendance.explain import DayExplanation, explain_day
from core.attendance.export import export_timesheet
from core.attendance.schedule import DAY, localize, make_schedule, month_days, month_key, parse_month, site_zone
from core.attendance.status import AttendanceFacts, day_statuses, person_statuses
from core.attendance.timesheet import Timesheet, build_timesheet
from core.base.dated import HeldState
from core.base.errors import InvalidInputError, MonthLockedError
from core.base.records import AttendanceEvent, ConfusionSource, Person
from core.base.timekeeping import AuditAction, AuditEntry, Correction, CorrectionKind, Group, Holiday, Leave, PersonDay

SCHEDULES, CORRECTIONS, EVENTS, PEOPLE = (
    ChangeKind.SCHEDULES,
    ChangeKind.CORRECTIONS,
    ChangeKind.EVENTS,
    ChangeKind.PEOPLE,
)


def current_user() -> str:
    """Who is making a change, for the audit log: the operating-system account."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown user"


def utc_now() -> datetime:
    return datetime.now(UTC)


class AttendanceOperations(ShiftOperations, DatedOperations, HrEditOperations, FinalOperations):
    """Mixed into Engine: uses its store, settings, _done and _publish. Shifts and rosters: ShiftOperations."""

    clock: Callable[[], datetime] = staticmethod(utc_now)

    def reported_up_to(self) -> datetime | None:
        """The latest moment up to which every station has reported its events; None = the clock (standalone).
        In a site: the oldest station's last report, as of this station's last sync (core.site.attendance)."""
        return self.site.reported_up_to()

    @property
    def hr_edits_allowed(self) -> bool:
        """False on a site's kiosk: schedules, leave, corrections and locks are made on the admin station."""
        return self.site.hr_edits_allowed

    def _moments(self) -> tuple[datetime, datetime]:
        """(reported up to, now) for the rules; never reported past the clock."""
        now = self.clock()
        reported = self.reported_up_to()
        return (now if reported is None else min(reported, now)), now

    # ---- time ----

    def site_zone(self) -> tzinfo:
        return site_zone(self.settings.attendance.time_zone)

    def site_today(self) -> date:
        return self.clock().astimezone(self.site_zone()).date()

    def site_moment(self, wall: datetime) -> datetime:
        """A time typed at the site (naive) as an aware moment; aware times pass unchanged."""
        return wall if wall.tzinfo is not None else localize(wall, self.site_zone())

    # ---- facts and reports ----

    def attendance_facts(self, first: date, last: date) -> AttendanceFacts:
        """What the rules need for the days first..last (a window reaches less than two days either side)."""
        zone = self.site_zone()
        opens = localize(datetime.combine(first - 2 * DAY, time()), zone)
        closes = localize(datetime.combine(last + 2 * DAY, time()), zone)
        store = self.store
        groups = {g.id: g for g in store.list_groups()}
        shifts = {s.id: s for s in store.list_shifts()}
        roster = [p for p in store.roster() if p.end_day is None or p.end_day >= first]  # a leaver's months stay
        return AttendanceFacts(
            roster,
            groups,
            store.holidays(first, last),
            store.leave(first, last),
            store.events_between(opens, closes),
            store.corrections_between(opens, closes),
            zone,
            self.settings.attendance.checkout_mode,
            shifts,
            store.shift_assignments(),
            store.shift_rotations(),
            store.rule_history(groups, shifts),
        )

    def day_board(self, day: date | None = None, group: str | None = None) -> list[PersonDay]:
        """Every enrolled person's status on a day (default today at the site), by name."""
        day = day or self.site_today()
        facts = self.attendance_facts(day, day)
        rows = day_statuses(facts, [day], *self._moments())
        if group is not None:
            wanted = self.store.find_group(group).name
            rows = [r for r in rows if r.group == wanted]
        return rows

    def person_history(self, person_id: int, first: date, last: date) -> list[PersonDay]:
        if last < first:
            raise InvalidInputError("The end date is before the start date.")
        self.store.get_person(person_id)
        facts = self.attendance_facts(first, last)
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        return person_statuses(facts, person_id, days, *self._moments())

    def explain_day(self, person_id: int, day: date) -> DayExplanation:
        """Why a person's day has its status: by the same run of the rules as the day board and the timesheet.
        In a locked month the timesheet shows the lock's snapshot; the explanation says when that differs."""
        self.store.get_person(person_id)
        explained = explain_day(self.attendance_facts(day, day), person_id, day, *self._moments())
        opens, closes = explained.opens, explained.closes
        attempts = [
            a
            for d in (day - DAY, day, day + DAY)
            for a in self.store.challenges(d, person_id)
            if opens is not None and closes is not None and opens <= a.time < closes
        ]
        held = [
            h
            for h in self.store.held_sightings(HeldState.HELD, month_key(day))
            if h.person_id == person_id and opens is not None and closes is not None and opens <= h.time < closes
        ]
        if held:
            words = " ".join(f"{h.time.astimezone(self.site_zone()):%H:%M}" for h in held)
            note = f"held (dated in the locked month, not counted until HR counts them): {words}"
            explained = replace(explained, rules=(*explained.rules, note))
        if attempts:
            liveness = tuple(
                f"{a.time.astimezone(self.site_zone()):%H:%M:%S} at {a.source}: challenge {a.outcome.value}"
                f" ({', '.join(a.moves)})"
                for a in attempts
            )
            explained = replace(explained, liveness=liveness)
        if month_key(day) in self.store.locked_months():
            kept = self.locked_timesheet(day.replace(day=1))
            row = next((r for r in kept.rows if r.person_id == person_id), None) if kept else None
            locked = next((d for d in row.days if d.day == day), None) if row else None
            if locked is not None:
                note = f"the month is locked: the timesheet shows the snapshot kept at the lock ({locked.status.value})"
                if locked.status is not explained.day.status:
                    note += f"; the facts now give {explained.day.status.value}"
                explained = replace(explained, rules=(*explained.rules, note))
        return explained

    def timesheet(self, month: date | str) -> Timesheet:
        """A month's timesheet; a locked month's comes from the snapshot its lock kept, checked against the
        month computed now (people whose days differ are in `differs_from_snapshot`)."""
        month = parse_month(month) if isinstance(month, str) else month.replace(day=1)
        if month_key(month) in self.store.locked_months():
            kept = self.locked_timesheet(month)
            if kept is not None:
                return kept
        return self.computed_timesheet(month)

    def computed_timesheet(self, month: date) -> Timesheet:
        """The month computed from the facts now (a locked month too)."""
        days = month_days(month)
        facts = self.attendance_facts(days[0], days[-1])
        return build_timesheet(facts, month, *self._moments(), locked=month_key(month) in self.store.locked_months())

    def export_timesheet(self, month: date | str, path: Path | str, with_days: bool = False) -> Path:
        """Write a month's timesheet as .xlsx or .csv (by the suffix); with_days adds the XLSX's Days sheet."""
        written = export_timesheet(self.timesheet(month), path, with_days)
        self.write_manifest(written)  # its sha256, the chain head and this station's signature (trust_ops)
        return written

    def chart_series(self, month: date | str) -> list[Series]:
        """Attendance rate per day, arrivals against the schedule start, late arrivals per person."""
        sheet = self.timesheet(month)
        days = [d for row in sheet.rows for d in row.days]
        starts: dict[str | None, int] = {
            g.name: g.schedule.start.hour * 60 + g.schedule.start.minute for g in self.store.list_groups()
        }
        starts |= {s.name: s.schedule.start.hour * 60 + s.schedule.start.minute for s in self.store.list_shifts()}
        return [attendance_rate_per_day(days), arrival_histogram(days, starts), late_arrivals_per_person(days)]

    def save_charts(self, month: date | str, folder: Path | str) -> list[Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        names = ("attendance-rate", "arrivals", "late-per-person")
        tag = month if isinstance(month, str) else month_key(month)
        series = self.chart_series(month)
        return [save_png(one, folder / f"{name}-{tag}.png") for name, one in zip(names, series, strict=True)]

    def groups(self) -> list[Group]:
        return self.store.list_groups()

    def find_group(self, name: str) -> Group:
        return self.store.find_group(name)

    def person_group(self, person_id: int) -> Group | None:
        entry = next((r for r in self.store.roster(include_inactive=True) if r.person_id == person_id), None)
        return self.store.get_group(entry.group_id) if entry and entry.group_id is not None else None

    def audit_log(self, limit: int | None = None) -> list[AuditEntry]:
        """The audit log, newest first."""
        return self.store.audit_entries(limit)

    def locked_months(self) -> list[str]:
        return self.store.locked_months()

    def event(self, event_id: int) -> AttendanceEvent:
        return self.store.get_event(event_id)

    def events_on(self, day: date, person_id: int | None = None) -> list[AttendanceEvent]:
        """Raw events of a site-zone calendar day (all people, or one), oldest first."""
        zone = self.site_zone()
        events = self.store.events_between(
            localize(datetime.combine(day, time()), zone), localize(datetime.combine(day + DAY, time()), zone)
        )
        return [e for e in events if person_id is None or e.person_id == person_id]

    def arrival(self, event: AttendanceEvent) -> PersonDay | None:
        """The person-day this event opened (its first punch), e.g. to show a late arrival as it happens."""
        if event.person_id is None:
            return None
        day = event.time.astimezone(self.site_zone()).date()
        for person_day in self.person_history(event.person_id, day - DAY, day):
            if person_day.first_seen is not None and int(person_day.first_seen.timestamp()) == int(
                event.time.timestamp()
            ):
                return person_day
        return None

    # ---- mutations (each audited) ----

    def _refuse_locked(self, days: list[date], what: str) -> None:
        months = locked_months_touched(days, self.store.locked_months())
        if months:
            raise MonthLockedError(
                f"{', '.join(months)} is locked (its timesheet is final), so {what} is refused. "
                "An admin can unlock the month first, giving a reason.",
                tuple(months),
            )

    def add_group(
        self,
        name: str,
        start: str,
        end: str,
        grace_minutes: int = 0,
        days: str = "mon-fri",
        min_hours: float = 0.0,
        actor: str | None = None,
    ) -> Outcome[Group]:
        self.site.require_hr_edit()
        schedule = make_schedule(start, end, grace_minutes, days, min_hours)
        with self.store.transaction():
            group = self.store.add_group(name, schedule)
            self.store.append_audit(
                actor or current_user(),
                AuditAction.GROUP_ADD,
                group.name,
                "",
                {
                    "start": start,
                    "end": end,
                    "grace_minutes": grace_minutes,
                    "days": schedule.days_text(),
                    "min_hours": min_hours,
                },
            )
        return self._hr_done(group, Changes.of(SCHEDULES))

    def set_group_challenge(self, group_id: int, required: bool, actor: str | None = None) -> Outcome[Group]:
        """Require (or stop requiring) the liveness challenge of a group's people; audited."""
        self.site.require_hr_edit()
        with self.store.transaction():
            group = self.store.set_group_challenge(group_id, required)
            self.store.append_audit(
                actor or current_user(), AuditAction.GROUP_CHALLENGE, group.name, "", {"require_challenge": required}
            )
        return self._hr_done(group, Changes.of(SCHEDULES))

    def holidays_between(self, start: date, end: date) -> list[Holiday]:
        """Holidays from start to end (inclusive), by day."""
        return self.store.holidays(start, end)

    def leave_between(self, start: date, end: date) -> list[Leave]:
        """Leave that touches start..end (inclusive)."""
        return self.store.leave(start, end)

    def add_holiday(
        self, day: date, name: str = "Holiday", group_id: int | None = None, actor: str | None = None
    ) -> Outcome[Holiday]:
        self.site.require_hr_edit()
        with self.store.transaction():
            self._refuse_locked([day], "adding a holiday")
            holiday = self.store.add_holiday(day, name, group_id)
            self.store.append_audit(
                actor or current_user(),
                AuditAction.HOLIDAY_ADD,
                day.isoformat(),
                "",
                {"name": holiday.name, "group_id": group_id},
            )
        return self._hr_done(holiday, Changes.of(SCHEDULES))

    def add_leave(
        self, person_id: int, first: date, last: date, reason: str, actor: str | None = None
    ) -> Outcome[Leave]:
        self.site.require_hr_edit()
        reason = clean_reason(reason, LEAVE_NEEDS_REASON)
        with self.store.transaction():
            person = self.store.get_person(person_id)
            self._refuse_locked([first, last], "adding leave")
            leave = self.store.add_leave(person_id, first, last, reason)
            self.store.append_audit(
                actor or current_user(),
                AuditAction.LEAVE_ADD,
                f"person {person.id}",
                reason,
                {"from": first.isoformat(), "to": last.isoformat()},
                person_id=person.id,
            )
        return self._hr_done(leave, Changes.of(SCHEDULES, person_ids=[person_id]))

    def punch(self, person_id: int, moment: datetime, reason: str, actor: str | None = None) -> Outcome[Correction]:
        """A manual punch: the person counts as seen at `moment` (naive = site time)."""
        self.site.require_hr_edit()
        reason = clean_reason(reason)
        moment = self.site_moment(moment)
        if moment > self.clock() + timedelta(minutes=1):
            raise InvalidInputError(f"{moment:%Y-%m-%d %H:%M} is in the future; a punch records what happened.")
        actor = actor or current_user()
        with self.store.transaction():
            person = self.store.get_person(person_id)
            self._refuse_locked(correction_days(moment, None, self.site_zone()), "a manual punch")
            correction = self.store.add_correction(
                CorrectionKind.PUNCH, reason, actor, person_id=person_id, moment=moment
            )
            self.store.append_audit(
                actor,
                AuditAction.PUNCH,
                f"person {person.id}",
                reason,
                {"correction_id": correction.id, "time": moment.astimezone(UTC).isoformat()},
                person_id=person.id,
            )
        return self._hr_done(correction, Changes.of(CORRECTIONS, person_ids=[person_id]))

    def void_event(self, event_id: int, reason: str, actor: str | None = None) -> Outcome[Correction]:
        """The event stops counting (the raw event stays as it was)."""
        return self._correct_event(event_id, None, reason, actor)

    def reassign_event(
        self, event_id: int, person_id: int, reason: str, actor: str | None = None
    ) -> Outcome[Correction]:
        """The event counts for another person (also an unknown face's event)."""
        return self._correct_event(event_id, person_id, reason, actor)

    def _correct_event(
        self, event_id: int, person_id: int | None, reason: str, actor: str | None
    ) -> Outcome[Correction]:
        self.site.require_hr_edit()
        reason = clean_reason(reason)
        actor = actor or current_user()
        kind = CorrectionKind.VOID if person_id is None else CorrectionKind.REASSIGN
        with self.store.transaction():
            event = self.store.get_event(event_id)
            target = self.store.get_person(person_id) if person_id is not None else None
            if target is not None and target.id == event.person_id:
                raise InvalidInputError(f"Event {event_id} already belongs to {target.name}.")
            self._refuse_locked(correction_days(None, event, self.site_zone()), f"correcting event {event_id}")
            correction = self.store.add_correction(kind, reason, actor, event_id=event_id, person_id=person_id)
            details = {
                "correction_id": correction.id,
                "event_time": event.time.isoformat(),
                "was_person_id": event.person_id,
            }
            if target is not None:
                details["now_person_id"] = target.id
            if event.person_id is not None:  # shown as someone: keep the face as a confusion
                confusion = self.store.add_confusion(
                    event.person_id,
                    person_id,
                    ConfusionSource.CORRECTION,
                    event.similarity,
                    self.store.event_snapshot(event_id),
                    event_id,
                )
                details["confusion_id"] = confusion.id
            audit = AuditAction.VOID if kind is CorrectionKind.VOID else AuditAction.REASSIGN
            self.store.append_audit(
                actor,
                audit,
                f"event {event_id}",
                reason,
                details,
                person_id=target.id if target is not None else event.person_id,
            )
        touched = [i for i in (event.person_id, person_id) if i is not None]
        kinds = (CORRECTIONS, ChangeKind.CONFUSIONS) if event.person_id is not None else (CORRECTIONS,)
        return self._hr_done(correction, Changes.of(*kinds, person_ids=touched))

    def lock_month(self, month: str, actor: str | None = None, reason: str = "") -> Outcome[bool]:
        """The month's timesheet becomes final; the reason (the GUI requires one) goes into the audit log."""
        self.site.require_hr_edit()
        month = month_key(parse_month(month))
        reason = clean_reason(reason) if reason.strip() else ""
        actor = actor or current_user()
        with self.store.transaction():
            locked = self.store.lock_month(month, actor)
            if locked:
                kept = self._take_snapshot(month)
                self.store.append_audit(actor, AuditAction.MONTH_LOCK, month, reason, {"snapshot_people": kept})
        return self._hr_done(locked, Changes.of(SCHEDULES) if locked else Changes())

    def unlock_month(self, month: str, reason: str, actor: str | None = None) -> Outcome[bool]:
        self.site.require_hr_edit()
        month = month_key(parse_month(month))
        reason = clean_reason(reason, UNLOCK_NEEDS_REASON)
        actor = actor or current_user()
        with self.store.transaction():
            unlocked = self.store.unlock_month(month)
            self.store.drop_snapshot(month)
            if unlocked:
                self.store.append_audit(actor, AuditAction.MONTH_UNLOCK, month, reason)
        return self._hr_done(unlocked, Changes.of(SCHEDULES) if unlocked else Changes())

    def _actor(self, actor: str | None) -> str:
        return actor or current_user()

    def _hr_done(self, value: T, changes: Changes) -> Outcome[T]:
        """An admin station sends the changed HR book to every kiosk, then tells subscribers."""
        if changes:
            self.site.publish_hr_book()
        return self._done(value, changes)

    def _audit_person(self, action: AuditAction, person: Person, details: dict | None = None) -> None:
        """Deletes, renames and merges are audited too (called by Engine inside their transaction).
        By id only: no name may outlive a person's erasure."""
        self.store.append_audit(current_user(), action, f"person {person.id}", "", details or {}, person_id=person.id)
