"""Charts of a month (pyqtgraph): attendance rate per day, arrivals against the schedule's start,
late arrivals per person. The numbers come from core.attendance.charts, as the CLI's PNGs do."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from core.app.engine import Engine
from core.attendance.charts import HISTOGRAM_BIN_MINUTES, Series
from core.base.errors import RollcallError

from .attendance_views import date_edit
from .widgets import hbox

BAR_COLOR = "#3b7dd8"
START_LINE_COLOR = "#d9534f"


def _plot(series: Series) -> pg.PlotWidget:
    plot = pg.PlotWidget(background="w")
    plot.setTitle(series.title, color="#111827", size="11pt")
    plot.setLabel("left", series.x_label if series.horizontal else series.y_label)
    plot.setLabel("bottom", series.y_label if series.horizontal else series.x_label)
    plot.showGrid(y=True, alpha=0.2)
    plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    return plot


def draw(plot: pg.PlotWidget, series: Series) -> None:
    plot.clear()
    if series.x_values:
        x = [v + HISTOGRAM_BIN_MINUTES / 2 for v in series.x_values]
        plot.addItem(pg.BarGraphItem(x=x, height=list(series.values), width=HISTOGRAM_BIN_MINUTES * 0.9,
                                     brush=BAR_COLOR))
        start_pen = pg.mkPen(START_LINE_COLOR, width=2, style=pg.QtCore.Qt.PenStyle.DashLine)
        plot.addItem(pg.InfiniteLine(pos=0, angle=90, pen=start_pen))
        return
    if series.horizontal:
        positions = list(range(len(series.values)))[::-1]  # the first (largest) on top
        plot.addItem(pg.BarGraphItem(x0=0, y=positions, width=list(series.values), height=0.7, brush=BAR_COLOR))
        plot.getAxis("left").setTicks([list(zip(positions, series.labels))])
        return
    positions = list(range(len(series.values)))
    plot.addItem(pg.BarGraphItem(x=positions, height=list(series.values), width=0.7, brush=BAR_COLOR))
    plot.getAxis("bottom").setTicks([list(zip(positions, series.labels))])


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
