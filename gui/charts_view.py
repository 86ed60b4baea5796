"""Charts of a month (pyqtgraph): attendance rate per day, arrivals against the schedule's start,
late arrivals per person. The numbers come from core.attendance.charts, as the CLI's PNGs do."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from core.app.engine import Engine
from core.attendance.charts import Series
from core.base.errors import RollcallError

from .attendance.common import date_edit
from .widgets import hbox

BAR_COLOR = "#3b7dd8"
START_LINE_COLOR = "#d9534f"


def _plot(series: Series) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.setTitle(series.title, color="#111827", size="11pt")
    for side in ("left", "bottom"):
        plot.getAxis(side).enableAutoSIPrefix(False)  # counts and days, never "(x0.001)"
    plot.setLabel("left", series.x_label if series.horizontal else series.y_label)
    plot.setLabel("bottom", series.y_label if series.horizontal else series.x_label)
    plot.showGrid(y=True, alpha=0.2)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    return plot


def whole_ticks(high: float) -> list[tuple[float, str]]:
    """Count ticks at whole numbers (no "0.5 arrivals"), about five of them."""
    step = max(1, math.ceil(high / 5))
    return [(float(v), str(v)) for v in range(0, int(high) + step + 1, step)]


def draw(plot: pg.PlotWidget, series: Series) -> None:
    plot.clear()
    if series.x_values:  # a numeric axis: days of the month, or minutes late in buckets
        plot.addItem(
            pg.BarGraphItem(
                x=list(series.x_values), height=list(series.values), width=series.bar_width * 0.9, brush=BAR_COLOR
            )
        )
        if series.x_limits is not None:
            plot.setXRange(*series.x_limits, padding=0)
        if series.marker is not None:
            start_pen = pg.mkPen(START_LINE_COLOR, width=2, style=pg.QtCore.Qt.PenStyle.DashLine)
            plot.addItem(pg.InfiniteLine(pos=series.marker, angle=90, pen=start_pen))
        high = max(series.values, default=0.0)
        if series.y_limit is not None:
            plot.setYRange(0, series.y_limit, padding=0.02)
        else:
            plot.setYRange(0, max(high, 1.0), padding=0.05)
            plot.getAxis("left").setTicks([whole_ticks(max(high, 1.0))])
        return
    if series.horizontal:
        positions = list(range(len(series.values)))[::-1]  # the first (largest) on top
        plot.addItem(pg.BarGraphItem(x0=0, y=positions, width=list(series.values), height=0.7, brush=BAR_COLOR))
        plot.getAxis("left").setTicks([list(zip(positions, series.labels, strict=True))])
        high = max(series.values, default=1.0)
        plot.setXRange(0, max(high, 1.0), padding=0.05)
        plot.getAxis("bottom").setTicks([whole_ticks(max(high, 1.0))])
        return
    positions = list(range(len(series.values)))
    plot.addItem(pg.BarGraphItem(x=positions, height=list(series.values), width=0.7, brush=BAR_COLOR))
    plot.getAxis("bottom").setTicks([list(zip(positions, series.labels, strict=True))])


class ChartsView(QWidget):
    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.month_edit = date_edit(engine.site_today().replace(day=1), "MMMM yyyy")
        self.message_label = QLabel("")
        self.message_label.setObjectName("muted")
        self.series: list[Series] = []
        self.plots: list[pg.PlotWidget] = []
        grid = QGridLayout()
        layout = QVBoxLayout(self)
        layout.addLayout(hbox(QLabel("Month"), self.month_edit, None, self.message_label))
        layout.addLayout(grid, 1)
        self._grid = grid
        self.month_edit.dateChanged.connect(lambda _: self.refresh())

    def month(self) -> str:
        return f"{self.month_edit.date().year():04d}-{self.month_edit.date().month():02d}"

    def refresh(self) -> None:
        try:
            self.series = self.engine.chart_series(self.month())
        except RollcallError as exc:
            self.message_label.setText(str(exc))
            return
        if not self.plots:
            places = [(0, 0, 1, 2), (1, 0, 1, 1), (1, 1, 1, 1)]
            for series, place in zip(self.series, places):
                plot = _plot(series)
                self._grid.addWidget(plot, *place)
                self.plots.append(plot)
        for plot, series in zip(self.plots, self.series):
            draw(plot, series)
        self.message_label.setText("")
