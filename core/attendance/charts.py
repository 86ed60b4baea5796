"""Chart data from day statuses, and PNG files of them (matplotlib's Agg backend, imported lazily).

The GUI draws the same series with pyqtgraph; only the numbers live here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from core.base.timekeeping import DayStatus, PersonDay

HISTOGRAM_BIN_MINUTES = 5
HISTOGRAM_SPAN_MINUTES = 60  # arrivals from an hour early to an hour late; the rest fall in the end bins
EXPECTED = frozenset({DayStatus.PRESENT, DayStatus.LATE, DayStatus.EARLY_LEAVE, DayStatus.SHORT_DAY,
                      DayStatus.INCOMPLETE, DayStatus.ABSENT})


@dataclass(frozen=True)
class Series:
    title: str
    x_label: str
    y_label: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    x_values: tuple[float, ...] = ()  # numeric positions (histogram bin starts); empty = categories
    horizontal: bool = False  # categories down the side (long labels such as names)


def attendance_rate_per_day(days: Iterable[PersonDay]) -> Series:
    """Share of the people expected that day (working day, no holiday or leave) who attended; days on
    which nobody was expected (weekends, holidays) are left out rather than shown as 0 %."""
    expected: Counter[date] = Counter()
    attended: Counter[date] = Counter()
    all_days: set[date] = set()
    for d in days:
        all_days.add(d.day)
        if d.status in EXPECTED:
            expected[d.day] += 1
            attended[d.day] += d.status.attended
    ordered = [d for d in sorted(all_days) if expected[d]]
    return Series("Attendance rate per day", "day", "% attended", tuple(f"{d.day}" for d in ordered),
                  tuple(round(100.0 * attended[d] / expected[d], 1) if expected[d] else 0.0 for d in ordered))


def arrival_histogram(days: Iterable[PersonDay], starts: dict[str | None, int]) -> Series:
    """Arrivals in minutes relative to the schedule's start (negative = early), in 5-minute bins.

    starts: group name -> the schedule's start in minutes after midnight.
    """
    counts: Counter[int] = Counter()
    for d in days:
        start = starts.get(d.group)
        if start is None or d.first_seen is None or not d.status.attended:
            continue
        minute = d.first_seen.hour * 60 + d.first_seen.minute + d.first_seen.second / 60.0
        offset = (minute - start + 720) % 1440 - 720  # nearest start, also across midnight
        offset = max(-HISTOGRAM_SPAN_MINUTES, min(HISTOGRAM_SPAN_MINUTES - 1, offset))
        counts[int(offset // HISTOGRAM_BIN_MINUTES) * HISTOGRAM_BIN_MINUTES] += 1
    bins = range(-HISTOGRAM_SPAN_MINUTES, HISTOGRAM_SPAN_MINUTES, HISTOGRAM_BIN_MINUTES)
    return Series("Arrival time against the schedule's start", "minutes after start", "arrivals",
                  tuple(f"{b:+d}" for b in bins), tuple(float(counts[b]) for b in bins), tuple(float(b) for b in bins))


def late_arrivals_per_person(days: Iterable[PersonDay], top: int = 20) -> Series:
    """Days late per person, most first (ties by name), at most `top` people."""
    late: Counter[str] = Counter()
    for d in days:
        if d.late_minutes > 0:
            late[d.name] += 1
    ranked = sorted(late.items(), key=lambda item: (-item[1], item[0].casefold()))[:top]
    return Series("Late arrivals per person", "person", "days late", tuple(n for n, _ in ranked),
                  tuple(float(c) for _, c in ranked), horizontal=True)


def save_png(series: Series, path: Path | str) -> Path:
    """Draw a series as a bar chart PNG (headless: the Agg backend)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    path = Path(path)
    figure = Figure(figsize=(10, 4.5), dpi=100)
    axes = figure.add_subplot()
    if series.x_values:
        axes.bar(series.x_values, series.values, width=HISTOGRAM_BIN_MINUTES, align="edge", color="#3b7dd8")
        axes.axvline(0, color="#d9534f", linestyle="--", label="schedule start")
        axes.legend()
    elif series.horizontal:
        positions = list(range(len(series.values)))[::-1]  # the first (largest) on top
        axes.barh(positions, series.values, color="#3b7dd8")
        axes.set_yticks(positions, list(series.labels), fontsize=8)
    else:
        positions = list(range(len(series.values)))
        axes.bar(positions, series.values, color="#3b7dd8")
        axes.set_xticks(positions, list(series.labels), rotation=60, ha="right", fontsize=8)
    axes.set_title(series.title)
    axes.set_xlabel(series.y_label if series.horizontal else series.x_label)
    axes.set_ylabel(series.x_label if series.horizontal else series.y_label)
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path
