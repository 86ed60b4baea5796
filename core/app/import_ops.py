"""Engine operations: bringing in sightings from another terminal's log or a migration (`rollcall events import`).

Each sighting goes through AttendanceBook.observe, the recogniser's own path, in time order, so the cooldown
and the rules treat it exactly as if the camera had seen it. The file is read once, as a stream
(core.attendance.event_import), into compact rows; it is imported all or nothing, in one transaction with its
audit entry. Unknown people, bad lines and future times refuse the whole file, by line number. A sighting dated
in a locked month is held (recorded and audited, not counted: core.app.final_ops). A sighting before the
person's first day (their start date, else their enrollment) is not recorded: the result lists those lines,
or, with move_start, the person's start date moves back to their first sighting (refused in a locked month).

Importing twice adds nothing: a sighting is already there when the store holds an event of the same person
within the span its time names (that second, or that minute when the file wrote no seconds). The station is
not part of that key, so a sighting the camera recorded live and a log of the same moment count once.
"""

from __future__ import annotations

import bisect
import enum
import hashlib
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from core.app.attendance_ops import current_user
from core.app.changes import ChangeKind, Changes, Outcome
from core.app.engine_state import EngineState
from core.attendance.book import AttendanceBook
from core.attendance.event_import import ImportRefused, LineProblem, LogFormat, Sighting, decoded_lines, read_log
from core.base.cancel import CancelCheck
from core.base.dated import HeldOrigin, HeldSighting
from core.base.errors import Cancelled, InvalidInputError, PersonNotFoundError
from core.base.records import AttendanceEvent, EventKind
from core.base.timekeeping import AuditAction, RosterEntry
from core.gallery.store import GalleryStore

PROGRESS_EVERY = 1000  # lines read, or sightings recorded, between progress reports (and cancel checks)
PROBLEMS_KEPT = 1000  # problems kept for the refusal (all are counted)
FUTURE_SLACK = timedelta(minutes=1)  # a terminal's clock may run this far ahead
IMPORTED_SIMILARITY = 1.0  # the terminal identified the person; a face match's similarity does not apply


class ImportPhase(enum.StrEnum):
    READING = "reading"  # done/total: bytes of the file
    RECORDING = "recording"  # done/total: sightings


@dataclass(frozen=True)
class EventImportProgress:
    phase: ImportPhase
    done: int
    total: int


@dataclass(frozen=True)
class EventsImported:
    """What `events import` did."""

    file: Path
    log_format: LogFormat
    sha256: str
    sightings: int  # lines that named a person and a time
    recorded: int  # new events: what live recognition would have stored
    already_there: int  # in the store before (imported earlier, or seen live at that moment)
    within_cooldown: int  # dropped by the cooldown, as live recognition drops them
    people: int  # distinct people in the file
    held: int = 0  # dated in a locked month: held for HR, not counted
    before_start: tuple[LineProblem, ...] = ()  # lines before the person's first day (or after the last): not recorded
    starts_moved: tuple[tuple[int, date], ...] = ()  # (person id, new start date) when move_start was asked


@dataclass(frozen=True, slots=True)
class _Row:
    """A sighting as held for sorting: small, since a terminal's log may have millions."""

    ts: float
    person_id: int
    line: int
    station: str
    span: float  # seconds the written time names


