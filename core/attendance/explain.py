"""Why a person's day has its status: the shift and where it came from, its windows, every sighting of the
shift, the holidays, leave and corrections that applied, and the rules' reasons in plain words.

The status and its reasons come from one run of the rules (core.attendance.status.reasoned_day), so an
explanation cannot disagree with the day board or the timesheet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from core.base.records import EventKind
from core.base.timekeeping import Correction, CorrectionKind, PersonDay, ShiftSource

from .corrections import effective_punches
from .status import AttendanceFacts, reasoned_day

SOURCE_WORDS: dict[ShiftSource, str] = {
    ShiftSource.ASSIGNMENT: "a dated shift assignment",
    ShiftSource.ROTATION: "the person's roster rotation",
    ShiftSource.GROUP: "the group's default",
    ShiftSource.NONE: "no shift applies",
}


@dataclass(frozen=True)
class Sighting:
    """One sighting or manual punch in the day's window, and whether it counted."""

    time: datetime
    event_id: int | None  # None: a manual punch
    station: str
    similarity: float
    kind: str
    counted: bool
    note: str  # why it counts or not: 'counted', 'voided by correction 4', 'manual punch (correction 7)', ...
    has_photo: bool = False


@dataclass(frozen=True)
class Applied:
    """A holiday, leave or correction that applied to the day, with who, when and why where known."""

    what: str
    who: str = ""
    when: datetime | None = None
    why: str = ""


@dataclass(frozen=True)
class DayExplanation:
    day: PersonDay
    shift: str | None
    source: ShiftSource
    windows: tuple[str, ...]  # the window, shift times and graces in words
    sightings: tuple[Sighting, ...]
    applied: tuple[Applied, ...]
    rules: tuple[str, ...]  # the rules' reasons, in the order they decided
    opens: datetime | None = None  # the window whose sightings count for the day
    closes: datetime | None = None
    liveness: tuple[str, ...] = ()  # liveness challenges in the window (the Engine adds them from the store)

    @property
    def decision(self) -> str:
        return self.rules[-1] if self.rules else self.day.status.value

    def to_json(self) -> dict:
        return {
            **self.day.to_json(),
            "shift_source": self.source.value,
            "windows": list(self.windows),
            "sightings": [
                {
                    "time": s.time.isoformat(),
                    "event_id": s.event_id,
                    "station": s.station,
                    "similarity": round(s.similarity, 4),
                    "kind": s.kind,
                    "counted": s.counted,
                    "note": s.note,
                    "photo": s.has_photo,
                }
                for s in self.sightings
            ],
            "applied": [
                {"what": a.what, "who": a.who, "when": a.when.isoformat() if a.when else None, "why": a.why}
                for a in self.applied
            ],
            "rules": list(self.rules),
            "liveness": list(self.liveness),
        }

    def lines(self) -> list[str]:
        """The explanation as text, for the CLI and the Why view."""
        d = self.day
        out = [f"{d.name} on {d.day.isoformat()}: {d.status.value}"]
        out.append(f"shift: {d.shift or 'none'} ({SOURCE_WORDS[self.source]})")
        out += [f"  {line}" for line in self.windows]
        out.append("sightings:" if self.sightings else "sightings: none in the window")
        for s in self.sightings:
            where = f" at {s.station}" if s.station else ""
            out.append(f"  {s.time:%Y-%m-%d %H:%M:%S}{where} ({s.kind}, match {s.similarity:.2f}): {s.note}")
        out += [f"liveness: {line}" for line in self.liveness]
        for a in self.applied:
            by = f" by {a.who}" if a.who else ""
            at = f" on {a.when:%Y-%m-%d %H:%M}" if a.when else ""
            out.append(f"applied: {a.what}{by}{at}" + (f": {a.why}" if a.why else ""))
        out.append("rules:")
        out += [f"  {line}" for line in self.rules]
        return out


def _clock(ts: float | None, zone: tzinfo) -> str:
    return "—" if ts is None else f"{datetime.fromtimestamp(ts, zone):%Y-%m-%d %H:%M}"


def _correction_words(correction: Correction) -> str:
    if correction.kind is CorrectionKind.PUNCH:
        return f"correction {correction.id}: manual punch"
    if correction.kind is CorrectionKind.VOID:
        return f"correction {correction.id}: event {correction.event_id} voided"
    target = "nobody (undone)" if correction.person_id is None else f"person {correction.person_id}"
    return f"correction {correction.id}: event {correction.event_id} reassigned to {target}"


