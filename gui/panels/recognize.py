"""Recognize: the live view with face boxes, Start/Stop, and side lists of marked and unknown people.

A worker runs Engine.recognize (core's pipeline) and turns each result's frame into a QImage; the GUI
thread only paints what arrives and adds attendance events to the lists.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QImage
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.app.changes import ChangeKind, Changes
from core.app.engine import Engine
from core.base.errors import RollcallError
from core.base.records import AttendanceEvent
from core.live.recognize import FaceResult, FaceState, FrameResult
from core.live.uncertain import UncertainAnswer
from core.live.uncover import UncoverPrompt

from ..challenge_prompt import INSTRUCTIONS, ChallengePromptOverlay
from ..dialogs import show_error
from ..live import ImageMailbox, RateMeter, StageMeter
from ..text import match_strength, plural
from ..uncertain_prompt import UncertainPromptOverlay
from ..widgets import (
    Card,
    Overlay,
    SourcePicker,
    VideoView,
    hbox,
    icon,
    panel_header,
    pixmap_from_jpeg,
    qimage_from_bgr,
    rounded_pixmap,
    styled_label,
)
from ..workers import Job

log = logging.getLogger(__name__)

MAX_LIST_ITEMS = 200
KIND_LABELS = {"check_in": "Checked in", "check_out": "Checked out", "unknown": "Unknown"}
LATE_BACKGROUND = "#fef3c7"  # the day board's colour for late


@dataclass
class LiveFrame:
    """One processed frame for the GUI: the image (None when the GUI is behind) and what was found."""

    image: QImage | None
    result: FrameResult
    fps: float
    threshold: float = 0.0  # the active matcher's, on its own score scale (for "match strength")


def live_view(
    engine: Engine, spec: str, mailbox: ImageMailbox, on_status: Callable[[str], None], cancel_event: threading.Event
) -> Iterator[LiveFrame | str]:
    """Runs in the worker: status strings, then Engine.recognize's results with their frame as a QImage.

    The source's own messages (camera lost, reconnecting) go to `on_status` from its reading thread."""
    yield "Opening the source…"
    with engine.open_source(spec, cancel_event, on_status, realtime=True) as source:
        yield "Loading the face models…"
        engine.warm_up()
        meter = RateMeter()
        yield ""
        for result in engine.recognize(source, cancel=cancel_event.is_set, paced=True):
            image = qimage_from_bgr(result.frame.image) if mailbox.try_send() else None
            yield LiveFrame(image, result, meter.tick(), engine.matcher().threshold)


def face_overlay(face: FaceResult, threshold: float = 0.0) -> Overlay:
    box = tuple(float(v) for v in face.box)
    if face.state is FaceState.KNOWN:
        return Overlay(box, f"{face.name or '?'} · {match_strength(face.similarity, threshold)}", "known")
    if face.state is FaceState.UNKNOWN:
        return Overlay(box, "Unknown", "unknown")
    if face.state is FaceState.NOT_LIVE:  # recognised, but moves like a photo or failed the challenge: not marked
        return Overlay(box, f"{face.name or '?'}: not verified", "unknown")
    if face.state is FaceState.CHALLENGED and face.challenge:  # asked for a head movement
        return Overlay(box, f"{face.name or '?'}: {INSTRUCTIONS[face.challenge.move].lower()}", "pending")
    if face.state is FaceState.UNCOVER and face.uncover:  # asked to lower the mask or take off the glasses
        return Overlay(box, face.uncover.text, "pending")
    if face.state is FaceState.UNCERTAIN:  # asked "Are you NAME?"
        return Overlay(box, f"{face.name or '?'}?", "pending")
    if face.state is FaceState.TOO_SMALL:
        return Overlay(box, "", "too_small")
    return Overlay(box, "…", "pending")


