"""Effective-dated HR facts: what a group, a shift type or a membership was before a change took effect.

A change to a rule applies from a day (by default today), never silently to the past. The store keeps the
current value in its own row and, for each change, what was true on the days before it (`until`, exclusive).
The rules (core.attendance.rosters) read a day's value as the earliest `until` after that day, else the current.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from core.base.records import EventKind
from core.base.timekeeping import Group, Shift


@dataclass(frozen=True)
class GroupBefore:
    """The group (its schedule and default shift) on the days before `until`."""

    group: Group
    until: date


@dataclass(frozen=True)
class ShiftBefore:
    """The shift type's rules on the days before `until`."""

    shift: Shift
    until: date


@dataclass(frozen=True)
class MembershipBefore:
    """The person's group (None: none) on the days before `until`."""

    person_id: int
    group_id: int | None
    until: date


@dataclass(frozen=True)
class RuleHistory:
    """Every dated change the rules read."""

    groups: tuple[GroupBefore, ...] = ()
    shifts: tuple[ShiftBefore, ...] = ()
    memberships: tuple[MembershipBefore, ...] = ()


NO_HISTORY = RuleHistory()


class HeldOrigin(enum.StrEnum):
    """Where a sighting held for a locked month came from."""

    LIVE = "live"  # this station's camera, while the month was locked
    IMPORT = "import"  # a terminal's log or a migration
    SITE = "site"  # another station's event, synced late


class HeldState(enum.StrEnum):
    HELD = "held"  # recorded, not counted: its month is locked
    COUNTED = "counted"  # counted after an unlock (it is an event now)
    DISMISSED = "dismissed"  # HR decided it does not count


@dataclass(frozen=True)
class HeldSighting:
    """A sighting dated inside a locked month: recorded and audited, but not counted (and not sent to
    integrations) until HR unlocks the month and counts it, or dismisses it."""

    id: int
    person_id: int | None
    kind: EventKind
    time: datetime
    month: str  # YYYY-MM it is dated in
    source: str
    similarity: float
    origin: HeldOrigin
    station: str | None  # another station's name (origin site)
    held_at: datetime
    state: HeldState = HeldState.HELD
    event_id: int | None = None  # once counted
    uuid: str = ""


@dataclass(frozen=True)
class SnapshotRow:
    """One person's days of a locked month as computed when it was locked (no name: erasure removes the row)."""

    month: str
    person_id: int
    days_json: str
    digest: str
