"""Reading sightings from another terminal's log, or from a migration: text lines in, sightings and line problems out.

Pure: no database. The Engine (core.app.import_ops) resolves the people, drops what is already stored and runs
each sighting through the same rules as live recognition (AttendanceBook.observe).

Two formats, told apart by their first line (or named):
- CSV with a header naming `person` (a name or an external ID), `time` and optionally `station`, in any order;
  other columns are ignored. A time is `YYYY-MM-DD HH:MM[:SS]` on the site's wall clock, or ISO 8601 with an
  offset (`2026-10-12T08:00:00+02:00`, `...Z`).
- The attendance log a ZKTeco terminal writes to a USB stick (`<device>_attlog.dat`): one punch a line, fields
  separated by tabs: the user ID (PIN, padded with spaces), `YYYY-MM-DD HH:MM:SS` on the terminal's clock, the
  verify mode, in/out state, work code and reserved fields (their order varies by firmware; all ignored):
  ``"        1\\t2026-10-03 08:59:01\\t1\\t0\\t1\\t0"``.
  This is the ATTLOG record of ZKTeco's push (iClock/ADMS) protocol, `PIN, time, status, verify, workcode`
  (see pyzk's `Attendance(user_id, timestamp, status, punch)` and the `@palmcode/zkteco-iclock-parser`
  package). The user ID is matched against external IDs. The in/out state is ignored: what a sighting means
  is decided by the rules from the person's shift, never by the button pressed on a terminal.
"""

from __future__ import annotations

import csv
import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from itertools import chain

from core.attendance.schedule import localize
from core.base.errors import InvalidInputError

SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
PROBLEMS_SHOWN = 20  # problems listed in a refusal's message (all are counted)
BAD_TEXT = "\ufffd"  # what undecodable bytes become (see decoded_lines)

_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?P<seconds>:\d{2}(?:[.,]\d+)?)?"
    r"(?P<offset>Z|[+-]\d{2}(?::?\d{2})?)?"
)
_ZK_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


class LogFormat(enum.StrEnum):
    CSV = "csv"
    ZKTECO = "zkteco"


@dataclass(frozen=True)
class Sighting:
    """One line of a log: someone seen at a moment."""

    line: int  # 1-based line of the file
    person: str  # as written: a name or an external ID (ZKTeco: the user ID)
    time: datetime  # aware
    station: str = ""  # "" = the file named none
    precision: timedelta = SECOND  # the time names this whole second (or minute, written without seconds)


@dataclass(frozen=True)
class LineProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportRefused(InvalidInputError):
    """A log with unknown people or bad lines: nothing of it was imported."""

    def __init__(self, file: str, problems: tuple[LineProblem, ...], total: int):
        shown = "\n".join(f"  {problem}" for problem in problems[:PROBLEMS_SHOWN])
        more = f"\n  ... and {total - PROBLEMS_SHOWN} more" if total > PROBLEMS_SHOWN else ""
        super().__init__(f"{file}: {total} problem{'s' if total != 1 else ''}, nothing was imported:\n{shown}{more}")
        self.problems = problems
        self.total = total


def decoded_lines(raw_lines: Iterable[bytes]) -> Iterator[str]:
    """Binary lines as text: UTF-8 (a leading byte-order mark dropped); undecodable bytes become BAD_TEXT,
    which the parsers report as a problem of that line."""
    for number, raw in enumerate(raw_lines):
        text = raw.decode("utf-8", errors="replace")
        yield text.removeprefix("\ufeff") if number == 0 else text


def parse_time(text: str, zone: tzinfo) -> tuple[datetime, timedelta]:
    """A time as written in a log, and the span it names: wall-clock times are in `zone`."""
    text = text.strip()
    match = _TIME.fullmatch(text)
    if match is None:
        raise InvalidInputError(
            f"{text!r} is not a time; write the date and the site's clock time, as 2026-12-01 08:00, "
            "or a time with its UTC offset, as 2026-12-01T08:00+01:00"
        )
    try:
        moment = datetime.fromisoformat(text.replace(",", "."))
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a real date and time") from None
    precision = SECOND if match["seconds"] else MINUTE
    return (moment if moment.tzinfo is not None else localize(moment, zone)), precision


def detect_format(first_line: str) -> LogFormat:
    """The format a log's first line shows."""
    fields = first_line.rstrip("\r\n").split("\t")
    if len(fields) >= 2 and fields[0].strip() and _ZK_TIME.fullmatch(fields[1].strip()):
        return LogFormat.ZKTECO
    header = {cell.strip().lower() for cell in next(csv.reader([first_line]), [])}
    if {"person", "time"} <= header:
        return LogFormat.CSV
    raise InvalidInputError(
        "Cannot tell the log's format: a CSV needs a header with 'person' and 'time', and a "
        "ZKTeco log starts with a user ID, a tab and YYYY-MM-DD HH:MM:SS. Name it with --format."
    )


def read_log(
    lines: Iterable[str], zone: tzinfo, log_format: LogFormat | None = None
) -> tuple[LogFormat, Iterator[Sighting | LineProblem]]:
    """The log's format (named, or told by its first line) and each line's sighting or problem, in file order;
    blank lines are skipped. Streams: it holds one line at a time."""
    lines = iter(lines)
    first = next(lines, None)
    if first is None:
        return log_format or LogFormat.CSV, iter(())
    log_format = log_format or detect_format(first)
    rest = chain([first], lines)
    return log_format, (_read_csv(rest, zone) if log_format is LogFormat.CSV else _read_zkteco(rest, zone))


def _read_zkteco(lines: Iterable[str], zone: tzinfo) -> Iterator[Sighting | LineProblem]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\r\n").split("\t")
        user_id = fields[0].strip()
        if BAD_TEXT in line:
            yield LineProblem(number, "not UTF-8 text")
        elif len(fields) < 2 or not user_id:
            yield LineProblem(number, "expected a user ID, a tab and a time")
        elif not _ZK_TIME.fullmatch(fields[1].strip()):
            yield LineProblem(number, f"{fields[1].strip()!r} is not a time; a ZKTeco log has YYYY-MM-DD HH:MM:SS")
        else:
            yield _sighting(number, user_id, fields[1], "", zone)


def _read_csv(lines: Iterable[str], zone: tzinfo) -> Iterator[Sighting | LineProblem]:
    reader = csv.reader(lines)
    header = [cell.strip().lower() for cell in next(reader, [])]
    missing = [name for name in ("person", "time") if name not in header]
    if missing:
        yield LineProblem(reader.line_num, f"the header has no {' or '.join(repr(m) for m in missing)} column")
        return
    person_at, time_at = header.index("person"), header.index("time")
    station_at = header.index("station") if "station" in header else None
    for row in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if any(BAD_TEXT in cell for cell in row):
            yield LineProblem(number, "not UTF-8 text")
        elif len(row) <= max(person_at, time_at):
            yield LineProblem(number, f"{len(row)} fields, but the header names {len(header)}")
        elif not row[person_at].strip():
            yield LineProblem(number, "no person")
        else:
            station = row[station_at].strip() if station_at is not None and station_at < len(row) else ""
            yield _sighting(number, row[person_at].strip(), row[time_at], station, zone)


def _sighting(number: int, person: str, time_text: str, station: str, zone: tzinfo) -> Sighting | LineProblem:
    try:
        moment, precision = parse_time(time_text, zone)
    except InvalidInputError as exc:
        return LineProblem(number, str(exc))
    return Sighting(number, person, moment, station, precision)
