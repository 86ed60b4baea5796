"""Enroll: capture samples from the camera with live quality guidance, or import photos and folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.app.changes import ChangeKind, Changes, Outcome
from core.app.engine import Engine
from core.base.errors import DuplicateNameError, RollcallError
from core.gallery.enroll import EnrollReport, FaceCandidate, ImportProgress
from core.vision.images import photo_file_filter

from ..dialogs import ADD_TO_EXISTING, KEEP_SEPARATE, ask_duplicate_name, show_error
from ..files import open_files, open_folder
from ..live import ImageMailbox
from ..text import plural
from ..widgets import Card, SourcePicker, ThumbnailStrip, VideoView, hbox, icon, panel_header
from ..workers import Job, user_message
from .enroll_capture import CaptureStep, capture_view

PHOTO_FILTER = photo_file_filter()
CAPTURE_VIEW_MIN_PX = 180  # with the rest of the panel, fits 1024 x 700 without scrolling


class EnrollPanel(QWidget):
    camera_needed = Signal()  # emitted before capture starts, so the live view can release the camera

    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.capture_worker: Job | None = None
        self.job: Job | None = None
        self.samples: list[FaceCandidate] = []
        self.last_report: EnrollReport | None = None
        self._mailbox = ImageMailbox()
        self._refusals_shown = 0
        self._pending_retry: tuple[str, int | None, Callable[[str, int | None], None]] | None = None

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Full name, e.g. Ada Lovelace")
        self.external_id_edit = QLineEdit()
        self.external_id_edit.setPlaceholderText("Optional: staff or student number")
        self.group_box = QComboBox()
        self.group_box.setToolTip("The person's group (their shift and schedule); set when they are saved.")
        self.fill_groups()
        person_card = Card("Person")
        person_card.body.addLayout(
            hbox(
                QLabel("Name"),
                self.name_edit,
                QLabel("Employee ID"),
                self.external_id_edit,
                QLabel("Group"),
                self.group_box,
                spacing=10,
            )
        )
        self.external_id_edit.setMaximumWidth(280)
        self._group_for_job: int | None = None

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_capture_tab(), icon("camera"), "Capture from camera")
        self.tabs.addTab(self._build_import_tab(), icon("folder"), "Import photos")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(12)
        layout.addWidget(panel_header("Enroll", "Add people to the gallery from the camera or from photos."))
        layout.addWidget(person_card)
        layout.addWidget(self.tabs, 1)

        self.name_edit.textChanged.connect(self._update_buttons)
        self._update_buttons()

    # ---- layout ----

    def _build_capture_tab(self) -> QWidget:
        self.capture_source = SourcePicker(self.engine.settings.camera)
        self.sample_count = QSpinBox()
        self.sample_count.setRange(1, 30)
        self.sample_count.setValue(self.engine.settings.enrollment.capture_samples)
        self.capture_button = QPushButton(icon("play", light=True), "Start capture")
        self.capture_button.setProperty("primary", True)
        self.capture_stop_button = QPushButton(icon("stop"), "Stop")
        self.capture_view = VideoView(placeholder="Press Start capture, then look at the camera")
        self.capture_view.setMinimumHeight(CAPTURE_VIEW_MIN_PX)
        self.sample_strip = ThumbnailStrip(size=72)
        self.clear_samples_button = QPushButton("Clear samples")
        self.remove_sample_button = QPushButton(icon("trash"), "Remove selected")
        self.remove_sample_button.setToolTip("Drop the selected samples (blurred, eyes closed, someone else).")
        self.undo_remove_button = QPushButton("Undo")
        self.undo_remove_button.setToolTip("Bring back the samples just removed.")
        self.undo_remove_button.setVisible(False)
        self._before_remove: list[FaceCandidate] | None = None
        self.save_button = QPushButton(icon("save", light=True), "Save person")
        self.save_button.setProperty("primary", True)
        self.capture_status = QLabel("")
        self.capture_status.setObjectName("muted")

        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addLayout(
            hbox(
                QLabel("Source"),
                self.capture_source,
                QLabel("Samples"),
                self.sample_count,
                self.capture_button,
                self.capture_stop_button,
                None,
            )
        )
        layout.addWidget(self.capture_view, 1)
        samples_label = QLabel("Accepted samples")
        samples_label.setObjectName("cardTitle")
        layout.addWidget(samples_label)
        layout.addWidget(self.sample_strip)
        self.capture_status.setWordWrap(True)
        layout.addLayout(
            hbox(
                self.capture_status,
                None,
                self.undo_remove_button,
                self.remove_sample_button,
                self.clear_samples_button,
                self.save_button,
            )
        )
        self.remove_sample_button.clicked.connect(lambda: self.remove_selected_samples())
        self.undo_remove_button.clicked.connect(lambda: self.undo_remove())
        self.sample_strip.itemSelectionChanged.connect(self._update_buttons)

        self.capture_button.clicked.connect(lambda: self.start_capture())
        self.capture_stop_button.clicked.connect(lambda: self.stop_capture())
        self.clear_samples_button.clicked.connect(self.clear_samples)
        self.save_button.clicked.connect(lambda: self.save_captured())
        return tab

    def _build_import_tab(self) -> QWidget:
        self.add_photos_button = QPushButton(icon("image", light=True), "Add photos of this person…")
        self.add_photos_button.setProperty("primary", True)
        self.import_folder_button = QPushButton(icon("folder"), "Import a folder of people…")
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setValue(0)
        self.current_label = QLabel(
            "Photos of one person: type the name above, then add photos. "
            "A folder of people: one sub-folder per person, named after them."
        )
        self.current_label.setObjectName("muted")
        self.current_label.setWordWrap(True)
        self.summary_label = QLabel("")
        self.summary_label.setWordWrap(True)
        self.summary_label.setObjectName("summary")
        self.refused_list = QTreeWidget()
        self.refused_list.setHeaderLabels(["Refused image", "Reason"])
        self.refused_list.setRootIsDecorated(False)
        self.refused_list.setAlternatingRowColors(True)
        self.refused_list.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.refused_list.header().setStretchLastSection(True)

        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addLayout(hbox(self.add_photos_button, self.import_folder_button, None, self.cancel_button))
        layout.addWidget(self.current_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.refused_list, 1)

        self.add_photos_button.clicked.connect(lambda: self.import_photos())
        self.import_folder_button.clicked.connect(lambda: self.import_folder())
        self.cancel_button.clicked.connect(self.cancel_job)
        return tab

    def _update_buttons(self) -> None:
        capturing = self.capture_worker is not None
        busy = self.job is not None
        has_name = bool(self.name_edit.text().strip())
        self.capture_button.setEnabled(not capturing and not busy)
        self.capture_stop_button.setEnabled(capturing)
        self.capture_source.setEnabled(not capturing)
        self.save_button.setEnabled(bool(self.samples) and has_name and not busy and not capturing)
        self.save_button.setText(f"Save {plural(len(self.samples), 'sample')}" if self.samples else "Save person")
        self.clear_samples_button.setEnabled(bool(self.samples) and not capturing)
        self.remove_sample_button.setEnabled(bool(self.sample_strip.selectedItems()) and not busy)
        self.add_photos_button.setEnabled(not busy)
        self.import_folder_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def busy(self) -> bool:
        return self.job is not None or self.capture_worker is not None

    # ---- capture ----

    def start_capture(self) -> None:
        if self.capture_worker is not None:
            return
        spec = self.capture_source.current_spec()
        if not spec:
            show_error(self, "No camera chosen. Choose a camera, a video file or a stream URL.")
            return
        self.camera_needed.emit()
        self._mailbox = ImageMailbox()
        wanted = self.sample_count.value() - len(self.samples)
        if wanted <= 0:
            self.capture_status.setText("Enough samples taken. Save them, or clear them to start again.")
            return
        self.capture_worker = Job(capture_view, self.engine, spec, wanted, self._mailbox, name="capture")
        self.capture_worker.yielded.connect(self._on_capture_step)
        self.capture_worker.failed.connect(self._on_capture_failed)
        self.capture_worker.returned.connect(self._on_capture_done)
        self.capture_worker.finished.connect(self._on_capture_finished)
        self.capture_view.set_banner("Starting…")
        self.capture_worker.start()
        self._update_buttons()

    def stop_capture(self, wait: bool = False) -> None:
        if self.capture_worker is None:
            return
        if wait:
            self.capture_worker.stop()
        else:
            self.capture_worker.cancel()

    def _on_capture_step(self, step: object) -> None:
        if isinstance(step, str):
            self.capture_view.set_banner(step)
            return
        if not isinstance(step, CaptureStep):
            return
        if step.image is not None:
            self._mailbox.received()
            self.capture_view.set_frame(step.image, step.overlays)
        self.capture_view.set_banner(step.guidance, "good" if step.good else "warn")
        if step.sample is not None:
            self.samples.append(step.sample)
            self._show_sample(step.sample)
            self._forget_undo()
            self._update_buttons()

    def _on_capture_done(self, _result: object) -> None:
        self.capture_view.set_banner(f"{plural(len(self.samples), 'sample')} taken", "good")
        self.capture_status.setText("Check the name, then press Save.")

    def _on_capture_failed(self, message: str) -> None:
        self.capture_view.set_banner("The camera failed", "error")
        show_error(self, message)

    def _on_capture_finished(self) -> None:
        self.capture_worker = None
        self._update_buttons()

    def remove_selected_samples(self) -> None:
        """Drop the selected captured samples before saving (a blurred or wrong face)."""
        chosen = {item.data(Qt.ItemDataRole.UserRole) for item in self.sample_strip.selectedItems()}
        if not chosen:
            return
        self._before_remove = list(self.samples)
        self.samples = [sample for sample in self.samples if id(sample) not in chosen]
        for row in reversed(range(self.sample_strip.count())):
            if self.sample_strip.item(row).data(Qt.ItemDataRole.UserRole) in chosen:
                self.sample_strip.takeItem(row)
        self.capture_status.setText(f"Removed {plural(len(chosen), 'sample')}; {len(self.samples)} left.")
        self.undo_remove_button.setVisible(True)
        self._update_buttons()

    def undo_remove(self) -> None:
        """The samples as they were before the last removal."""
        if self._before_remove is None:
            return
        self.samples = self._before_remove
        self.sample_strip.clear()
        for sample in self.samples:
            self._show_sample(sample)
        self.capture_status.setText(f"{plural(len(self.samples), 'sample')} again.")
        self._forget_undo()
        self._update_buttons()

    def _forget_undo(self) -> None:
        self._before_remove = None
        self.undo_remove_button.setVisible(False)

    def _show_sample(self, sample: FaceCandidate) -> None:
        tip = f"Sharpness {sample.sharpness:.0f}, {sample.face.size_px} px"
        self.sample_strip.add_rgb(sample.crop, data=id(sample), tooltip=tip)

    def fill_groups(self) -> None:
        """The groups to choose from (kept current as groups are made or renamed)."""
        chosen = self.group_box.currentData()
        self.group_box.clear()
        self.group_box.addItem("No group", None)
        try:
            groups = self.engine.groups()
        except RollcallError:
            groups = []
        for group in groups:
            self.group_box.addItem(group.name, group.id)
        self.group_box.setCurrentIndex(max(self.group_box.findData(chosen), 0))

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self.fill_groups()  # groups made from the command line meanwhile

    def on_changes(self, changes: Changes) -> None:
        if changes.touches(ChangeKind.SCHEDULES):
            self.fill_groups()

    def clear_samples(self) -> None:
        self._forget_undo()
        self.samples.clear()
        self.sample_strip.clear()
        self.capture_status.setText("")
        self._update_buttons()

    def save_captured(self, person_id: int | None = None, allow_duplicate: bool = False) -> None:
        name = self.name_edit.text().strip()
        if not name:
            show_error(self, "Type the person's name first.")
            return
        if not self.samples:
            return

        def again(choice: str, existing_id: int | None) -> None:
            if choice == ADD_TO_EXISTING:
                self.save_captured(person_id=existing_id)
            else:
                self.save_captured(allow_duplicate=True)

        self._start_job(
            Job(
                self.engine.enroll_candidates,
                name,
                list(self.samples),
                self._external_id(),
                person_id,
                allow_duplicate,
                name="save samples",
            ),
            f"Saving {plural(len(self.samples), 'sample')} of {name}…",
            again,
            clear_samples=True,
        )

    # ---- import ----

    def _external_id(self) -> str | None:
        return self.external_id_edit.text().strip() or None

    def import_photos(
        self, paths: list[str] | None = None, add_to_existing: bool = False, allow_duplicate: bool = False
    ) -> None:
        name = self.name_edit.text().strip()
        if not name:
            show_error(self, "Type the person's name first, then add their photos.")
            return
        if paths is None:
            paths = open_files(self, f"Photos of {name}", PHOTO_FILTER)
        if not paths:
            return

        def again(choice: str, _existing_id: int | None) -> None:
            self.import_photos(
                paths, add_to_existing=choice == ADD_TO_EXISTING, allow_duplicate=choice == KEEP_SEPARATE
            )

        self._start_job(
            Job(
                self.engine.enroll_files,
                name,
                [Path(p) for p in paths],
                self._external_id(),
                add_to_existing,
                allow_duplicate,
                name="enroll photos",
            ),
            f"Checking {plural(len(paths), 'photo')} of {name}…",
            again,
        )

    def import_folder(self, root: str | None = None) -> None:
        if root is None:
            root = open_folder(self, "Folder with one sub-folder per person")
        if not root:
            return
        self._start_job(Job(self.engine.import_folder, Path(root), name="import folder"), f"Importing {root}…", None)

    def cancel_job(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.current_label.setText("Cancelling…")

    def stop(self) -> None:
        """Stop capture and any import, joining their threads (the window is closing)."""
        self.stop_capture(wait=True)
        if self.job is not None:
            self.job.stop()

    # ---- jobs ----

    def _start_job(
        self,
        worker: Job,
        text: str,
        on_duplicate: Callable[[str, int | None], None] | None,
        clear_samples: bool = False,
    ) -> None:
        if self.job is not None:
            return
        self.job = worker
        self._group_for_job = self.group_box.currentData() if on_duplicate is not None else None  # one person
        self.last_report = None
        self._refusals_shown = 0
        self.refused_list.clear()
        self.summary_label.setText("")
        self.current_label.setText(text)
        self.progress.setRange(0, 0)  # busy until the first progress report
        worker.yielded.connect(self._on_import_progress)
        worker.returned.connect(lambda report: self._on_job_done(report, clear_samples))
        worker.errored.connect(lambda exc: self._on_job_error(exc, on_duplicate))
        worker.aborted.connect(lambda: self.current_label.setText("Cancelled."))
        worker.finished.connect(self._on_job_finished)
        worker.start()
        self._update_buttons()

    def _on_import_progress(self, step: object) -> None:
        if not isinstance(step, ImportProgress):
            return
        self.progress.setRange(0, max(step.total, 1))
        self.progress.setValue(step.done)
        self.progress.setFormat(f"{step.done} of {step.total} photos")
        if step.current:
            self.current_label.setText(Path(step.current).name)
        self.last_report = step.report
        self._show_refusals(step.report)

    def _show_refusals(self, report: EnrollReport) -> None:
        refused = list(report.refused)
        for refusal in refused[self._refusals_shown :]:
            message = refusal.message
            prefix = f"{refusal.source}: "
            if message.startswith(prefix):
                message = message[len(prefix) :]
            item = QTreeWidgetItem([Path(refusal.source).name, message])
            item.setToolTip(0, refusal.source)
            item.setToolTip(1, message)
            item.setData(0, Qt.ItemDataRole.UserRole, refusal.reason)
            self.refused_list.addTopLevelItem(item)
        self._refusals_shown = len(refused)

    def _on_job_done(self, report: object, clear_samples: bool) -> None:
        if isinstance(report, Outcome):
            report = report.value
        if isinstance(report, EnrollReport):
            self.last_report = report
        report = self.last_report
        if report is None:
            return
        self._show_refusals(report)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat("Done")
        parts = []
        if report.people_added:
            parts.append(f"Added {plural(len(report.people_added), 'person')}: {', '.join(report.people_added)}.")
        parts.append(
            f"{plural(report.samples_added, 'sample')} saved, {len(report.refused)} refused, "
            f"{report.skipped_duplicates} already enrolled."
        )
        parts += report.warnings
        parts += self._assign_group(report)
        if clear_samples and report.samples_added:
            self.clear_samples()
            self.name_edit.clear()
            self.external_id_edit.clear()
        if clear_samples:  # saved from the capture tab: said there, not on the import tab
            self.capture_status.setText(" ".join(parts))
        else:
            self.summary_label.setText("\n".join(parts))
            self.current_label.setText("Finished.")

    def _assign_group(self, report: EnrollReport) -> list[str]:
        """Put the person just saved into the chosen group; what went wrong, if anything, in words."""
        group_id, self._group_for_job = self._group_for_job, None
        if group_id is None or len(report.person_ids) != 1:
            return []
        ((name, person_id),) = report.person_ids.items()
        try:
            self.engine.assign_group(person_id, group_id)
        except RollcallError as exc:
            return [f"{name} was saved but not put in the group: {exc}"]
        return [f"{name} is in the group {self.group_box.currentText()}."]

    def _on_job_error(self, exc: object, on_duplicate: Callable[[str, int | None], None] | None) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        if isinstance(exc, DuplicateNameError) and on_duplicate is not None:
            self._pending_retry = (str(exc), exc.existing_id, on_duplicate)
            return  # asked once the worker has finished
        self.current_label.setText("Failed.")
        show_error(self, user_message(exc))  # type: ignore[arg-type]
        if self.last_report is not None:
            self._on_job_done(self.last_report, False)

    def _on_job_finished(self) -> None:
        self.job = None
        self._update_buttons()
        retry, self._pending_retry = self._pending_retry, None
        if retry is not None:
            message, existing_id, on_duplicate = retry
            self.current_label.setText("The name is already enrolled.")
            choice = ask_duplicate_name(self, message)
            if choice is not None:
                on_duplicate(choice, existing_id)
