"""Corrections over raw events: what counts as a punch, and which months a change touches.

Raw recognition events are never edited. A correction is a separate record; applying the
corrections to the events (in the order they were made) gives the punches the rules count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from core.base.errors import InvalidInputError
from core.base.records import AttendanceEvent
from core.base.timekeeping import Correction, CorrectionKind

from .schedule import month_key

MAX_REASON_LEN = 500


@dataclass(frozen=True)
class Punch:
    """A moment a person counts as present: a raw event (perhaps reassigned) or a manual punch."""

    person_id: int
    ts: float  # UTC epoch seconds
    event_id: int | None  # None = a manual punch
    correction_id: int | None = None  # the manual punch or the reassignment behind it


CORRECTION_NEEDS_REASON = "A correction needs a reason; say why it is made."
LEAVE_NEEDS_REASON = "Leave needs a reason (annual leave, sick, training…); say why the person is away."
UNLOCK_NEEDS_REASON = "Unlocking a month needs a reason; say why its final timesheet must change."


def clean_reason(reason: str | None, missing: str = CORRECTION_NEEDS_REASON) -> str:
    """The reason with its spaces tidied; `missing` is the refusal when there is none."""
    text = " ".join(str(reason or "").split())
    if not text:
        raise InvalidInputError(missing)
    if len(text) > MAX_REASON_LEN:
        raise InvalidInputError(f"The reason has {len(text)} characters; the limit is {MAX_REASON_LEN}.")
    return text


def effective_punches(events: Iterable[AttendanceEvent], corrections: Iterable[Correction]) -> list[Punch]:
    """Every punch that counts, oldest first (ties: raw events by id, then manual punches by id).

    Unknown-face events count only once reassigned to a person; a voided event never counts. A reassignment
    to nobody undoes the earlier ones: the event counts as it was recorded (an unknown face: for nobody).
    """
    voided: set[int] = set()
    # event id -> (person id, correction id); the latest wins
    reassigned: dict[int | None, tuple[int | None, int | None]] = {}
    manual: list[Punch] = []
    for correction in sorted(corrections, key=lambda c: c.id):
        if correction.kind is CorrectionKind.VOID and correction.event_id is not None:
            voided.add(correction.event_id)
        elif correction.kind is CorrectionKind.REASSIGN and correction.person_id is None:
            reassigned.pop(correction.event_id, None)  # undone: the event is its raw self again
        elif correction.person_id is None:
            continue
        elif correction.kind is CorrectionKind.REASSIGN and correction.event_id is not None:
            reassigned[correction.event_id] = (correction.person_id, correction.id)
        elif correction.kind is CorrectionKind.PUNCH and correction.time is not None:
            manual.append(Punch(correction.person_id, correction.time.timestamp(), None, correction.id))
    punches: list[Punch] = []
    for event in events:
        if event.id in voided:
            continue
        person_id, correction_id = reassigned.get(event.id, (event.person_id, None))
        if person_id is None:
            continue
        punches.append(Punch(int(person_id), event.time.timestamp(), event.id, correction_id))
    punches.extend(manual)
    punches.sort(key=lambda p: (p.ts, p.event_id is None, p.event_id or 0, p.correction_id or 0))
    return punches


def correction_days(correction_time: datetime | None, event: AttendanceEvent | None, zone: tzinfo) -> list[date]:
    """The site-zone days a correction changes: the punch's day, or the corrected event's day."""
    days = []
    if correction_time is not None:
        days.append(correction_time.astimezone(zone).date())
    if event is not None:
        days.append(event.time.astimezone(zone).date())
    return days


def locked_months_touched(days: Iterable[date], locked: Iterable[str]) -> list[str]:
    """The locked months (YYYY-MM) among the months of `days`, sorted."""
    locked = set(locked)
    return sorted({month_key(day) for day in days} & locked)
