"""Why?: one person's day explained (core.attendance.explain), with each sighting's evidence photo."""

from __future__ import annotations

from datetime import date

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.app.engine import Engine
from core.attendance.explain import SOURCE_WORDS, DayExplanation

from ..widgets import pixmap_from_jpeg
from .common import STATUS_LABELS, read_only_table

PHOTO_SIZE = 160  # pixels; the evidence photo beside the sightings
SIGHTING_COLUMNS = ["Time", "Station", "Kind", "Match", "Counted"]


class WhyDialog(QDialog):
    """The shift and where it came from, its windows, the sightings, what applied, and the deciding rule."""

    def __init__(self, engine: Engine, person_id: int, day: date, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.explained: DayExplanation = engine.explain_day(person_id, day)
        d = self.explained.day
        self.setWindowTitle(f"Why? {d.name}, {d.day:%a %d %b %Y}")
        self.title_label = QLabel(f"<b>{d.name}</b>, {d.day:%A %d %B %Y}: <b>{STATUS_LABELS[d.status]}</b>")
        self.decision_label = QLabel("\n".join(self.explained.rules))  # the rules as they decided, the status last
        self.decision_label.setWordWrap(True)
        source = SOURCE_WORDS[self.explained.source]
        self.shift_label = QLabel(f"Shift {d.shift or 'none'} ({source})\n" + "\n".join(self.explained.windows))
        self.shift_label.setObjectName("muted")
        self.table = read_only_table(SIGHTING_COLUMNS, stretch=4)
        self.photo_label = QLabel("No photo")
        self.photo_label.setFixedSize(PHOTO_SIZE, PHOTO_SIZE)
        self.details = QPlainTextEdit("\n".join(self.explained.lines()))
        self.details.setReadOnly(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        sightings = QHBoxLayout()
        sightings.addWidget(self.table, 1)
        sightings.addWidget(self.photo_label)
        layout = QVBoxLayout(self)
        for widget in (self.title_label, self.decision_label, self.shift_label):
            layout.addWidget(widget)
        layout.addLayout(sightings, 1)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)
        self.fill()
        self.table.currentCellChanged.connect(lambda row, *_: self.show_photo(row))
        if self.table.rowCount():
            self.table.selectRow(0)
        self.resize(760, 560)

    def fill(self) -> None:
        rows = self.explained.sightings
        self.table.setRowCount(len(rows))
        for r, s in enumerate(rows):
            cells = [f"{s.time:%d %b %H:%M:%S}", s.station, s.kind, f"{s.similarity:.2f}", s.note]
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))

    def show_photo(self, row: int) -> None:
        """The evidence photo of the sighting in `row` (a manual punch or an expired photo has none)."""
        rows = self.explained.sightings
        event_id = rows[row].event_id if 0 <= row < len(rows) else None
        jpeg = self.engine.evidence_photo(event_id) if event_id is not None else None
        if not jpeg:
            self.photo_label.setPixmap(pixmap_from_jpeg(None))
            self.photo_label.setText("No photo")
            return
        self.photo_label.setPixmap(pixmap_from_jpeg(jpeg, PHOTO_SIZE))

    def photo_shown(self) -> bool:
        pixmap = self.photo_label.pixmap()
        return pixmap is not None and not pixmap.isNull()


def open_why(engine: Engine, person_id: int | None, day: date, parent: QWidget) -> WhyDialog | None:
    """Open Why? for a person's day (nothing when no person is chosen)."""
    if person_id is None:
        return None
    dialog = WhyDialog(engine, person_id, day, parent)
    dialog.open()
    return dialog
