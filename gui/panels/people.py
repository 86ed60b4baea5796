"""People: a searchable list with thumbnails; rename, add samples, delete, and see each person's samples."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (QInputDialog, QLabel, QLineEdit, QListWidget, QListWidgetItem, QPushButton,
                               QSplitter, QStackedWidget, QVBoxLayout, QWidget, QFileDialog)

from core.app.engine import Engine
from core.gallery.enroll import EnrollReport, Enroller, Refusal
from core.base.errors import DuplicateNameError, EnrollmentError, ImageError, RollcallError
from core.base.records import Person
from core.vision.images import photo_file_filter

from ..dialogs import confirm, show_error
from ..widgets import Card, ThumbnailStrip, hbox, icon, panel_header, pixmap_from_jpeg, rounded_pixmap
from ..workers import Worker

LIST_THUMB = 44
PHOTO_FILTER = photo_file_filter()


def add_photos(engine: Engine, person_id: int, paths: list[Path], cancel: Callable[[], bool]) -> EnrollReport:
    """Add photos to one person by id (works even when two people share a name)."""
    enroller = engine.enroller()
    person = engine.store.get_person(person_id)
    report = EnrollReport()
    candidates = []
    for path in paths:
        if cancel():
            return report
        try:
            candidates.append(enroller.candidate_from_file(path))
        except (EnrollmentError, ImageError) as exc:
            report.refused.append(Refusal(str(path), getattr(exc, "reason", "unreadable"), str(exc)))
    if candidates:
        report.merge(enroller.save(person.name, candidates, person_id=person_id))
    return report


class PeoplePanel(QWidget):
    gallery_changed = Signal()
    person_deleted = Signal(int)
    person_renamed = Signal(int, str)

    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.job: Worker | None = None
        self._thumbs: dict[int, QPixmap] = {}  # sample id -> pixmap

        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search by name or ID")
        self.search_edit.setClearButtonEnabled(True)
        self.people_list = QListWidget()
        self.people_list.setIconSize(QSize(LIST_THUMB, LIST_THUMB))
        self.people_list.setObjectName("peopleList")
        self.count_label = QLabel("")
        self.count_label.setObjectName("muted")

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.search_edit)
        left_layout.addWidget(self.people_list, 1)
        left_layout.addWidget(self.count_label)
        left.setMinimumWidth(260)

        self.avatar = QLabel()
        self.avatar.setFixedSize(96, 96)
        self.name_label = QLabel("")
        self.name_label.setObjectName("personName")
        self.info_label = QLabel("")
        self.info_label.setObjectName("muted")
        self.rename_button = QPushButton(icon("edit"), "Rename…")
        self.add_button = QPushButton(icon("image"), "Add photos…")
        self.delete_button = QPushButton(icon("trash"), "Delete…")
        self.delete_button.setProperty("danger", True)
        self.samples_view = ThumbnailStrip(size=96, wrap=True)
        self.remove_samples_button = QPushButton("Remove selected samples")
        self.status_label = QLabel("")
        self.status_label.setObjectName("muted")
        self.status_label.setWordWrap(True)

        names = QVBoxLayout()
        names.addWidget(self.name_label)
        names.addWidget(self.info_label)
        names.addStretch(1)
        details = Card()
        details.body.addLayout(hbox(self.avatar, names, None, spacing=16))
        details.body.addLayout(hbox(self.rename_button, self.add_button, self.delete_button, None))
        samples_title = QLabel("Samples")
        samples_title.setObjectName("cardTitle")
        details.body.addWidget(samples_title)
        details.body.addWidget(self.samples_view, 1)
        details.body.addLayout(hbox(self.status_label, None, self.remove_samples_button))

        empty = QLabel("Nobody is enrolled yet.\nUse the Enroll panel to add people.")
        empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty.setObjectName("muted")
        self.details_stack = QStackedWidget()
        self.details_stack.addWidget(empty)
        self.details_stack.addWidget(details)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.details_stack)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(12)
        layout.addWidget(panel_header("People", "Everyone in the gallery, with the face samples they are known by."))
        layout.addWidget(splitter, 1)

        self.search_edit.textChanged.connect(lambda: self.refresh())
        self.people_list.currentItemChanged.connect(lambda *_: self._show_current())
        self.rename_button.clicked.connect(lambda: self.rename_current())
        self.add_button.clicked.connect(lambda: self.add_photos_to_current())
        self.delete_button.clicked.connect(lambda: self.delete_current())
        self.remove_samples_button.clicked.connect(lambda: self.remove_selected_samples())
        self.samples_view.itemSelectionChanged.connect(self._update_buttons)
        self.refresh()

    # ---- list ----

    def _thumbnail(self, sample_id: int) -> QPixmap:
        if sample_id not in self._thumbs:
            try:
                self._thumbs[sample_id] = pixmap_from_jpeg(self.engine.store.sample_crop(sample_id))
            except RollcallError:
                self._thumbs[sample_id] = QPixmap()
        return self._thumbs[sample_id]

    def people(self) -> list[Person]:
        return self.engine.store.list_people(search=self.search_edit.text())

    def names(self) -> list[str]:
        return [self.people_list.item(i).data(Qt.ItemDataRole.UserRole + 1) for i in range(self.people_list.count())]

    def current_person_id(self) -> int | None:
        item = self.people_list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def refresh(self) -> None:
        selected = self.current_person_id()
        store = self.engine.store
        self.people_list.blockSignals(True)
        self.people_list.clear()
        people = self.people()
        for person in people:
            samples = store.list_samples(person.id)
            thumb = self._thumbnail(samples[0].id) if samples else QPixmap()
            detail = f"{len(samples)} sample{'s' if len(samples) != 1 else ''}"
            if person.external_id:
                detail = f"ID {person.external_id} · {detail}"
            item = QListWidgetItem(QIcon(rounded_pixmap(thumb, LIST_THUMB, LIST_THUMB / 2)), f"{person.name}\n{detail}")
            item.setData(Qt.ItemDataRole.UserRole, person.id)
            item.setData(Qt.ItemDataRole.UserRole + 1, person.name)
            item.setSizeHint(QSize(0, LIST_THUMB + 12))
            self.people_list.addItem(item)
            if person.id == selected:
                self.people_list.setCurrentItem(item)
        if self.people_list.currentItem() is None and self.people_list.count():
            self.people_list.setCurrentRow(0)
        self.people_list.blockSignals(False)
        total = store.stats()["people"]
        shown = len(people)
        self.count_label.setText(f"{total} people enrolled" if shown == total else f"{shown} of {total} people")
        self._show_current()

    def select_person(self, person_id: int) -> None:
        for i in range(self.people_list.count()):
            if self.people_list.item(i).data(Qt.ItemDataRole.UserRole) == person_id:
                self.people_list.setCurrentRow(i)
                return

    def _show_current(self) -> None:
        person_id = self.current_person_id()
        if person_id is None:
            self.details_stack.setCurrentIndex(0)
            self._update_buttons()
            return
        try:
            person = self.engine.store.get_person(person_id)
            samples = self.engine.store.list_samples(person_id)
        except RollcallError:  # deleted meanwhile
            self.details_stack.setCurrentIndex(0)
            return
        self.details_stack.setCurrentIndex(1)
        self.name_label.setText(person.name)
        facts = [f"ID {person.external_id}" if person.external_id else "No external ID",
                 f"enrolled {person.created_at.astimezone():%d %b %Y}", f"{len(samples)} samples"]
        self.info_label.setText(" · ".join(facts))
        first = self._thumbnail(samples[0].id) if samples else QPixmap()
        self.avatar.setPixmap(rounded_pixmap(first, 96, 48))
        self.samples_view.clear()
        for sample in samples:
            self.samples_view.add_pixmap(self._thumbnail(sample.id), sample.id,
                                         f"{Path(sample.source).name}\n{sample.face_px} px face, "
                                         f"sharpness {sample.sharpness:.0f}")
        self.samples_view.scrollToTop()
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_person = self.current_person_id() is not None
        for button in (self.rename_button, self.add_button, self.delete_button):
            button.setEnabled(has_person and self.job is None)
        self.remove_samples_button.setEnabled(has_person and bool(self.samples_view.selectedItems()))

    # ---- actions ----

    def _changed(self) -> None:
        self.engine.gallery_changed()
        self.refresh()
        self.gallery_changed.emit()

    def rename_current(self, new_name: str | None = None) -> None:
        person_id = self.current_person_id()
        if person_id is None:
            return
        old = self.engine.store.get_person(person_id).name
        if new_name is None:
            new_name, ok = QInputDialog.getText(self, "Rename", f"New name for {old}:", text=old)
            if not ok:
                return
        try:
            try:
                person = self.engine.store.rename_person(person_id, new_name)
            except DuplicateNameError as exc:
                if not confirm(self, "Name already enrolled", f"{exc}\n\nKeep both people with this name?"):
                    return
                person = self.engine.store.rename_person(person_id, new_name, allow_duplicate=True)
        except RollcallError as exc:
            show_error(self, str(exc))
            return
        self.person_renamed.emit(person.id, person.name)
        self._changed()

    def delete_current(self) -> None:
        person_id = self.current_person_id()
        if person_id is None:
            return
        store = self.engine.store
        person = store.get_person(person_id)
        samples = store.count_samples(person_id)
        if not confirm(self, "Delete person",
                       f"Delete {person.name}, their {samples} face samples and all their attendance records?\n\n"
                       "This cannot be undone.", "Delete"):
            return
        try:
            deleted = self.engine.delete_person(person_id)  # also erases them from the backups
        except RollcallError as exc:
            show_error(self, str(exc))
            return
        self.status_label.setText(f"Deleted {person.name}." if deleted.fully_erased
                                  else f"Deleted {person.name}, but not from every backup.")
        if not deleted.fully_erased:
            show_error(self, f"{person.name} is deleted from the database, but " + "; ".join(deleted.problems()))
        self.person_deleted.emit(person_id)
        self._changed()

    def remove_selected_samples(self) -> None:
        items = self.samples_view.selectedItems()
        if not items:
            return
        if not confirm(self, "Remove samples", f"Remove {len(items)} selected sample(s) from this person?"):
            return
        try:
            for item in items:
                self.engine.store.delete_sample(item.data(Qt.ItemDataRole.UserRole))
        except RollcallError as exc:
            show_error(self, str(exc))
        self._changed()

    def add_photos_to_current(self, paths: list[str] | None = None) -> None:
        person_id = self.current_person_id()
        if person_id is None or self.job is not None:
            return
        if paths is None:
            paths, _ = QFileDialog.getOpenFileNames(self, "Add photos", "", PHOTO_FILTER)
        if not paths:
            return
        self.job = Worker(add_photos, self.engine, person_id, [Path(p) for p in paths], name="add photos")
        self.job.returned.connect(self._on_photos_added)
        self.job.failed.connect(lambda message: show_error(self, message))
        self.job.finished.connect(self._on_job_finished)
        self.status_label.setText(f"Checking {len(paths)} photos…")
        self.job.start()
        self._update_buttons()

    def _on_photos_added(self, report: EnrollReport) -> None:
        text = f"Added {report.samples_added} samples."
        if report.skipped_duplicates:
            text += f" {report.skipped_duplicates} were already enrolled."
        if report.refused:
            text += " Refused: " + "; ".join(f"{Path(r.source).name} ({r.reason.replace('_', ' ')})"
                                             for r in report.refused)
        self.status_label.setText(" ".join([text, *report.warnings]))
        if report.samples_added:
            self._changed()

    def _on_job_finished(self) -> None:
        self.job = None
        self._update_buttons()

    def stop(self) -> None:
        if self.job is not None:
            self.job.stop()
