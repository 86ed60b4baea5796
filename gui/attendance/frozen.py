"""Tables whose first column stays put while the rest scrolls sideways (Qt's "frozen column" example): a second
QTableView over the first column, sharing the model, the selection and the vertical scroll. `freeze_first_column`
fits any QTableView (a QTableWidget too); FrozenColumnTableView is a QTableView that has one."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QAbstractItemModel, QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

FROZEN_BORDER_PX = 1  # the line right of the frozen column, outside the column's own width
FROZEN_STYLE = f"QTableView {{ border: none; border-right: {FROZEN_BORDER_PX}px solid #cbd5e1; }}"


class FirstColumnFreezer(QObject):
    """Keeps `frozen` (a QTableView child of `view`) over the view's first column."""

    def __init__(self, view: QTableView):
        super().__init__(view)
        self.view = view
        self.frozen = QTableView(view)
        self.frozen.setObjectName("frozenColumn")
        self.frozen.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.frozen.verticalHeader().hide()
        self.frozen.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.frozen.horizontalHeader().setDefaultAlignment(view.horizontalHeader().defaultAlignment())
        self.frozen.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.frozen.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.frozen.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.frozen.setStyleSheet(FROZEN_STYLE)
        self.frozen.setShowGrid(view.showGrid())
        self.frozen.setAlternatingRowColors(view.alternatingRowColors())
        view.viewport().stackUnder(self.frozen)
        view.horizontalHeader().sectionResized.connect(self._column_resized)
        view.horizontalHeader().geometriesChanged.connect(self.place)
        view.verticalHeader().sectionResized.connect(lambda row, _old, size: self.frozen.setRowHeight(row, size))
        self.frozen.verticalScrollBar().valueChanged.connect(view.verticalScrollBar().setValue)
        view.verticalScrollBar().valueChanged.connect(self.frozen.verticalScrollBar().setValue)
        self.frozen.doubleClicked.connect(view.doubleClicked.emit)
        view.installEventFilter(self)
        self.attach(view.model())

    def attach(self, model: QAbstractItemModel | None) -> None:
        """Share the view's model and selection (call again after the view's setModel)."""
        if model is None:
            return
        self.frozen.setModel(model)
        self.frozen.setSelectionModel(self.view.selectionModel())
        self.frozen.setSelectionBehavior(self.view.selectionBehavior())
        self.frozen.setEditTriggers(self.view.editTriggers())
        for signal in (model.modelReset, model.layoutChanged, model.rowsInserted, model.columnsInserted):
            signal.connect(self.sync)
        self.sync()

    def alive(self) -> bool:
        """False while the view is being destroyed (its model still signals then)."""
        return shiboken6.isValid(self.view) and shiboken6.isValid(self.frozen)

    def sync(self, *_: object) -> None:
        model = self.frozen.model() if self.alive() else None
        if model is None:
            return
        for column in range(model.columnCount()):
            self.frozen.setColumnHidden(column, column > 0)
        if model.columnCount():
            self.frozen.setColumnWidth(0, self.view.columnWidth(0))
        for row in range(model.rowCount()):
            self.frozen.setRowHeight(row, self.view.rowHeight(row))
        self.place()

    def _column_resized(self, column: int, _old: int, size: int) -> None:
        if column == 0 and self.alive():
            self.frozen.setColumnWidth(0, size)
            self.place()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.view and event.type() in (QEvent.Type.Resize, QEvent.Type.Show, QEvent.Type.LayoutRequest):
            self.place()
        return False

    def place(self) -> None:
        if not self.alive():
            return
        view = self.view
        frame = view.frameWidth()
        header = view.horizontalHeader().height()
        self.frozen.horizontalHeader().setFixedHeight(header)
        self.frozen.setGeometry(
            view.verticalHeader().width() * view.verticalHeader().isVisible() + frame,
            frame,
            view.columnWidth(0) + FROZEN_BORDER_PX,  # the whole column inside the line ("Fri 25 Dec", not "De|ec")
            view.viewport().height() + header,
        )


def freeze_first_column(view: QTableView) -> QTableView:
    """Give the view a frozen first column (kept as `view.freezer`); returns the view."""
    view.freezer = FirstColumnFreezer(view)  # type: ignore[attr-defined]
    return view


class FrozenColumnTableView(QTableView):
    """A QTableView with its first column frozen; `frozen` is the view that draws it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.freezer = FirstColumnFreezer(self)
        self.frozen = self.freezer.frozen

    def setModel(self, model: QAbstractItemModel | None) -> None:  # noqa: N802 - Qt's name
        super().setModel(model)
        self.freezer.attach(model)

    def updateGeometries(self) -> None:  # noqa: N802
        super().updateGeometries()
        if hasattr(self, "freezer"):
            self.freezer.place()
