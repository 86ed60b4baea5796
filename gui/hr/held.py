"""Held for a locked month: sightings dated inside a locked month (a kiosk that synced late, an import, the
camera while the month was locked) are recorded and audited but not counted, and not sent to integrations.
HR unlocks the month and counts them, or dismisses them; both need a reason for the audit log."""

from __future__ import annotations

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QAbstractItemView, QLabel, QPushButton, QTableWidgetItem, QVBoxLayout, QWidget

from core.app.changes import ChangeKind, Changes
from core.app.engine import Engine
from core.base.dated import HeldOrigin, HeldSighting

from ..attendance.common import read_only_table
from ..attendance.locking import ReasonDialog, month_title
from ..text import plural
from ..widgets import hbox
from .common import kiosk_only, message_line

ORIGIN_TEXT = {
    HeldOrigin.LIVE: "this station's camera",
    HeldOrigin.IMPORT: "an imported log",
    HeldOrigin.SITE: "kiosk {station}, synced late",
}


class HeldPage(QWidget):
    """The held sightings, oldest first, with "Unlock and count…" and "Dismiss…" for the selected ones."""

    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.held: list[HeldSighting] = []
        title = QLabel("Held for a locked month")
        title.setObjectName("cardTitle")
        note = QLabel(
            "Sightings dated inside a locked month are held here, not counted: the locked timesheet stays as "
            "payroll received it, and nothing is sent to ERPNext, Odoo or webhooks. Unlock and count them "
            "(the month is unlocked, with your reason), or dismiss them."
        )
        note.setObjectName("muted")
        note.setWordWrap(True)
        self.table = read_only_table(["When", "Who", "From", "Month"], stretch=2)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.count_button = QPushButton("Unlock and count…")
        self.dismiss_button = QPushButton("Dismiss…")
        self.summary_label = QLabel("")
        self.message_label = message_line()
        self.dialog: ReasonDialog | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(note)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(hbox(self.count_button, self.dismiss_button, None))
        layout.addWidget(self.message_label)
        self.count_button.clicked.connect(lambda: self.count_selected())
        self.dismiss_button.clicked.connect(lambda: self.dismiss_selected())
        self.refresh()

    def refresh(self) -> None:
        kiosk_only(self.engine, self.count_button, self.dismiss_button)
        self.held = self.engine.held_sightings()
        names = {o.person.id: o.person.name for o in self.engine.people(include_inactive=True)}
        zone = self.engine.site_zone()
        self.summary_label.setText(f"{plural(len(self.held), 'sighting')} held for a locked month.")
        self.table.setRowCount(len(self.held))
        for row, held in enumerate(self.held):
            origin = ORIGIN_TEXT[held.origin].format(station=held.station or "")
            cells = [
                f"{held.time.astimezone(zone):%a %d %b %Y %H:%M}",
                names.get(held.person_id or 0, "an unknown face"),
                origin,
                month_title(held.month),
            ]
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))

    def selected(self) -> list[HeldSighting]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.held[row] for row in rows if row < len(self.held)]

    def count_selected(self) -> ReasonDialog | None:
        chosen = self.selected()
        if not chosen:
            self.message_label.setText("Choose the held sightings to count first.")
            return None
        months = ", ".join(month_title(m) for m in sorted({h.month for h in chosen}))
        self.dialog = ReasonDialog(
            "Unlock and count",
            f"Counting {plural(len(chosen), 'held sighting')} unlocks {months}: its timesheet is computed again "
            "and may change after payroll used it. The sightings are then sent to the integrations.",
            "Unlock and count",
            lambda reason: self.engine.count_held([h.id for h in chosen], reason),
            self,
        )
        self.dialog.open()
        return self.dialog

    def dismiss_selected(self) -> ReasonDialog | None:
        chosen = self.selected()
        if not chosen:
            self.message_label.setText("Choose the held sightings to dismiss first.")
            return None
        self.dialog = ReasonDialog(
            "Dismiss held sightings",
            f"Dismiss {plural(len(chosen), 'held sighting')}? They never count; the audit log keeps them.",
            "Dismiss",
            lambda reason: self.engine.dismiss_held([h.id for h in chosen], reason),
            self,
        )
        self.dialog.open()
        return self.dialog

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """A site sync may have held sightings since: the list is read again whenever it is shown."""
        self.refresh()
        super().showEvent(event)

    def on_changes(self, changes: Changes) -> None:
        if changes.touches(ChangeKind.HELD, ChangeKind.SCHEDULES, ChangeKind.EVENTS, ChangeKind.PEOPLE):
            self.refresh()