class RecognizePanel(QWidget):
    running_changed = Signal(bool)
    camera_needed = Signal()  # emitted before starting, so a camera capture elsewhere can release the camera
    source_status = Signal(str)  # "Camera lost, reconnecting (try 2 of 5)…", for the status bar
    _source_message = Signal(str)  # emitted from the source's reading thread, delivered on the GUI thread

    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.worker: Job | None = None
        self._mailbox = ImageMailbox()
        self.stage_meter = StageMeter()
        self.threshold = 0.0
        self._asking_to_uncover = False  # the banner shows "Please lower your mask…"
        self._source_message.connect(lambda message: self._show_source_status([message]))

        self.source_picker = SourcePicker(engine.settings.camera)
        self.start_button = QPushButton(icon("play", light=True), "Start")
        self.start_button.setProperty("primary", True)
        self.stop_button = QPushButton(icon("stop"), "Stop")
        self.stop_button.setEnabled(False)
        self.sound_box = QCheckBox("Beep when someone is marked")
        self.sound_box.setChecked(engine.settings.attendance.sound_on_mark)
        self.note_label = styled_label(self.source_picker.note, "note")
        self.note_label.setVisible(self.source_picker.note_applies())
        self.source_picker.spec_changed.connect(
            lambda _spec: self.note_label.setVisible(self.source_picker.note_applies())
        )

        self.view = VideoView(placeholder="Choose a source and press Start")
        self.challenge_prompt = ChallengePromptOverlay(self.view)
        self.uncertain_prompt = UncertainPromptOverlay(self.view)
        self.uncertain_prompt.answered.connect(self.answer_uncertain)
        self.stats_label = QLabel("")
        self.stats_label.setObjectName("muted")

        self.marked_list = self._make_list()
        self.unknown_list = self._make_list()
        self.marked_count = QLabel("0")
        self.unknown_count = QLabel("0")
        for label in (self.marked_count, self.unknown_count):
            label.setObjectName("countBadge")

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.view, 1)
        left_layout.addWidget(self.stats_label)

        marked_card = Card()
        marked_card.body.addLayout(hbox(self._title("Marked present"), None, self.marked_count))
        marked_card.body.addWidget(self.marked_list)
        unknown_card = Card()
        unknown_card.body.addLayout(hbox(self._title("Unknown faces"), None, self.unknown_count))
        unknown_card.body.addWidget(self.unknown_list)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(marked_card, 3)
        right_layout.addWidget(unknown_card, 2)
        right.setMinimumWidth(300)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(12)
        layout.addWidget(panel_header("Recognize", "Watch a camera and mark who is present."))
        layout.addLayout(
            hbox(QLabel("Source"), self.source_picker, self.start_button, self.stop_button, None, self.sound_box)
        )
        layout.addWidget(self.note_label)
        layout.addWidget(splitter, 1)

        self.start_button.clicked.connect(lambda: self.start())
        self.stop_button.clicked.connect(lambda: self.stop())
        self.sound_box.toggled.connect(self._sound_toggled)
        self._show_marked_today()

    def _show_marked_today(self) -> None:
        """After a restart the list still shows who was marked today (newest on top, no beep)."""
        try:
            events = self.engine.events_on(self.engine.site_today())
        except RollcallError as exc:
            log.warning("Today's marked people could not be read: %s", exc)
            return
        names = {overview.person.id: overview.person.name for overview in self.engine.people()}
        for event in [e for e in events if e.person_id in names][-MAX_LIST_ITEMS:]:
            self._add_event(replace(event, person_name=names[event.person_id]), beep=False)

    @staticmethod
    def _title(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("cardTitle")
        return label

    @staticmethod
    def _make_list() -> QListWidget:
        widget = QListWidget()
        widget.setIconSize(QSize(48, 48))
        widget.setWordWrap(True)
        widget.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        widget.setSpacing(2)
        widget.setObjectName("eventList")
        return widget

    # ---- running ----

    def is_running(self) -> bool:
        return self.worker is not None

    def start(self, spec: str | None = None) -> None:
        if self.worker is not None:
            return
        spec = spec or self.source_picker.current_spec()
        if not spec:
            show_error(self, "No source chosen. Choose a camera, a video file, an image folder or a stream URL.")
            return
        self.engine.settings.camera.last_source = spec
        self._save_settings()
        self.camera_needed.emit()
        self._mailbox = ImageMailbox()
        self.stage_meter = StageMeter()
        self.worker = Job(live_view, self.engine, spec, self._mailbox, self._source_message.emit, name="recognize")
        self.worker.yielded.connect(self._on_progress)
        self.worker.failed.connect(self._on_failed)
        self.worker.returned.connect(self._on_source_ended)
        self.worker.finished.connect(self._on_finished)
        self.view.set_banner("Starting…")
        self._set_running(True)
        self.worker.start()

    def stop(self, wait: bool = False) -> None:
        """Ask the worker to stop; with wait, join it (used when the window closes)."""
        if self.worker is None:
            return
        self.stop_button.setEnabled(False)
        self.view.set_banner("Stopping…")
        if wait:
            self.worker.stop()
        else:
            self.worker.cancel()

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.source_picker.setEnabled(not running)
        self.running_changed.emit(running)

    def _on_progress(self, value: object) -> None:
        if isinstance(value, str):
            self.view.set_banner(value)
            return
        if not isinstance(value, LiveFrame):
            return
        if value.image is not None:
            self._mailbox.received()
            self.threshold = value.threshold
            self.view.set_frame(value.image, [face_overlay(f, value.threshold) for f in value.result.faces], value.fps)
        asked = next((f for f in value.result.faces if f.challenge), None)
        self.challenge_prompt.show_prompt(asked.challenge if asked else None, asked.name or "" if asked else "")
        self._show_uncover(next((f.uncover for f in value.result.faces if f.uncover is not None), None))
        doubt = next((f for f in value.result.faces if f.question is not None), None)
        if doubt is not None:
            self.uncertain_prompt.ask(doubt.question)
        self.stage_meter.add(value.result.timings)
        faces = plural(len(value.result.faces), "face")
        self.stats_label.setText(
            " · ".join(part for part in (f"{value.fps:.1f} frames/s", faces, self.stage_meter.text()) if part)
        )
        for event in value.result.events:
            self._add_event(event)

    def _show_uncover(self, asked: UncoverPrompt | None) -> None:
        """The banner asks a covered face, once, to uncover for a moment; it clears when the prompt ends."""
        if asked is not None:
            self.view.set_banner(asked.text, "warn")
            self._asking_to_uncover = True
        elif self._asking_to_uncover:
            self.view.set_banner("")
            self._asking_to_uncover = False

    def answer_uncertain(self, question, answer: UncertainAnswer) -> None:
        """Yes marks the person (and keeps the face as confirmed); No or no answer records a confusion."""
        try:
            if answer is UncertainAnswer.YES:
                event, _ = self.engine.confirm_uncertain(question).value
                if event is not None:
                    self._add_event(event)
            else:
                self.engine.refuse_uncertain(question, timed_out=answer is UncertainAnswer.TIMED_OUT)
        except RollcallError as exc:
            log.warning("Could not record the answer for %s: %s", question.name, exc)

    def _show_source_status(self, messages: list[str]) -> None:
        for message in messages:
            self.view.set_banner(message, "warn")
            self.source_status.emit(message)
        if messages and messages[-1].endswith("reconnected."):
            self.view.set_banner("")

    def _add_event(self, event: AttendanceEvent, beep: bool = True) -> None:
        known = event.person_id is not None
        target = self.marked_list if known else self.unknown_list
        when = event.time.strftime("%H:%M:%S")
        late_minutes = self._late_minutes(event) if known else 0
        if known:
            label = KIND_LABELS.get(event.kind, event.kind)
            if late_minutes:
                label = f"Late {late_minutes} min · {label.lower()}"
            text = f"{event.person_name}\n{label} {when} · {match_strength(event.similarity, self._threshold())}"
        else:
            text = f"Unknown visitor\nSeen {when}"
        item = QListWidgetItem(QIcon(rounded_pixmap(pixmap_from_jpeg(event.snapshot_jpeg), 48, 6)), text)
        item.setData(Qt.ItemDataRole.UserRole, event.person_id)
        item.setData(Qt.ItemDataRole.UserRole + 1, late_minutes)
        if late_minutes:
            item.setBackground(QBrush(QColor(LATE_BACKGROUND)))
            item.setToolTip(f"{plural(late_minutes, 'minute')} after the schedule's start")
        target.insertItem(0, item)
        while target.count() > MAX_LIST_ITEMS:
            target.takeItem(target.count() - 1)
        self.marked_count.setText(str(self.marked_list.count()))
        self.unknown_count.setText(str(self.unknown_list.count()))
        if known and beep and self.sound_box.isChecked():
            QApplication.beep()

    def _threshold(self) -> float:
        """The threshold the score is read against: the last frame's, else the active matcher's."""
        if self.threshold:
            return self.threshold
        try:
            return self.engine.matcher().threshold
        except RollcallError:
            return 0.0

    def _late_minutes(self, event: AttendanceEvent) -> int:
        """Minutes late if this event is the person's arrival after their group's grace limit, else 0."""
        try:
            arrival = self.engine.arrival(event)
        except RollcallError as exc:  # the list still shows the mark; only the late flag is missing
            log.warning("Could not tell whether %s is late: %s", event.person_name, exc)
            return 0
        return arrival.late_minutes if arrival is not None else 0

    def _on_failed(self, message: str) -> None:
        self.view.set_banner("Stopped: the source failed", "error")
        show_error(self, message)

    def _on_source_ended(self, _result: object) -> None:
        self.view.set_banner("The source has no more frames", "info")

    def _on_finished(self) -> None:
        self.challenge_prompt.show_prompt(None)
        self.uncertain_prompt.clear()
        worker, self.worker = self.worker, None
        if worker is not None and worker.is_cancelled:
            self.view.set_banner("Stopped")
        self._set_running(False)

    # ---- changes elsewhere ----

    def on_changes(self, changes: Changes) -> None:
        """People deleted or renamed: drop or rename them in the marked list."""
        if not changes.touches(ChangeKind.PEOPLE):
            return
        for person_id in changes.deleted_person_ids:
            self.remove_person(person_id)
        shown = {self.marked_list.item(row).data(Qt.ItemDataRole.UserRole) for row in range(self.marked_list.count())}
        for person_id in (changes.person_ids - changes.deleted_person_ids) & shown:
            try:
                self.rename_person(person_id, self.engine.person(person_id).name)
            except RollcallError:  # merged away meanwhile; the list keeps the old name
                log.info("Person %s is gone; not renamed in the marked list.", person_id)

    def remove_person(self, person_id: int) -> None:
        """A person was deleted: drop them from the marked list."""
        for row in reversed(range(self.marked_list.count())):
            if self.marked_list.item(row).data(Qt.ItemDataRole.UserRole) == person_id:
                self.marked_list.takeItem(row)
        self.marked_count.setText(str(self.marked_list.count()))

    def rename_person(self, person_id: int, name: str) -> None:
        for row in range(self.marked_list.count()):
            item = self.marked_list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == person_id:
                item.setText(name + "\n" + item.text().split("\n", 1)[-1])

    def _sound_toggled(self, on: bool) -> None:
        self.engine.settings.attendance.sound_on_mark = on
        self._save_settings()

    def _save_settings(self) -> None:
        try:
            self.engine.settings.save()
        except OSError as exc:
            log.warning("Could not save settings: %s", exc)