class ImportOperations(EngineState):
    """Mixed into Engine: uses its store, settings, site zone and clock, and _done."""

    clock: Callable[[], datetime]

    if TYPE_CHECKING:  # AttendanceOperations'

        def hold_sightings(
            self, sightings: Iterable[AttendanceEvent], origin: HeldOrigin, note: str, actor: str | None = None
        ) -> list[HeldSighting]: ...

        def set_working_life(
            self,
            person_id: int,
            start: date | None | str = "keep",
            end: date | None | str = "keep",
            actor: str | None = None,
        ) -> Outcome[RosterEntry]: ...

    def import_events(
        self,
        path: Path | str,
        log_format: LogFormat | None = None,
        station: str = "",
        cancel: CancelCheck | None = None,
        actor: str | None = None,
        move_start: bool = False,
    ) -> Generator[EventImportProgress, None, Outcome[EventsImported]]:
        """Import a CSV or ZKTeco attendance log (see core.attendance.event_import), yielding progress.

        station: the source recorded for sightings whose line names none (default: the file's name).
        While the sightings are written (one transaction) other threads wait for the store; run it off the GUI
        thread and close the generator to stop it (nothing is kept).
        Raises ImportRefused (nothing imported) listing the problems by line, Cancelled on cancel."""
        path = Path(path)
        try:
            size = path.stat().st_size
            handle = path.open("rb")
        except OSError as exc:
            raise InvalidInputError(f"Cannot read {path}: {exc.strerror or exc}") from None
        meter = _Meter(handle)
        with handle:
            log_format, rows, problems, total_problems = yield from self._read_rows(meter, size, log_format, cancel)
        if total_problems:
            raise ImportRefused(path.name, tuple(problems), total_problems)
        rows.sort(key=lambda row: (row.ts, row.line))
        default_station = station.strip() or path.name
        book = AttendanceBook(self.store, self.settings.attendance)
        zone = self.site_zone()
        locked = set(self.store.locked_months())
        recorded = already = 0
        to_hold: list[AttendanceEvent] = []
        with self.store.transaction():
            starts_moved = self._move_starts(rows, zone, actor) if move_start else ()
            rows, before_start = self._before_start(rows, zone)
            stored = _StoredMoments(self.store, rows)
            for done, row in enumerate(rows, start=1):
                when = datetime.fromtimestamp(row.ts, UTC).astimezone(zone)
                if stored.has(row):
                    already += 1
                elif f"{when:%Y-%m}" in locked:
                    source = row.station or default_station
                    to_hold.append(
                        AttendanceEvent(
                            None, row.person_id, None, EventKind.CHECK_IN, when, source, IMPORTED_SIMILARITY
                        )
                    )
                else:
                    event = book.observe(row.person_id, IMPORTED_SIMILARITY, row.station or default_station, when=when)
                    recorded += event is not None
                if done % PROGRESS_EVERY == 0:
                    _check(cancel)
                    yield EventImportProgress(ImportPhase.RECORDING, done, len(rows))
            people = {row.person_id for row in rows}
            result = EventsImported(
                path,
                log_format,
                meter.digest.hexdigest(),
                len(rows) + len(before_start),
                recorded,
                already,
                len(rows) - recorded - already - len(to_hold),
                len(people),
                len(to_hold),
                tuple(before_start),
                starts_moved,
            )
            self.hold_sightings(to_hold, HeldOrigin.IMPORT, f"file {path.name}", actor)
            self.store.append_audit(
                actor or current_user(),
                AuditAction.EVENTS_IMPORTED,
                f"file {path.name}",
                "",
                {
                    "file": path.name,
                    "sha256": result.sha256,
                    "format": log_format.value,
                    "sightings": result.sightings,
                    "recorded": recorded,
                    "already_there": already,
                    "people": len(people),
                    "held": len(to_hold),
                    "before_start": len(before_start),
                    "starts_moved": [[pid, day.isoformat()] for pid, day in starts_moved],
                },
            )
        yield EventImportProgress(ImportPhase.RECORDING, len(rows), len(rows))
        kinds = [kind for kind, done in ((ChangeKind.EVENTS, recorded), (ChangeKind.HELD, to_hold)) if done]
        if starts_moved:
            kinds.append(ChangeKind.SCHEDULES)
        return self._done(result, Changes.of(*kinds, person_ids=people) if kinds else Changes())

    def _before_start(self, rows: list[_Row], zone: tzinfo) -> tuple[list[_Row], list[LineProblem]]:
        """The rows to record, and the lines dated before their person's first day (not recorded)."""
        lives = {entry.person_id: (entry.first_day(zone), entry.end_day, entry.name) for entry in self.store.roster()}
        kept, before = [], []
        for row in rows:
            first, last, name = lives.get(row.person_id, (None, None, ""))
            day = datetime.fromtimestamp(row.ts, UTC).astimezone(zone).date()
            if first is not None and day < first:
                before.append(LineProblem(row.line, f"{day.isoformat()} is before {name}'s start date {first}"))
            elif last is not None and day > last:
                before.append(LineProblem(row.line, f"{day.isoformat()} is after {name}'s end date {last}"))
            else:
                kept.append(row)
        return kept, before

    def _move_starts(self, rows: list[_Row], zone: tzinfo, actor: str | None) -> tuple[tuple[int, date], ...]:
        """Inside the import's transaction: each person's start date moves back to their first sighting."""
        earliest: dict[int, date] = {}
        for row in rows:
            day = datetime.fromtimestamp(row.ts, UTC).astimezone(zone).date()
            earliest[row.person_id] = min(day, earliest.get(row.person_id, day))
        moved = []
        for entry in self.store.roster():
            first, earliest_day = entry.first_day(zone), earliest.get(entry.person_id)
            if earliest_day is not None and first is not None and earliest_day < first:
                day = earliest_day
                self.set_working_life(entry.person_id, start=day, actor=actor)
                moved.append((entry.person_id, day))
        return tuple(moved)

    def import_events_now(
        self,
        path: Path | str,
        log_format: LogFormat | None = None,
        station: str = "",
        actor: str | None = None,
        move_start: bool = False,
    ) -> Outcome[EventsImported]:
        """import_events without progress."""
        steps = self.import_events(path, log_format, station, actor=actor, move_start=move_start)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value

    def _read_rows(
        self, meter: _Meter, size: int, log_format: LogFormat | None, cancel: CancelCheck | None
    ) -> Generator[EventImportProgress, None, tuple[LogFormat, list[_Row], list[LineProblem], int]]:
        """The file's sightings as rows, and its problems (the first PROBLEMS_KEPT, and how many in all)."""
        zone = self.site_zone()
        log_format, items = read_log(decoded_lines(meter.lines()), zone, log_format)
        people = _People(self.store, by_name=log_format is LogFormat.CSV)
        latest = self.clock() + FUTURE_SLACK
        rows: list[_Row] = []
        stations: dict[str, str] = {}  # one string per station name, however many rows name it
        problems: list[LineProblem] = []
        total = 0
        for count, item in enumerate(items, start=1):
            if isinstance(item, LineProblem):
                problem: LineProblem | None = item
            else:
                person_id, problem = people.resolve(item)
                if problem is None and item.time > latest:
                    problem = LineProblem(item.line, f"{item.time.isoformat()} is in the future")
                if problem is None and person_id is not None:
                    rows.append(
                        _Row(
                            item.time.timestamp(),
                            person_id,
                            item.line,
                            stations.setdefault(item.station, item.station),
                            item.precision.total_seconds(),
                        )
                    )
            if problem is not None:
                total += 1
                if len(problems) < PROBLEMS_KEPT:
                    problems.append(problem)
            if count % PROGRESS_EVERY == 0:
                _check(cancel)
                yield EventImportProgress(ImportPhase.READING, meter.bytes_read, size)
        yield EventImportProgress(ImportPhase.READING, meter.bytes_read, size)
        return log_format, rows, problems, total


