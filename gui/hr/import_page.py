"""Import: sightings from another terminal's log (a CSV with person,time[,station], or a ZKTeco attlog), run off
the GUI thread through the same rules as live recognition; every problem listed by line, nothing imported on one."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.app.changes import Changes, Outcome
from core.app.engine import Engine
from core.app.import_ops import EventImportProgress, EventsImported, ImportPhase
from core.attendance.event_import import ImportRefused, LogFormat

from ..attendance.common import read_only_table
from ..files import open_file
from ..text import plural
from ..widgets import hbox, styled_label
from ..workers import Job
from .common import kiosk_only, message_line

FORMAT_CHOICES = [
    ("Tell from the file", None),
    ("CSV: person, time, station", LogFormat.CSV),
    ("ZKTeco attendance log (attlog)", LogFormat.ZKTECO),
]
FILE_FILTER = "Attendance logs (*.csv *.txt *.dat);;All files (*)"


class ImportPage(QWidget):
    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.job: Job | None = None
        self.result: EventsImported | None = None
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("a CSV or a ZKTeco log")
        self.path_edit.setToolTip("A CSV with a header (person,time[,station]) or a ZKTeco attlog")
        self.browse_button = QPushButton("Choose file…")
        self.format_box = QComboBox()
        for text, log_format in FORMAT_CHOICES:
            self.format_box.addItem(text, log_format)
        self.station_edit = QLineEdit()
        self.station_edit.setPlaceholderText("the file's name")
        self.station_edit.setToolTip("The station for lines that name none (default: the file's name)")
        self.import_button = QPushButton("Import")
        self.import_button.setProperty("primary", True)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.summary_label = styled_label("", "summary")
        self.problems = read_only_table(["Line", "Problem"], stretch=1)
        self.move_start_button = QPushButton("Move their start dates back and import again")
        self.move_start_button.setToolTip(
            "Each person with sightings before their start date then starts on the day of their first sighting "
            "(refused when that would change a locked month)"
        )
        self.move_start_button.setVisible(False)
        self.message_label = message_line()
        note = QLabel(
            "People are matched by employee ID (ZKTeco's user ID) or, in a CSV, by name. Importing the "
            "same file twice adds nothing. If any line has a problem, nothing is imported. Lines dated in a locked "
            "month are held for HR; lines before a person's start date are listed, not recorded."
        )
        note.setObjectName("muted")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        file_row = hbox(QLabel("File"), self.path_edit, self.browse_button)
        file_row.setStretchFactor(self.path_edit, 1)  # the fields take the room, not a gap before them
        layout.addLayout(file_row)
        format_row = hbox(QLabel("Format"), self.format_box, QLabel("Station"), self.station_edit, self.import_button)
        format_row.setStretchFactor(self.station_edit, 1)
        layout.addLayout(format_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.problems, 1)
        layout.insertWidget(0, self.message_label)  # at the top, where one looks
        layout.addLayout(hbox(self.move_start_button, None))
        self.browse_button.clicked.connect(lambda: self.browse())
        self.import_button.clicked.connect(lambda: self.start())
        self.move_start_button.clicked.connect(lambda: self.start(move_start=True))
        self.refresh()

    def refresh(self) -> None:
        kiosk_only(self.engine, self.import_button)

    def browse(self) -> None:
        path = open_file(self, "Import an attendance log", FILE_FILTER)
        if path:
            self.path_edit.setText(path)

    def busy(self) -> bool:
        return self.job is not None

    def start(self, path: str | None = None, move_start: bool = False) -> Job | None:
        path = path or self.path_edit.text().strip()
        if not path:
            self.message_label.refuse("Choose a file first.")
            return None
        self.path_edit.setText(path)
        self.problems.setRowCount(0)
        self.move_start_button.setVisible(False)
        self.summary_label.setText(f"Importing {Path(path).name}…")
        self.message_label.setText("")
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.import_button.setEnabled(False)
        job = Job(
            self.engine.import_events,
            Path(path),
            self.format_box.currentData(),
            self.station_edit.text(),
            move_start=move_start,
            name="events import",
        )
        job.yielded.connect(self._on_progress)
        job.returned.connect(self._on_done)
        job.errored.connect(self._on_error)
        job.finished.connect(lambda *_: self._on_finished())
        self.job = job
        job.start()
        return job

    def _on_progress(self, step: EventImportProgress) -> None:
        self.progress.setFormat("Reading %p%" if step.phase is ImportPhase.READING else "Recording %p%")
        self.progress.setMaximum(max(step.total, 1))
        self.progress.setValue(step.done)

    def _on_done(self, outcome: Outcome[EventsImported]) -> None:
        result = self.result = outcome.value
        self.summary_label.setText(
            f"{result.file.name} ({result.log_format.value}): {plural(result.sightings, 'sighting')} of "
            f"{plural(result.people, 'person')}; {result.recorded} recorded, {result.already_there} already there, "
            f"{result.within_cooldown} within the cooldown of another."
            + (f" {result.held} held for a locked month (see Held)." if result.held else "")
            + (f" {plural(len(result.starts_moved), 'start date')} moved back." if result.starts_moved else "")
        )
        if result.before_start:  # listed, never reported as recorded and then left out
            self.summary_label.setText(
                self.summary_label.text()
                + f" {plural(len(result.before_start), 'line')} before the person's start date were NOT recorded:"
                " they are listed below."
            )
            self._list(result.before_start)
            self.move_start_button.setVisible(self.engine.hr_edits_allowed)

    def _list(self, problems) -> None:
        self.problems.setRowCount(len(problems))
        for row, problem in enumerate(problems):
            self.problems.setItem(row, 0, QTableWidgetItem(str(problem.line)))
            self.problems.setItem(row, 1, QTableWidgetItem(problem.message))

    def _on_error(self, exc: BaseException) -> None:
        if isinstance(exc, ImportRefused):
            self.summary_label.setText(
                f"Nothing was imported: {plural(exc.total, 'problem')} "
                + (f"(the first {len(exc.problems)} listed)." if exc.total > len(exc.problems) else "listed below.")
            )
            self._list(exc.problems)
            return
        self.summary_label.setText(f"Nothing was imported: {exc}")

    def on_changes(self, _changes: Changes) -> None:
        self.refresh()

    def _on_finished(self) -> None:
        self.job = None
        self.progress.setVisible(False)
        self.refresh()
