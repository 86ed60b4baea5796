"""Chart data from day statuses, and PNG files of them (matplotlib's Agg backend, imported lazily).

The GUI draws the same series with pyqtgraph; only the numbers live here.
"""

from __future__ import annotations

import math
from calendar import monthrange
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from core.base.timekeeping import ATTENDED, DayStatus, PersonDay

HISTOGRAM_BIN_MINUTES = 5  # the narrowest bucket
HISTOGRAM_SPAN_MINUTES = 60  # the axis shows at least an hour early to an hour late, more when arrivals lie further out
HISTOGRAM_BIN_CHOICES = (5, 10, 15, 30, 60, 120)  # the narrowest that keeps the buckets at most HISTOGRAM_MAX_BINS
HISTOGRAM_MAX_BINS = 48
DAY_BAR_WIDTH = 0.8  # of one day
EXPECTED = ATTENDED | {DayStatus.ABSENT}


@dataclass(frozen=True)
class Series:
    title: str
    x_label: str
    y_label: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    x_values: tuple[float, ...] = ()  # numeric bar centres (days of the month, minutes); empty = categories
    horizontal: bool = False  # categories down the side (long labels such as names)
    bar_width: float = 1.0  # in x units (a day, or a bucket's minutes)
    x_limits: tuple[float, float] | None = None  # the whole axis (the month), whatever days have bars
    marker: float | None = None  # a vertical line at this x (the shift's start)
    y_limit: float | None = None  # the value axis' top when it has one (100 %); None = counts, from the data


def attendance_rate_per_day(days: Iterable[PersonDay]) -> Series:
    """Share of the people expected that day (working day, no holiday or leave) who attended, on an axis of the
    month's days; days on which nobody was expected (weekends, holidays) have no bar rather than 0 %."""
    expected: Counter[date] = Counter()
    attended: Counter[date] = Counter()
    all_days: set[date] = set()
    for d in days:
        all_days.add(d.day)
        if d.status in EXPECTED:
            expected[d.day] += 1
            attended[d.day] += d.status.attended
    ordered = [d for d in sorted(all_days) if expected[d]]
    limits = None
    if all_days:
        first = min(all_days)
        limits = (0.5, monthrange(first.year, first.month)[1] + 0.5)
    return Series(
        "Attendance rate per day",
        "day of the month",
        "% attended",
        tuple(f"{d.day}" for d in ordered),
        tuple(round(100.0 * attended[d] / expected[d], 1) if expected[d] else 0.0 for d in ordered),
        tuple(float(d.day) for d in ordered),
        bar_width=DAY_BAR_WIDTH,
        x_limits=limits,
        y_limit=100.0,
    )


def histogram_bins(offsets: Iterable[float]) -> range:
    """Bucket starts that hold every offset: at least -SPAN..+SPAN, in the narrowest bucket that keeps the count
    at most HISTOGRAM_MAX_BINS."""
    values = list(offsets)
    low = min([-HISTOGRAM_SPAN_MINUTES, *values])
    high = max([HISTOGRAM_SPAN_MINUTES - 1, *values])
    width = next((w for w in HISTOGRAM_BIN_CHOICES if (high - low) / w < HISTOGRAM_MAX_BINS), HISTOGRAM_BIN_CHOICES[-1])
    first = int(math.floor(low / width)) * width
    last = int(math.floor(high / width)) * width
    return range(first, last + width, width)


def arrival_histogram(days: Iterable[PersonDay], starts: dict[str | None, int]) -> Series:
    """Arrivals in minutes relative to the shift's start (negative = early), in buckets that hold them all.

    starts: shift code or group name -> the start in minutes after midnight (a day's shift code first).
    """
    offsets: list[float] = []
    for d in days:
        start = starts.get(d.shift, starts.get(d.group))
        if start is None or d.first_seen is None or not d.status.attended:
            continue
        minute = d.first_seen.hour * 60 + d.first_seen.minute + d.first_seen.second / 60.0
        offsets.append((minute - start + 720) % 1440 - 720)  # nearest start, also across midnight
    bins = histogram_bins(offsets)
    counts: Counter[int] = Counter(int(math.floor(o / bins.step)) * bins.step for o in offsets)
    return Series(
        "Arrival time against the shift's start",
        "minutes late (negative: early)",
        "arrivals",
        tuple(f"{b:+d}" for b in bins),
        tuple(float(counts[b]) for b in bins),
        tuple(b + bins.step / 2 for b in bins),
        bar_width=float(bins.step),
        x_limits=(float(bins.start), float(bins.stop)),
        marker=0.0,
    )


def late_arrivals_per_person(days: Iterable[PersonDay], top: int = 20) -> Series:
    """Days late per person, most first (ties by name), at most `top` people."""
    late: Counter[str] = Counter()
    for d in days:
        if d.late_minutes > 0:
            late[d.name] += 1
    ranked = sorted(late.items(), key=lambda item: (-item[1], item[0].casefold()))[:top]
    return Series(
        "Late arrivals per person",
        "person",
        "days late",
        tuple(n for n, _ in ranked),
        tuple(float(c) for _, c in ranked),
        horizontal=True,
    )


def save_png(series: Series, path: Path | str) -> Path:
    """Draw a series as a bar chart PNG (headless: the Agg backend)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    path = Path(path)
    figure = Figure(figsize=(10, 4.5), dpi=100)
    axes = figure.add_subplot()
    if series.x_values:
        axes.bar(series.x_values, series.values, width=series.bar_width * 0.9, color="#3b7dd8")
        if series.x_limits is not None:
            axes.set_xlim(*series.x_limits)
        if series.marker is not None:
            axes.axvline(series.marker, color="#d9534f", linestyle="--", label="shift start")
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