def _check(cancel: CancelCheck | None) -> None:
    if cancel and cancel():
        raise Cancelled("The import was cancelled; nothing was imported.")


class _Meter:
    """A binary file's lines, hashed (SHA-256) and counted as they are read."""

    def __init__(self, handle: BinaryIO):
        self.handle, self.digest, self.bytes_read = handle, hashlib.sha256(), 0

    def lines(self) -> Iterator[bytes]:
        for raw in self.handle:
            self.digest.update(raw)
            self.bytes_read += len(raw)
            yield raw


class _People:
    """Who a log's person column names: an external ID, or (CSV only) a name. Active people only."""

    def __init__(self, store: GalleryStore, by_name: bool):
        self.store, self.by_name = store, by_name
        self.by_external_id = {
            entry.external_id.strip(): entry.person_id for entry in store.roster() if entry.external_id
        }
        self.known: dict[str, tuple[int | None, str]] = {}

    def resolve(self, sighting: Sighting) -> tuple[int | None, LineProblem | None]:
        key = sighting.person
        if key not in self.known:
            self.known[key] = self._lookup(key)
        person_id, message = self.known[key]
        return person_id, (LineProblem(sighting.line, message) if person_id is None else None)

    def _lookup(self, key: str) -> tuple[int | None, str]:
        if key in self.by_external_id:
            return self.by_external_id[key], ""
        if not self.by_name:
            return None, f"no one enrolled has the external ID {key!r}"
        if key.isdigit():
            return None, f"no one enrolled has the external ID {key!r}"
        try:
            person = self.store.find_person(key)
        except PersonNotFoundError as exc:
            return None, str(exc)
        if not person.active:
            return None, f"{key!r} is no longer active"
        return person.id, ""


class _StoredMoments:
    """The moments of the events the store held before the import, per person, to find a sighting already there."""

    def __init__(self, store: GalleryStore, rows: Sequence[_Row]):
        self.moments: dict[int, list[float]] = {}
        self.seen: set[tuple[int, float]] = set()
        if not rows:
            return
        wanted = {row.person_id for row in rows}
        first = datetime.fromtimestamp(min(row.ts for row in rows), UTC)
        last = datetime.fromtimestamp(max(row.ts + row.span for row in rows), UTC)
        for event in store.events_between(first, last):
            if event.person_id in wanted:
                self.moments.setdefault(event.person_id, []).append(event.time.timestamp())
        for moments in self.moments.values():
            moments.sort()

    def has(self, row: _Row) -> bool:
        """Whether the store held an event of this person within the row's span, or the file repeats the row."""
        key = (row.person_id, row.ts)
        if key in self.seen:
            return True
        self.seen.add(key)
        moments = self.moments.get(row.person_id, [])
        at = bisect.bisect_left(moments, row.ts)
        return at < len(moments) and moments[at] < row.ts + row.span