def explain_day(
    facts: AttendanceFacts, person_id: int, day: date, reported_up_to: datetime, now: datetime | None = None
) -> DayExplanation:
    """Why `person_id` has their status on `day`, by the same run of the rules that gives the status."""
    person_day, slot, rules = reasoned_day(facts, person_id, day, reported_up_to, now)
    zone, schedule, window = facts.zone, slot.planned.schedule, slot.window
    windows = [f"sightings from {_clock(slot.opens, zone)} up to {_clock(slot.closes, zone)} count for this day"]
    if schedule is not None and window.start is not None:
        windows.append(
            f"shift {_clock(window.start, zone)} to {_clock(window.end, zone)}, late grace {schedule.grace_minutes} "
            f"min, early-leave grace {schedule.early_grace} min"
            + (f", minimum {schedule.min_hours:g} h" if schedule.min_hours else "")
            + (f", half day below {schedule.half_day_below:g} h" if schedule.half_day_below else "")
            + (f", absent below {schedule.absent_below:g} h" if schedule.absent_below else "")
        )
    counted = {p.event_id: p for p in effective_punches(facts.events, facts.corrections) if p.event_id is not None}
    by_event: dict[int, list[Correction]] = {}
    for correction in sorted(facts.corrections, key=lambda c: c.id):
        if correction.event_id is not None:
            by_event.setdefault(correction.event_id, []).append(correction)
    in_window = [e for e in facts.events if slot.opens <= e.time.timestamp() < slot.closes]
    sightings, applied, seconds = [], [], set()
    for event in sorted(in_window, key=lambda e: (e.time, e.id or 0)):
        punch = counted.get(event.id) if event.id is not None else None
        mine = (punch is not None and punch.person_id == person_id) or event.person_id == person_id
        if not mine or event.kind is EventKind.UNKNOWN and punch is None:
            continue
        history = by_event.get(event.id or -1, [])
        if punch is None or punch.person_id != person_id:
            note = "; ".join(_correction_words(c) for c in history) or "not counted"
            ok = False
        elif int(event.time.timestamp()) in seconds:
            note, ok = "same second as another sighting: counted once", True
        else:
            note = "counted" + (f" ({_correction_words(history[-1])})" if history else "")
            ok = True
        if ok:
            seconds.add(int(event.time.timestamp()))
        sightings.append(
            Sighting(
                event.time.astimezone(zone), event.id, event.source, event.similarity, event.kind.value, ok, note,
                bool(event.snapshot_jpeg),
            )
        )  # fmt: skip
        applied += [Applied(_correction_words(c), c.made_by, c.made_at, c.reason) for c in history]
    for correction in facts.corrections:
        if correction.kind is CorrectionKind.PUNCH and correction.person_id == person_id and correction.time:
            if slot.opens <= correction.time.timestamp() < slot.closes:
                sightings.append(
                    Sighting(correction.time.astimezone(zone), None, "manual", 1.0, "punch", True,
                             f"manual punch (correction {correction.id})")
                )  # fmt: skip
                applied.append(Applied(_correction_words(correction), correction.made_by, correction.made_at,
                                       correction.reason))  # fmt: skip
    sightings.sort(key=lambda s: s.time)
    group_name = person_day.group
    for holiday in facts.holidays:
        if holiday.day == day:
            owner = facts.groups.get(holiday.group_id) if holiday.group_id is not None else None
            scope = f"group {owner.name}" if owner is not None else "the whole site"
            if holiday.group_id is None or (owner is not None and owner.name == group_name):
                applied.append(Applied(f"holiday {holiday.name} ({scope})"))
    for leave in facts.leave:
        if leave.person_id == person_id and leave.covers(day):
            span = f"leave {leave.first_day.isoformat()} to {leave.last_day.isoformat()}"
            applied.append(Applied(span, why=leave.reason))
    if person_day.outside_window:
        moments = " ".join(f"{m:%H:%M}" for m in person_day.outside_window)
        rules.insert(0, f"sightings outside every shift window on this calendar day count for no shift: {moments}")
    source = slot.planned.source
    opens, closes = (datetime.fromtimestamp(ts, zone) for ts in (slot.opens, slot.closes))
    return DayExplanation(
        person_day, person_day.shift, source, tuple(windows), tuple(sightings), tuple(applied), tuple(rules),
        opens, closes,
    )  # fmt: skip
