"""People: a searchable list with thumbnails; rename, add samples, delete, and see each person's samples."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.app.changes import ChangeKind, Changes, Outcome
from core.app.engine import Engine
from core.base.errors import DuplicateNameError, RollcallError
from core.base.records import ConfusionSource, GalleryStats, PersonOverview
from core.gallery.enroll import EnrollReport
from core.vision.images import photo_file_filter

from ..dialogs import confirm, show_error
from ..files import open_files
from ..hr.edit_dialogs import FormDialog, external_id_dialog, open_dialog, working_life_dialog
from ..text import match_strength, plural
from ..widgets import Card, ThumbnailStrip, hbox, icon, panel_header, pixmap_from_jpeg, rounded_pixmap, styled_label
from ..workers import Job, LatestRead, ListsInBackground

LIST_THUMB = 44
CONFUSION_THUMB = 40
CONFUSION_LIST_PX = 160
PHOTO_FILTER = photo_file_filter()
OVERVIEW_ROLE = Qt.ItemDataRole.UserRole + 2


@dataclass(frozen=True)
class PeopleListing:
    """What the People list shows, read off the GUI thread."""

    people: list[PersonOverview]
    stats: GalleryStats
    crops: dict[int, bytes]  # first-sample thumbnails not cached yet


def read_listing(engine: Engine, search: str, cached: frozenset[int]) -> PeopleListing:
    """Runs in a worker: the people (one query), the totals and the new thumbnails' JPEG bytes."""
    people = engine.people(search=search)
    crops = {}
    for overview in people:
        sample_id = overview.first_sample_id
        if sample_id is not None and sample_id not in cached:
            try:
                crops[sample_id] = engine.sample_crop(sample_id)
            except RollcallError:  # removed meanwhile; the next refresh shows it right
                continue
    return PeopleListing(people, engine.stats(), crops)


