"""The correction dialog: a manual punch, or void or reassign one raw event; a reason is required.

Nothing is edited: each choice becomes a new correction record with who made it, when and why.
"""

from __future__ import annotations

from datetime import date, datetime, time

from PySide6.QtCore import QDate, QDateTime, QTime
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.app.engine import Engine
from core.base.errors import RollcallError

DEFAULT_START = time(9, 0)  # when the person has no group to give a shift start


def site_now(engine: Engine) -> datetime:
    """The site's wall clock now, to the minute (naive, as the time edit shows it)."""
    return engine.clock().astimezone(engine.site_zone()).replace(tzinfo=None, second=0, microsecond=0)


def default_punch_time(day: date, start: time, now: datetime) -> datetime:
    """The shift's start on that day, or now when that is still to come (a punch records what happened)."""
    return min(datetime.combine(day, start), now)


def qdatetime(moment: datetime) -> QDateTime:
    return QDateTime(QDate(moment.year, moment.month, moment.day), QTime(moment.hour, moment.minute))


class CorrectionDialog(QDialog):
    PUNCH, VOID, REASSIGN = "punch", "void", "reassign"

    def __init__(self, engine: Engine, day: date, person_id: int | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.day = day
        self.setWindowTitle("Correct attendance")
        self.setMinimumWidth(460)
        self.person_box = QComboBox()
        for overview in engine.people():
            self.person_box.addItem(overview.person.name, overview.person.id)
        if person_id is not None:
            self.person_box.setCurrentIndex(max(self.person_box.findData(person_id), 0))
        self.punch_radio = QRadioButton("Manual punch: they were here at")
        self.void_radio = QRadioButton("Void an event: it should not count")
        self.reassign_radio = QRadioButton("Reassign an event to")
        self.kind_group = QButtonGroup(self)
        for radio in (self.punch_radio, self.void_radio, self.reassign_radio):
            self.kind_group.addButton(radio)
        self.punch_radio.setChecked(True)
        self.time_edit = QDateTimeEdit(qdatetime(default_punch_time(day, self._start_of(person_id), site_now(engine))))
        self.time_edit.setDisplayFormat("d MMM yyyy HH:mm")
        self.time_edit.setMaximumDateTime(qdatetime(site_now(engine)))  # a punch records what happened
        self.event_box = QComboBox()
        self.target_box = QComboBox()
        for overview in engine.people():
            self.target_box.addItem(overview.person.name, overview.person.id)
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("Required: why is this correction made?")
        self.message_label = QLabel("")
        self.message_label.setObjectName("note")  # a refusal must be seen, not read in small grey text
        self.message_label.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)

        form = QFormLayout()
        form.addRow("Person", self.person_box)
        form.addRow(self.punch_radio, self.time_edit)
        form.addRow("Event", self.event_box)
        form.addRow(self.void_radio)
        form.addRow(self.reassign_radio, self.target_box)
        form.addRow("Reason", self.reason_edit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)

        self.person_box.currentIndexChanged.connect(lambda _: self._load_events())
        self.reason_edit.textChanged.connect(lambda _: self._update())
        self.kind_group.buttonToggled.connect(lambda *_: self._update())
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self._load_events()

    def _start_of(self, person_id: int | None) -> time:
        group = self.engine.person_group(person_id) if person_id is not None else None
        return group.schedule.start if group is not None else DEFAULT_START

    def _load_events(self) -> None:
        self.event_box.clear()
        person_id = self.person_box.currentData()
        zone = self.engine.site_zone()
        events = self.engine.events_on(self.day, person_id) + [
            e for e in self.engine.events_on(self.day) if e.person_id is None
        ]
        for event in sorted(events, key=lambda e: e.time):
            who = "unknown face" if event.person_id is None else event.kind.value.replace("_", " ")
            self.event_box.addItem(
                f"#{event.id}  {event.time.astimezone(zone):%H:%M:%S}  {who}  ({event.source})", event.id
            )
        self._update()

    def _say(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    def kind(self) -> str:
        if self.void_radio.isChecked():
            return self.VOID
        return self.REASSIGN if self.reassign_radio.isChecked() else self.PUNCH

    def _update(self) -> None:
        needs_event = self.kind() != self.PUNCH
        ready = bool(self.reason_edit.text().strip()) and (not needs_event or self.event_box.count() > 0)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(ready)
        if needs_event and self.event_box.count() == 0:
            self._say("There is no event on this day to correct.")
        elif not self.reason_edit.text().strip():
            self._say("A reason is required; it goes into the audit log.")
        else:
            self._say("")

    def save(self) -> None:
        reason = self.reason_edit.text()
        try:
            if self.kind() == self.PUNCH:
                moment = self.time_edit.dateTime()
                wall = datetime(
                    moment.date().year(),
                    moment.date().month(),
                    moment.date().day(),
                    moment.time().hour(),
                    moment.time().minute(),
                )
                self.engine.punch(self.person_box.currentData(), wall, reason)
            elif self.kind() == self.VOID:
                self.engine.void_event(self.event_box.currentData(), reason)
            else:
                self.engine.reassign_event(self.event_box.currentData(), self.target_box.currentData(), reason)
        except RollcallError as exc:
            self._say(str(exc))  # the dialog stays open: nothing typed is lost
            return
        self.accept()
