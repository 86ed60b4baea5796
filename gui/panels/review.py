"""Review: unknown visitors grouped by face, with their best snapshot, how often and when they were seen;
enroll a group as a new person, add it to someone enrolled, or dismiss it (all through the engine)."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDate, QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core.app.changes import ChangeKind, Changes, Outcome
from core.app.engine import Engine
from core.app.review_undo_ops import DismissedVisitor, UnknownAssignment
from core.base.errors import RollcallError
from core.gallery.enroll import EnrollReport
from core.gallery.unknowns import UnknownGroup

from ..dialogs import confirm, show_error
from ..message_bar import MessageBar, Tone
from ..text import places, plural
from ..widgets import Card, ThumbnailStrip, hbox, icon, panel_header, pixmap_from_jpeg, rounded_pixmap, styled_label
from ..workers import Job, LatestRead, ListsInBackground
from .review_dismissed import DismissedDialog, dismissed_kept_text

GROUP_THUMB = 72
GROUP_LIST_WIDE_PX = 320  # what the list starts with where there is room
GROUP_LIST_MIN_PX = 240  # with the details beside it, fits 1024 x 700 without scrolling sideways
FACE_THUMB = 96
GROUP_ROLE = Qt.ItemDataRole.UserRole
REFRESH_ON = (
    ChangeKind.UNKNOWNS,
    ChangeKind.EVENTS,
    ChangeKind.PEOPLE,
    ChangeKind.SAMPLES,
    ChangeKind.MODELS,
    ChangeKind.SETTINGS,
)


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def describe(group: UnknownGroup) -> str:
    seen = plural(group.count, "sighting")
    same_day = group.first_seen.date() == group.last_seen.date()
    span = f"{group.first_seen:%d %b %H:%M}" + (
        f"–{group.last_seen:%H:%M}" if same_day else f" – {group.last_seen:%d %b %H:%M}"
    )
    return f"{seen}\n{span}\n{places(group.sources)}"


class EnrollGroupDialog(QDialog):
    """The new person's name and, optionally, their schedule group."""

    def __init__(self, groups: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Enroll as new person")
        self.name_edit = QLineEdit()
        self.group_box = QComboBox()
        self.group_box.addItem("No group", None)
        for name in groups:
            self.group_box.addItem(name, name)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Name", self.name_edit)
        form.addRow("Group", self.group_box)
        form.addRow(buttons)


class ReviewPanel(ListsInBackground, QWidget):
    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.groups: list[UnknownGroup] = []
        self.job: Job | None = None  # enrolling, adding or dismissing
        self.last_dismissed: int | None = None
        self.listing = LatestRead(self.refresh)

        first, last = engine.unknown_range()
        self.start_edit = QDateEdit(_qdate(first))
        self.end_edit = QDateEdit(_qdate(last))
        for edit in (self.start_edit, self.end_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("d MMM yyyy")
        self.refresh_button = QPushButton(icon("refresh"), "Refresh")
        self.count_label = QLabel("")
        self.count_label.setObjectName("muted")
        self.group_list = QListWidget()
        self.group_list.setIconSize(QSize(GROUP_THUMB, GROUP_THUMB))
        self.group_list.setMinimumWidth(GROUP_LIST_MIN_PX)
        self.group_list.setWordWrap(True)  # a long list of doors wraps between words, never "north do…"

        self.title_label = QLabel("")
        self.title_label.setObjectName("personName")
        self.info_label = styled_label("")
        self.faces_view = ThumbnailStrip(size=FACE_THUMB, wrap=True)
        self.enroll_button = QPushButton(icon("enroll", light=True), "Enroll as new person…")
        self.enroll_button.setProperty("primary", True)
        self.assign_button = QPushButton(icon("people"), "Add to person…")
        self.dismiss_button = QPushButton(icon("trash"), "Dismiss")
        self.dismissed_button = QPushButton("Dismissed visitors…")
        self.dismissed_button.setToolTip("Visitors dismissed earlier, kept until retention deletes them; restore one")
        self.message_bar = MessageBar()

        details = Card()
        details.body.addWidget(self.title_label)
        details.body.addWidget(self.info_label)
        faces_title = QLabel("Faces, best first")
        faces_title.setObjectName("cardTitle")
        details.body.addWidget(faces_title)
        details.body.addWidget(self.faces_view, 1)
        details.body.addLayout(hbox(self.enroll_button, self.assign_button, self.dismiss_button, None))

        splitter = QSplitter(Qt.Orientation.Horizontal)
        listing = QWidget()  # the groups, and below them the way to the dismissed ones
        listing_layout = QVBoxLayout(listing)
        listing_layout.setContentsMargins(0, 0, 0, 0)
        listing_layout.addWidget(self.group_list, 1)
        listing_layout.addWidget(self.dismissed_button)
        splitter.addWidget(listing)
        splitter.addWidget(details)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([GROUP_LIST_WIDE_PX, GROUP_LIST_WIDE_PX * 2])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(12)
        layout.addWidget(
            panel_header(
                "Review",
                "Unknown visitors, grouped by face: one stranger seen at several "
                "times or doors is one group. Enroll them, add them to someone "
                "enrolled, or dismiss them.",
            )
        )
        layout.addWidget(self.message_bar)
        layout.addLayout(
            hbox(
                QLabel("From"),
                self.start_edit,
                QLabel("to"),
                self.end_edit,
                self.refresh_button,
                None,
                self.count_label,
            )
        )
        layout.addWidget(splitter, 1)

        self.refresh_button.clicked.connect(lambda: self.refresh())
        self.start_edit.dateChanged.connect(lambda _: self.refresh())
        self.end_edit.dateChanged.connect(lambda _: self.refresh())
        self.group_list.currentItemChanged.connect(lambda *_: self._show_current())
        self.enroll_button.clicked.connect(lambda: self.enroll_current())
        self.assign_button.clicked.connect(lambda: self.assign_current())
        self.dismiss_button.clicked.connect(lambda: self.dismiss_current())
        self.dismissed_button.clicked.connect(lambda: self.open_dismissed())
        self._update_buttons()
        self.refresh()

    # ---- the list ----

    def span(self) -> tuple[date, date]:
        return _pydate(self.start_edit.date()), _pydate(self.end_edit.date())

    def refresh(self) -> None:
        """Group the span's unknown faces again in a worker; shown when ready."""
        if self.listing.may_start():
            first, last = self.span()
            self.listing.start(
                Job(self.engine.unknown_groups, first, last, name="unknown groups"),
                self._show_groups,
                self.count_label.setText,
            )

    def _show_groups(self, groups: list[UnknownGroup]) -> None:
        selected = self.current_group()
        self.groups = groups
        self.group_list.blockSignals(True)
        self.group_list.clear()
        for group in groups:
            thumb = rounded_pixmap(pixmap_from_jpeg(group.snapshot_jpeg), GROUP_THUMB, 10)
            item = QListWidgetItem(QIcon(thumb), describe(group))
            item.setData(GROUP_ROLE, group)
            item.setSizeHint(QSize(0, GROUP_THUMB + 12))
            self.group_list.addItem(item)
            if selected is not None and group.id == selected.id:
                self.group_list.setCurrentItem(item)
        if self.group_list.currentItem() is None and groups:
            self.group_list.setCurrentRow(0)
        self.group_list.blockSignals(False)
        faces = sum(g.count for g in groups)
        self.count_label.setText(
            f"{plural(len(groups), 'group')}, {plural(faces, 'unknown face')}"
            if groups
            else "No unknown visitors to review"
        )
        self._show_current()

    def on_changes(self, changes: Changes) -> None:
        """Regroup when shown; while hidden, only remember to (grouping costs the square of the faces)."""
        if changes.touches(*REFRESH_ON):
            if self.isVisible():
                self.refresh()
            else:
                self._hidden_stale = True

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        if getattr(self, "_hidden_stale", False):
            self._hidden_stale = False
            self.refresh()

    def current_group(self) -> UnknownGroup | None:
        item = self.group_list.currentItem()
        return item.data(GROUP_ROLE) if item is not None else None

    def select_group(self, group_id: int) -> None:
        for row, group in enumerate(self.groups):
            if group.id == group_id:
                self.group_list.setCurrentRow(row)
                return

    def _show_current(self) -> None:
        group = self.current_group()
        self.faces_view.clear()
        if group is None:
            self.title_label.setText("Nothing to review")
            self.info_label.setText("Unknown faces seen by Recognize appear here, grouped by person.")
        else:
            self.title_label.setText(f"Unknown visitor {group.id}")
            self.info_label.setText(
                f"Seen {plural(group.count, 'time')}, first {group.first_seen:%a %d %b %Y %H:%M}, "
                f"last {group.last_seen:%a %d %b %Y %H:%M}, at {places(group.sources)}."
            )
            for face_id in group.best_face_ids:
                try:
                    self.faces_view.add_jpeg(self.engine.unknown_face_crop(face_id), face_id, f"face {face_id}")
                except RollcallError:  # purged meanwhile; the next refresh shows it right
                    continue
            self.faces_view.scrollToTop()
        self._update_buttons()

    def _update_buttons(self) -> None:
        ready = self.current_group() is not None and self.job is None
        for button in (self.enroll_button, self.assign_button, self.dismiss_button):
            button.setEnabled(ready)

    # ---- actions (in a worker: enrolling detects and embeds the faces) ----

    def enroll_current(self, name: str | None = None, group: str | None = None) -> None:
        unknowns = self.current_group()
        if unknowns is None or self.job is not None:
            return
        if name is None:
            dialog = EnrollGroupDialog([g.name for g in self.engine.groups()], self)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            name, group = dialog.name_edit.text(), dialog.group_box.currentData()
        self._run(f"Enrolling {name.strip()}…", self.engine.enroll_unknown_group, unknowns.id, name, group)

    def assign_current(self, person_id: int | None = None) -> None:
        unknowns = self.current_group()
        if unknowns is None or self.job is not None:
            return
        if person_id is None:
            people = [o.person for o in self.engine.people()]
            if not people:
                show_error(self, "Nobody is enrolled yet. Use Enroll as new person instead.")
                return
            labels = [f"{p.name} (id {p.id})" for p in people]
            label, ok = QInputDialog.getItem(self, "Add to person", "Add these faces to:", labels, 0, False)
            if not ok:
                return
            person_id = people[labels.index(label)].id
            name = people[labels.index(label)].name
            if not confirm(
                self,
                "Add to person",
                f"Add the faces of unknown visitor {unknowns.id} "
                f"({plural(unknowns.count, 'sighting')}) to {name}? They become {name}'s face samples, "
                f"and these sightings count as {name}'s attendance (each one recorded as a correction "
                "in the audit log). Undo takes both back.",
            ):
                return
        self._run("Adding the faces…", self.engine.assign_unknown_group, unknowns.id, person_id)

    def dismiss_current(self, ask: bool = True) -> None:
        unknowns = self.current_group()
        if unknowns is None or self.job is not None:
            return
        if ask and not confirm(
            self,
            "Dismiss",
            f"Dismiss unknown visitor {unknowns.id} "
            f"({plural(unknowns.count, 'sighting')})? Their faces leave this list and nobody is "
            f"enrolled. {dismissed_kept_text(self.engine.settings.storage.retention_days)}",
        ):
            return
        self.last_dismissed = unknowns.id
        self._run("Dismissing…", self.engine.dismiss_unknown_group, unknowns.id)

    def _run(self, message: str, operation, *args) -> None:
        first, last = self.span()
        self._start(message, Job(operation, *args, first=first, last=last, name="review"))

    def _start(self, message: str, job: Job) -> None:
        self.job = job
        self.job.returned.connect(self._on_done)
        self.job.failed.connect(self._on_failed)
        self.job.finished.connect(self._on_job_finished)
        self.message_bar.setText(message)
        self.job.start()
        self._update_buttons()

    def _on_done(self, outcome: Outcome) -> None:
        value = outcome.value
        if isinstance(value, UnknownAssignment) and value.undone:
            self.message_bar.setText(
                f"Undone: unknown visitor {value.group_id} is back in review; "
                f"{plural(len(value.sample_ids), 'face sample')} removed from {value.person_name}, and "
                f"{plural(len(value.event_ids), 'sighting')} no longer count as their attendance."
            )
        elif isinstance(value, UnknownAssignment):
            name = value.person_name
            text = (
                f"Added unknown visitor {value.group_id} to {name}: {plural(len(value.sample_ids), 'face sample')} "
                f"saved, and {plural(len(value.event_ids), 'sighting')} now count as {name}'s attendance."
            )
            if value.report.refused:
                text += f" {plural(len(value.report.refused), 'face')} did not pass the checks."
            self.message_bar.show_message(text, Tone.INFO, "Undo", lambda: self.undo_assign(value.group_id))
        elif isinstance(value, EnrollReport):
            who = ", ".join(value.people_added) or "the person"
            text = f"Saved {plural(value.samples_added, 'face sample')} for {who}."
            if value.refused:
                text += f" {plural(len(value.refused), 'face')} did not pass the checks."
            self.message_bar.setText(" ".join([text, *value.warnings]))
        elif isinstance(value, DismissedVisitor):
            self.message_bar.setText(f"Unknown visitor {value.id} is back in review.")
            first, last = self.span()
            seen_first, seen_last = value.first_seen.date(), value.last_seen.date()
            if seen_first < first or seen_last > last:  # widen the span to show them
                self.start_edit.setDate(_qdate(min(first, seen_first)))
                self.end_edit.setDate(_qdate(max(last, seen_last)))
        elif self.last_dismissed is not None:
            group_id = self.last_dismissed
            self.message_bar.show_message(
                f"Dismissed unknown visitor {group_id} ({plural(value, 'face')}).",
                Tone.INFO,
                "Undo",
                lambda: self.restore(group_id),
            )

    def _on_failed(self, message: str) -> None:
        self.message_bar.refuse(message)

    # ---- taking a review back ----

    def undo_assign(self, group_id: int) -> None:
        """Undo "Add to person": the samples go, the sightings stop counting, the visitor is back in review."""
        if self.job is None:
            self._start(f"Undoing unknown visitor {group_id}…", Job(self.engine.undo_unknown_assign, group_id))

    def restore(self, group_id: int) -> None:
        """A dismissed visitor back in review (shown when their days are in the span)."""
        if self.job is None:
            self._start("Restoring…", Job(self.engine.restore_unknown_group, group_id))

    def open_dismissed(self) -> DismissedDialog:
        dialog = DismissedDialog(self.engine, self)
        dialog.restore_requested.connect(self.restore)
        dialog.open()
        return dialog