class PeoplePanel(ListsInBackground, QWidget):
    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.job: Job | None = None  # adding photos or deleting a person
        self.listing = LatestRead(self.refresh)
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
        self.external_id_button = QPushButton("Employee ID…")
        self.life_button = QPushButton("Joined and left…")
        self.life_button.setToolTip("Start and end dates; archive a leaver (their record and timesheets stay)")
        self.dialog: FormDialog | None = None
        self.group_box = QComboBox()  # the person's group, and so their schedule (audited when changed)
        self.group_box.setToolTip("The group sets the schedule: start, end, grace and working days")
        self.group_box.activated.connect(lambda _: self.assign_group(self.group_box.currentData()))
        self.samples_view = ThumbnailStrip(size=96, wrap=True)
        self.remove_samples_button = QPushButton("Remove selected samples")
        self.status_label = styled_label("")
        self.confusions_title = QLabel("Confusions")
        self.confusions_title.setObjectName("cardTitle")
        self.confusions_list = QListWidget()  # faces shown as this person wrongly, or theirs shown as another
        self.confusions_list.setIconSize(QSize(CONFUSION_THUMB, CONFUSION_THUMB))
        self.confusions_list.setMaximumHeight(CONFUSION_LIST_PX)
        self.confusions_list.setToolTip(
            "Recorded when an event is voided or reassigned, or when someone answers No at the kiosk"
        )

        names = QVBoxLayout()
        names.addWidget(self.name_label)
        names.addWidget(self.info_label)
        names.addStretch(1)
        details = Card()
        details.body.addLayout(hbox(self.avatar, names, None, spacing=16))
        details.body.addLayout(hbox(self.rename_button, self.add_button, self.delete_button, None))
        details.body.addLayout(hbox(self.external_id_button, self.life_button, None))
        details.body.addLayout(hbox(QLabel("Group"), self.group_box, None))  # its own row: fits 1024 x 700
        samples_title = QLabel("Samples")
        samples_title.setObjectName("cardTitle")
        details.body.addWidget(samples_title)
        details.body.addWidget(self.samples_view, 1)
        details.body.addLayout(hbox(self.status_label, None, self.remove_samples_button))
        details.body.addWidget(self.confusions_title)
        details.body.addWidget(self.confusions_list)

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
        self.external_id_button.clicked.connect(lambda: self.edit_external_id())
        self.life_button.clicked.connect(lambda: self.edit_working_life())
        self.add_button.clicked.connect(lambda: self.add_photos_to_current())
        self.delete_button.clicked.connect(lambda: self.delete_current())
        self.remove_samples_button.clicked.connect(lambda: self.remove_selected_samples())
        self.samples_view.itemSelectionChanged.connect(self._update_buttons)
        self.refresh()

    # ---- list ----

    def _thumbnail(self, sample_id: int) -> QPixmap:
        if sample_id not in self._thumbs:
            try:
                self._thumbs[sample_id] = pixmap_from_jpeg(self.engine.sample_crop(sample_id))
            except RollcallError:
                self._thumbs[sample_id] = QPixmap()
        return self._thumbs[sample_id]

    def names(self) -> list[str]:
        return [self.people_list.item(i).data(Qt.ItemDataRole.UserRole + 1) for i in range(self.people_list.count())]

    def current_person_id(self) -> int | None:
        item = self.people_list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def refresh(self) -> None:
        """Read the list again in a worker; it is shown when it arrives."""
        if self.listing.may_start():
            self.listing.start(
                Job(read_listing, self.engine, self.search_edit.text(), frozenset(self._thumbs), name="people list"),
                self._show_listing,
                self.count_label.setText,
            )

    def _show_listing(self, listing: PeopleListing) -> None:
        for sample_id, jpeg in listing.crops.items():
            self._thumbs[sample_id] = pixmap_from_jpeg(jpeg)
        selected = self.current_person_id()
        self.people_list.blockSignals(True)
        self.people_list.clear()
        for overview in listing.people:
            person = overview.person
            thumb = self._thumbs.get(overview.first_sample_id, QPixmap())
            detail = plural(overview.samples, "sample")
            if overview.derived:
                detail = f"{detail} + {overview.derived} derived"
            if person.external_id:
                detail = f"ID {person.external_id} · {detail}"
            item = QListWidgetItem(QIcon(rounded_pixmap(thumb, LIST_THUMB, LIST_THUMB / 2)), f"{person.name}\n{detail}")
            item.setData(Qt.ItemDataRole.UserRole, person.id)
            item.setData(Qt.ItemDataRole.UserRole + 1, person.name)
            item.setData(OVERVIEW_ROLE, overview)
            item.setSizeHint(QSize(0, LIST_THUMB + 12))
            self.people_list.addItem(item)
            if person.id == selected:
                self.people_list.setCurrentItem(item)
        if self.people_list.currentItem() is None and self.people_list.count():
            self.people_list.setCurrentRow(0)
        self.people_list.blockSignals(False)
        total, shown = listing.stats.people, len(listing.people)
        self.count_label.setText(
            f"{plural(total, 'person')} enrolled" if shown == total else f"{shown} of {plural(total, 'person')}"
        )
        self._show_current()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt name)
        """Groups made from the command line (another process) are listed as soon as the panel shows."""
        super().showEvent(event)
        if self.current_person_id() is not None:
            self._show_group(self.current_person_id())

    def on_changes(self, changes: Changes) -> None:
        if changes.touches(ChangeKind.PEOPLE, ChangeKind.SAMPLES):
            self.refresh()
        elif changes.touches(ChangeKind.CONFUSIONS) and self.current_person_id() is not None:
            self._show_confusions(self.current_person_id())
        elif changes.touches(ChangeKind.SCHEDULES) and self.current_person_id() is not None:
            self._show_group(self.current_person_id())  # a group added or assigned elsewhere

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
            person = self.engine.person(person_id)
            samples = self.engine.samples(person_id)
        except RollcallError:  # deleted meanwhile
            self.details_stack.setCurrentIndex(0)
            return
        self.details_stack.setCurrentIndex(1)
        self.name_label.setText(person.name)
        facts = [
            f"employee ID {person.external_id}" if person.external_id else "No employee ID",
            f"enrolled {person.created_at.astimezone():%d %b %Y}",
            plural(len(samples), "sample"),
        ]
        life = self.engine.working_life(person_id)
        if life.start_day is not None:
            facts.insert(1, f"joined {life.start_day:%d %b %Y}")
        if life.end_day is not None:
            facts.insert(2, f"left {life.end_day:%d %b %Y}")
        self.info_label.setText(" · ".join(facts))
        self._show_group(person_id)
        first = self._thumbnail(samples[0].id) if samples else QPixmap()
        self.avatar.setPixmap(rounded_pixmap(first, 96, 48))
        self.samples_view.clear()
        for sample in samples:
            self.samples_view.add_pixmap(
                self._thumbnail(sample.id),
                sample.id,
                f"{Path(sample.source).name}\n{sample.face_px} px face, sharpness {sample.sharpness:.0f}",
            )
        self.samples_view.scrollToTop()
        self._show_confusions(person_id)
        self._update_buttons()

    def _show_confusions(self, person_id: int) -> None:
        confusions = self.engine.confusions(person_id)
        self.confusions_title.setText(f"Confusions ({len(confusions)})")
        self.confusions_list.clear()
        try:
            threshold = self.engine.matcher().threshold
        except RollcallError:
            threshold = 0.0
        for confusion in reversed(confusions):  # newest first
            really = confusion.true_name or "a stranger"
            how = "corrected" if confusion.source is ConfusionSource.CORRECTION else "answered No at the kiosk"
            text = (
                f"Shown as {confusion.shown_name}, really {really} · {how} "
                f"{confusion.created_at.astimezone():%d %b %Y %H:%M} · "
                f"{match_strength(confusion.similarity, threshold)}"
            )
            crop = self.engine.confusion_crop(confusion.id) if confusion.has_crop else None
            item = QListWidgetItem(QIcon(rounded_pixmap(pixmap_from_jpeg(crop), CONFUSION_THUMB, 4)), text)
            item.setData(Qt.ItemDataRole.UserRole, confusion.id)
            self.confusions_list.addItem(item)
        self.confusions_list.setVisible(bool(confusions))

    def _show_group(self, person_id: int) -> None:
        group = self.engine.person_group(person_id)
        self.group_box.clear()
        self.group_box.addItem("No group", None)
        for each in self.engine.groups():
            self.group_box.addItem(each.name, each.id)
        self.group_box.setCurrentIndex(max(self.group_box.findData(group.id if group else None), 0))

    def assign_group(self, group_id: int | None) -> None:
        person_id = self.current_person_id()
        if person_id is None:
            return
        try:
            self.engine.assign_group(person_id, group_id)
        except RollcallError as exc:
            show_error(self, str(exc))
            self._show_group(person_id)

    def _update_buttons(self) -> None:
        has_person = self.current_person_id() is not None
        for button in (
            self.rename_button,
            self.add_button,
            self.delete_button,
            self.external_id_button,
            self.life_button,
        ):
            button.setEnabled(has_person and self.job is None)
        self.remove_samples_button.setEnabled(has_person and bool(self.samples_view.selectedItems()))

    # ---- actions ----

    def rename_current(self, new_name: str | None = None) -> None:
        person_id = self.current_person_id()
        if person_id is None:
            return
        old = self.people_list.currentItem().data(Qt.ItemDataRole.UserRole + 1)
        if new_name is None:
            new_name, ok = QInputDialog.getText(self, "Rename", f"New name for {old}:", text=old)
            if not ok:
                return
        try:
            try:
                self.engine.rename_person(person_id, new_name)
            except DuplicateNameError as exc:
                if not confirm(self, "Name already enrolled", f"{exc}\n\nKeep both people with this name?"):
                    return
                self.engine.rename_person(person_id, new_name, allow_duplicate=True)
        except RollcallError as exc:
            show_error(self, str(exc))

    def edit_external_id(self) -> FormDialog | None:
        person_id = self.current_person_id()
        if person_id is None:
            return None
        self.dialog = open_dialog(external_id_dialog(self.engine, person_id, self))
        return self.dialog

    def edit_working_life(self) -> FormDialog | None:
        person_id = self.current_person_id()
        if person_id is None:
            return None
        self.dialog = open_dialog(working_life_dialog(self.engine, person_id, self))
        return self.dialog

    def delete_current(self) -> None:
        """Ask, then erase the person in a worker (the database is vacuumed and the backups scrubbed)."""
        item = self.people_list.currentItem()
        if item is None or self.job is not None:
            return
        overview: PersonOverview = item.data(OVERVIEW_ROLE)
        person = overview.person
        if not confirm(
            self,
            "Delete person",
            f"Delete {person.name}, their {plural(overview.samples, 'face sample')} and all their "
            "attendance records? They are erased from the backups too, and Rollcall no longer "
            "recognises them.\n\nThis cannot be undone. For a leaver whose record and timesheets must stay, "
            "use “Joined and left…” › Archive instead.",
            "Delete",
        ):
            return
        self.job = Job(self.engine.delete_person, person.id, name="delete person")
        self.job.returned.connect(lambda outcome: self._on_deleted(person.name, outcome.value))
        self.job.failed.connect(lambda message: show_error(self, message))
        self.job.finished.connect(self._on_job_finished)
        self.status_label.setText(f"Deleting {person.name}…")
        self.job.start()
        self._update_buttons()

    def _on_deleted(self, name: str, deleted) -> None:
        """Say whether the erasure reached every backup (see PersonDeleted)."""
        self.status_label.setText(
            f"Deleted {name}." if deleted.fully_erased else f"Deleted {name}, but not from every backup."
        )
        if not deleted.fully_erased:
            show_error(self, f"{name} is deleted from the database, but " + "; ".join(deleted.problems()))

    def remove_selected_samples(self) -> None:
        items = self.samples_view.selectedItems()
        if not items:
            return
        name = self.people_list.currentItem().data(Qt.ItemDataRole.UserRole + 1)
        if not confirm(
            self,
            "Remove samples",
            f"Remove {plural(len(items), 'selected sample')} of {name}? "
            "Recognition stops using them; adding the photos again brings them back.",
        ):
            return
        try:
            self.engine.remove_samples([item.data(Qt.ItemDataRole.UserRole) for item in items])
        except RollcallError as exc:
            show_error(self, str(exc))

    def add_photos_to_current(self, paths: list[str] | None = None) -> None:
        person_id = self.current_person_id()
        if person_id is None or self.job is not None:
            return
        if paths is None:
            paths = open_files(self, "Add photos", PHOTO_FILTER)
        if not paths:
            return
        self.job = Job(self.engine.add_photos, person_id, [Path(p) for p in paths], name="add photos")
        self.job.returned.connect(self._on_photos_added)
        self.job.failed.connect(lambda message: show_error(self, message))
        self.job.finished.connect(self._on_job_finished)
        self.status_label.setText(f"Checking {plural(len(paths), 'photo')}…")
        self.job.start()
        self._update_buttons()

    def _on_photos_added(self, outcome: Outcome[EnrollReport]) -> None:
        report = outcome.value
        text = f"Added {plural(report.samples_added, 'sample')}."
        if report.skipped_duplicates:
            text += f" {report.skipped_duplicates} were already enrolled."
        if report.refused:
            text += " Refused: " + "; ".join(
                f"{Path(r.source).name} ({r.reason.replace('_', ' ')})" for r in report.refused
            )
        self.status_label.setText(" ".join([text, *report.warnings]))
