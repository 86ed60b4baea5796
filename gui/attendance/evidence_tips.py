"""Evidence photos on hover: a table cell that holds a sighting's time shows the face the kiosk kept."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QTableWidget, QToolTip

from core.app.engine import Engine
from core.base.errors import RollcallError

TIP_PHOTO_PX = 120
CellSighting = Callable[[int, int], tuple[int, datetime] | None]  # (row, column) -> (person id, moment)


def photo_tip(jpeg: bytes, caption: str) -> str:
    """A tooltip's rich text with the photo inline."""
    data = base64.b64encode(jpeg).decode()
    return f'<img src="data:image/jpeg;base64,{data}" width="{TIP_PHOTO_PX}"><br>{caption}'


class EvidenceTips(QObject):
    """Shows the evidence photo of the sighting under the pointer; the photo is read only when asked."""

    def __init__(self, engine: Engine, table: QTableWidget, sighting_at: CellSighting):
        super().__init__(table)
        self.engine, self.table, self.sighting_at = engine, table, sighting_at
        self.last_tip = ""
        table.viewport().installEventFilter(self)

    def tip_for(self, row: int, column: int) -> str:
        """The rich tooltip of a cell, or '' when it holds no sighting with a photo."""
        found = self.sighting_at(row, column)
        if found is None:
            return ""
        person_id, moment = found
        try:
            jpeg = self.engine.evidence_at(person_id, moment)
        except RollcallError:
            return ""
        return photo_tip(jpeg, f"seen {moment:%H:%M:%S}") if jpeg else ""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            index = self.table.indexAt(event.pos())
            self.last_tip = self.tip_for(index.row(), index.column()) if index.isValid() else ""
            if self.last_tip:
                QToolTip.showText(event.globalPos(), self.last_tip, self.table)
                return True
        return super().eventFilter(watched, event)
