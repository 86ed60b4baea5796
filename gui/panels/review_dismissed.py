"""Dismissed visitors: the groups Review dismissed, kept until retention deletes their faces; one can be restored."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout

from core.app.engine import Engine
from core.app.review_undo_ops import DismissedVisitor
from core.base.errors import RollcallError

from ..message_bar import MessageBar
from ..text import places, plural
from ..widgets import pixmap_from_jpeg, rounded_pixmap

THUMB = 64
VISITOR_ROLE = Qt.ItemDataRole.UserRole


def kept_for(retention_days: int) -> str:
    if retention_days > 0:
        return f"for {plural(retention_days, 'day')} after they were seen (Settings › Storage)"
    return "for good (Settings › Storage keeps attendance until a retention is set)"


def dismissed_kept_text(retention_days: int) -> str:
    """What Dismiss asks: how long the visitor can be restored."""
    return f"Dismissed visitors are kept {kept_for(retention_days)}; until then, Dismissed visitors… restores them."


def describe_dismissed(visitor: DismissedVisitor) -> str:
    kept = f"kept until {visitor.kept_until:%d %b %Y}" if visitor.kept_until else "kept for good"
    return (
        f"Unknown visitor {visitor.id} · {plural(visitor.count, 'sighting')}\n"
        f"{visitor.first_seen:%d %b %H:%M} – {visitor.last_seen:%d %b %H:%M} · {places(visitor.sources)}\n{kept}"
    )


class DismissedDialog(QDialog):
    """The list, newest first; Restore asks the panel to put the chosen visitor back in review."""

    restore_requested = Signal(int)

    def __init__(self, engine: Engine, parent=None):
        super().__init__(parent)
        self.engine = engine
        self.setWindowTitle("Dismissed visitors")
        self.message_bar = MessageBar()
        note = QLabel(
            f"Visitors dismissed in Review are kept {kept_for(engine.settings.storage.retention_days)}. "
            "Restore to review puts one back in the Review list."
        )
        note.setObjectName("muted")
        note.setWordWrap(True)
        self.visitor_list = QListWidget()
        self.visitor_list.setIconSize(QSize(THUMB, THUMB))
        self.visitor_list.setWordWrap(True)
        self.restore_button = QPushButton("Restore to review")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.restore_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message_bar)
        layout.addWidget(note)
        layout.addWidget(self.visitor_list, 1)
        layout.addWidget(buttons)
        self.restore_button.clicked.connect(lambda: self.restore_current())
        self.visitor_list.currentItemChanged.connect(lambda *_: self._update_button())
        self.resize(520, 420)
        self.reload()

    def reload(self) -> None:
        self.visitor_list.clear()
        try:
            visitors = self.engine.dismissed_unknowns()
        except RollcallError as exc:
            self.message_bar.refuse(str(exc))
            visitors = []
        for visitor in visitors:
            item = QListWidgetItem(
                QIcon(rounded_pixmap(pixmap_from_jpeg(visitor.snapshot_jpeg), THUMB, 8)), describe_dismissed(visitor)
            )
            item.setData(VISITOR_ROLE, visitor)
            self.visitor_list.addItem(item)
        if visitors:
            self.visitor_list.setCurrentRow(0)
        else:
            self.message_bar.setText("No dismissed visitors are kept.")
        self._update_button()

    def visitors(self) -> list[DismissedVisitor]:
        return [self.visitor_list.item(i).data(VISITOR_ROLE) for i in range(self.visitor_list.count())]

    def _update_button(self) -> None:
        self.restore_button.setEnabled(self.visitor_list.currentItem() is not None)

    def restore_current(self) -> None:
        item = self.visitor_list.currentItem()
        if item is None:
            return
        visitor: DismissedVisitor = item.data(VISITOR_ROLE)
        self.restore_requested.emit(visitor.id)
        self.accept()
