"""The Settings dialog's calibration view: the estimated strangers marked per 1,000 against the
threshold (core.gallery.calibration.CalibrationReport), the current threshold and the proposal marked."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from core.app.engine import Engine
from core.base.errors import RollcallError
from core.gallery.calibration import CalibrationReport

from .widgets import styled_label

CURVE_COLOR = "#2563eb"
CURRENT_COLOR = "#dc2626"
PROPOSED_COLOR = "#16a34a"
PLOT_HEIGHT_PX = 200
NOW_LABEL_AT, TARGET_LABEL_AT = 0.92, 0.78  # up the line: the two labels never overlap when the lines are close


class CalibrationView(QWidget):
    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.report: CalibrationReport | None = None
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMinimumHeight(PLOT_HEIGHT_PX)
        self.plot.setLabel("bottom", "threshold (the model's score)")
        self.plot.setLabel("left", "strangers marked per 1,000")
        self.plot.setLogMode(y=True)
        self.summary = styled_label("")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        layout.addWidget(self.summary)
        self.refresh()

    def refresh(self, target_per_1000: float | None = None) -> None:
        self.plot.clear()
        try:
            self.report = self.engine.calibration_report(target_per_1000)
        except (RollcallError, ValueError) as exc:  # too few people, or no model
            self.report = None
            self.summary.setText(f"No calibration: {exc}")
            return
        report = self.report
        x = [p.threshold for p in report.curve]
        y = [max(p.strangers_per_1000, 1e-3) for p in report.curve]  # log axis: no zero
        self.plot.plot(x, y, pen=pg.mkPen(CURVE_COLOR, width=2))
        self.current_line = pg.InfiniteLine(
            pos=report.threshold,
            angle=90,
            label="now",
            labelOpts={"position": NOW_LABEL_AT, "color": CURRENT_COLOR},
            pen=pg.mkPen(CURRENT_COLOR, width=2),
        )
        self.proposed_line = pg.InfiniteLine(
            pos=report.proposed_threshold,
            angle=90,
            label="target",
            labelOpts={"position": TARGET_LABEL_AT, "color": PROPOSED_COLOR},
            pen=pg.mkPen(PROPOSED_COLOR, width=2, style=pg.QtCore.Qt.PenStyle.DashLine),
        )
        self.plot.addItem(self.current_line)
        self.plot.addItem(self.proposed_line)
        self.summary.setText(" ".join(report.describe()[2:]))
