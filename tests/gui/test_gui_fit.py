"""Every panel, tab and dialog on a 1280×720 laptop and at 1024×700: the window fits, each dialog fits or
scrolls, no button, label or header text is cut, and every table keeps its first column visible.

Panels and tabs are found from the main window at run time (new tabs are walked without a change here);
dialogs are every QDialog subclass in gui/ that can be built from the engine, the window or a day."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QModelIndex, Qt  # noqa: E402
from PySide6.QtGui import QFont, QFontMetrics, QPalette  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QDialog,
    QHeaderView,
    QLabel,
    QListView,
    QRadioButton,
    QScrollArea,
    QStyleFactory,
    QTableView,
    QTabWidget,
    QTreeView,
    QWidget,
)

from gui.style import HEADER_PADDING_PX, HEADER_WEIGHT  # noqa: E402

SCREENS = [(1280, 720), (1024, 700)]
CHECKBOX_INDICATOR_PX = 22  # the box and its gap before the text
BUTTON_PADDING_PX = 6  # the least room a button keeps on each side of its text


@pytest.fixture(autouse=True)
def app_style(qapp):
    """The app's own look (font, paddings, bold headers), as `rollcall-gui` starts with it; undone after."""
    from gui.style import apply_style

    saved = (qapp.style().name(), QPalette(qapp.palette()), QFont(qapp.font()), qapp.styleSheet())
    apply_style(qapp)
    yield
    qapp.setStyleSheet(saved[3])
    qapp.setFont(saved[2])
    qapp.setPalette(saved[1])
    qapp.setStyle(QStyleFactory.create(saved[0]))


LONG_NAMES = [
    "Lin-Manuel Miranda",
    "Phillipa Soo",
    "Leslie Odom Jr.",
    "Christopher Jackson",
    "Renée Elise Goldsberry",
    "Jasmine Cephas Jones",
    "Daveed Diggs",
    "Okieriete Onaodowan",
]


@pytest.fixture
def office(engine):
    """People with long names, each seen this morning: every table has rows and names to cut."""
    from core.base.records import AttendanceEvent, EventKind

    morning = datetime.now(engine.site_zone()).replace(hour=0, minute=1, second=0, microsecond=0)
    for minute, name in enumerate(LONG_NAMES):
        person = engine.store.add_person(name)
        engine.store.record_event(
            AttendanceEvent(
                None, person.id, None, EventKind.CHECK_IN, morning + timedelta(minutes=minute), "front door", 0.9
            )
        )
    return LONG_NAMES


# ---- what is cut ----


def shown(widget: QWidget) -> bool:
    return widget.isVisible() and widget.width() > 0 and widget.height() > 0


def _line_width(widget: QWidget, text: str, weight: int | None = None) -> int:
    font = widget.font()
    if weight is not None:
        font.setWeight(QFont.Weight(weight))
    metrics = QFontMetrics(font)
    return max(
        (
            metrics.horizontalAdvance(line)
            for line in text.replace("&&", "\0").replace("&", "").replace("\0", "&").splitlines()
        ),
        default=0,
    )


def cut_texts(root: QWidget) -> list[str]:
    """Buttons, labels and table headers under `root` whose text is wider than the room they have."""
    cut = []
    for button in root.findChildren(QAbstractButton):
        if not shown(button) or not button.text():
            continue
        need = _line_width(button, button.text())
        if not button.icon().isNull():
            need += button.iconSize().width() + 4
        if isinstance(button, (QCheckBox, QRadioButton)):
            need += CHECKBOX_INDICATOR_PX
        else:
            need += 2 * BUTTON_PADDING_PX
        if need > button.width():
            cut.append(f"button {button.text()!r}: needs {need} px, has {button.width()}")
    for label in root.findChildren(QLabel):
        text = label.text()
        if not shown(label) or not text or label.wordWrap() or "<" in text:
            continue
        if label.pixmap() is not None and not label.pixmap().isNull():
            continue
        need = _line_width(label, text)
        if need > label.contentsRect().width():
            cut.append(f"label {text!r}: needs {need} px, has {label.contentsRect().width()}")
    for header in root.findChildren(QHeaderView):
        if not shown(header) or header.orientation() != Qt.Orientation.Horizontal:
            continue
        model = header.model()
        if model is None:
            continue
        for section in range(header.count()):
            if header.isSectionHidden(section):
                continue
            text = str(model.headerData(section, header.orientation()) or "")
            need = _line_width(header, text, HEADER_WEIGHT) + 2 * HEADER_PADDING_PX
            if text and header.sectionSize(section) < need:
                cut.append(f"header {text!r}: needs {need} px, has {header.sectionSize(section)}")
    return cut + cut_cells(root)


CELL_PADDING_PX = 4  # the least room a cell keeps on each side of its text
CELLS_CHECKED = 40  # rows per table


def _columns(model) -> int:
    try:
        return model.columnCount(QModelIndex())
    except TypeError:  # a list model keeps it private: one column
        return 1


def _rows(model) -> int:
    try:
        return model.rowCount(QModelIndex())
    except TypeError:
        return model.rowCount()


def cut_cells(root: QWidget) -> list[str]:
    """List items (names in the People list) and table cells whose text is elided ("Li…", "100…")."""
    cut = []
    for view in root.findChildren(QAbstractItemView):
        if not isinstance(view, (QListView, QTableView, QTreeView)) or not shown(view) or view.model() is None:
            continue
        wraps = view.wordWrap()  # then only a word wider than its cell is cut
        if isinstance(view, QListView) and view.viewMode() != QListView.ViewMode.ListMode:
            continue  # thumbnails
        model = view.model()
        for row in range(min(_rows(model), CELLS_CHECKED)):
            for column in range(_columns(model)):
                index = model.index(row, column)
                text = str(model.data(index) or "")
                rect = view.visualRect(index)
                if not text or rect.width() <= 0:
                    continue
                need = _line_width(view, "\n".join(text.split()) if wraps else text) + 2 * CELL_PADDING_PX
                if model.data(index, Qt.ItemDataRole.DecorationRole) not in (None, ""):
                    need += view.iconSize().width() + CELL_PADDING_PX
                if need > rect.width():
                    cut.append(f"{type(view).__name__} cell {text!r}: needs {need} px, has {rect.width()}")
    return cut


def lost_first_columns(root: QWidget) -> list[str]:
    """Tables that lose their first column when scrolled to the far right (unless a frozen copy shows it)."""
    lost = []
    for view in root.findChildren(QAbstractItemView):
        if not isinstance(view, (QTableView, QTreeView)) or not shown(view) or view.model() is None:
            continue
        if _columns(view.model()) < 2 or _rows(view.model()) == 0:
            continue
        header = view.horizontalHeader() if isinstance(view, QTableView) else view.header()
        bar = view.horizontalScrollBar()
        first = next(
            header.logicalIndex(v) for v in range(header.count()) if not header.isSectionHidden(header.logicalIndex(v))
        )
        bar.setValue(bar.maximum())
        QApplication.processEvents()
        visible = header.sectionViewportPosition(first) >= 0
        frozen = any(
            isinstance(child, QTableView) and child.isVisible() and not child.isColumnHidden(first)
            for child in view.findChildren(QTableView)
        )
        bar.setValue(0)
        if not (visible or frozen):
            lost.append(
                f"{type(view).__name__} {view.objectName()!r}: column "
                f"{view.model().headerData(first, header.orientation())!r} scrolls away"
            )
    return lost


# ---- the walk ----


def tab_pages(root: QWidget) -> Iterator[str]:
    """Show every tab of every tab widget under `root`, nested ones too; yields each tab's path."""

    def walk(widget: QWidget, path: str) -> Iterator[str]:
        tabs = [t for t in [widget, *widget.findChildren(QTabWidget)] if isinstance(t, QTabWidget) and t.isVisible()]
        outer = [t for t in tabs if not any(o is not t and o.isAncestorOf(t) for o in tabs)]
        if widget in outer:
            outer = [widget]
        if not outer:
            yield path
            return
        for tab_widget in outer:
            for index in range(tab_widget.count()):
                tab_widget.setCurrentIndex(index)
                QApplication.processEvents()
                yield from walk(tab_widget.widget(index), f"{path} › {tab_widget.tabText(index)}")

    yield from walk(root, "")


def settle(qtbot, window) -> None:
    """Let pending listings arrive (panels read their data in workers) and layouts settle."""
    for panel_name in window.PANELS:
        panel = window.panels[window.PANELS.index(panel_name)]
        busy = getattr(panel, "is_refreshing", None)
        if callable(busy):
            qtbot.waitUntil(lambda busy=busy: not busy(), timeout=30_000)
    QApplication.processEvents()


@pytest.mark.parametrize("screen", SCREENS, ids=lambda size: f"{size[0]}x{size[1]}")
def test_every_panel_and_tab_fits(qtbot, office, window, screen):
    width, height = screen
    problems: list[str] = []
    for name in window.PANELS:
        panel = window.show_panel(name)
        assert window.current_panel() == name
        window.resize(width, height)
        settle(qtbot, window)
        for tab in tab_pages(panel):
            window.resize(width, height)
            qtbot.wait(20)
            where = f"{name}{tab}"
            if window.width() > width or window.height() > height:
                problems.append(f"{where}: the window needs {window.width()}×{window.height()}")
            page = window.stack.currentWidget()  # a long page may scroll down; none scrolls sideways on the laptop
            if screen == SCREENS[0] and page.horizontalScrollBar().isVisible():
                problems.append(
                    f"{where}: scrolls sideways on the laptop ({panel.minimumSizeHint().width()} px wide, "
                    f"has {page.viewport().width()})"
                )
            problems += [f"{where}: {problem}" for problem in cut_texts(window)]
            problems += [f"{where}: {problem}" for problem in lost_first_columns(panel)]
    assert not problems, "\n".join(problems)


# ---- dialogs ----


def dialog_classes() -> list[type[QDialog]]:
    import gui

    for module in pkgutil.walk_packages(gui.__path__, "gui."):
        if not module.name.endswith("__main__"):  # that one runs the app
            importlib.import_module(module.name)
    found: list[type[QDialog]] = []
    pending = list(QDialog.__subclasses__())
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if cls.__module__.startswith("gui."):
            found.append(cls)
    return sorted(set(found), key=lambda cls: cls.__qualname__)


def build_dialog(cls: type[QDialog], engine, window) -> QDialog | None:
    """The dialog built from what its constructor asks for (by parameter name), or None when it asks for more."""
    known: dict[str, Callable[[], object]] = {
        "engine": lambda: engine,
        "parent": lambda: window,
        "day": date.today,
        "groups": lambda: ["Morning"],
        "title": lambda: "Lock May",
        "consequence": lambda: "Punches in May are refused until it is unlocked.",
        "action": lambda: "Lock",
        "act": lambda: lambda reason: None,
        "message": lambda: "",
    }
    arguments = {}
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if name in known:
            arguments[name] = known[name]()
        elif parameter.default is parameter.empty:
            return None
    return cls(**arguments)


@pytest.mark.parametrize("screen", SCREENS, ids=lambda size: f"{size[0]}x{size[1]}")
def test_every_dialog_fits_or_scrolls(qtbot, window, engine, screen):
    width, height = screen
    problems, built = [], []
    for cls in dialog_classes():
        dialog = build_dialog(cls, engine, window)
        if dialog is None:
            continue
        built.append(cls.__name__)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        scrolls = bool(dialog.findChildren(QScrollArea))
        need = dialog.minimumSizeHint() if scrolls else dialog.sizeHint().expandedTo(dialog.minimumSizeHint())
        if need.width() > width or need.height() > height:
            problems.append(
                f"{cls.__name__} needs {need.width()}×{need.height()}"
                + (" even with its scroll areas" if scrolls else " and does not scroll")
            )
        dialog.resize(min(dialog.width(), width), min(dialog.height(), height))
        qtbot.wait(20)
        if dialog.width() > width or dialog.height() > height:
            problems.append(f"{cls.__name__} stays {dialog.width()}×{dialog.height()}")
        problems += [f"{cls.__name__}: {problem}" for problem in cut_texts(dialog)]
        dialog.reject()
    assert {"SettingsDialog", "PinDialog", "EnrollGroupDialog"} <= set(built)
    assert not problems, "\n".join(problems)


def test_settings_pages_all_fit_at_1024x700(qtbot, window, engine):
    from gui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(engine, window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.resize(min(dialog.width(), 1024), min(dialog.height(), 700))
    assert dialog.height() <= 700 and dialog.width() <= 1024
    problems = []
    for row in range(dialog.pages.count()):
        dialog.pages.setCurrentRow(row)
        qtbot.wait(20)
        problems += [f"{dialog.pages.item(row).text()}: {p}" for p in cut_texts(dialog.stack.currentWidget())]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("screen", SCREENS, ids=lambda size: f"{size[0]}x{size[1]}")
def test_models_before_and_after_values_are_whole(qtbot, window, screen):
    from trainer.config import TrainConfig
    from trainer.job import TrainResult
    from trainer.results import METRIC_LABELS

    before = {key: 0.99875 for key in METRIC_LABELS}
    after = {key: 1.0 for key in METRIC_LABELS}
    panel = window.show_panel("models")
    window.resize(*screen)
    if not hasattr(panel, "show_results"):
        pytest.skip("the kiosk edition does not train")
    panel.show_results(TrainResult(TrainConfig(), "facenet-keras-128-ft1", None, before, after))
    qtbot.wait(50)
    assert panel.results_table.rowCount() == len(METRIC_LABELS)
    assert panel.results_table.item(0, 1).text() == "100.00%"
    window.stack.currentWidget().ensureWidgetVisible(panel.results_table)
    assert not cut_texts(panel.results_table.parentWidget())


def test_kiosk_models_panel_fits_at_1024x700(qtbot, engine):
    from gui.models_panel import KioskModelsPanel
    from gui.widgets import scrolling

    panel = KioskModelsPanel(engine)
    page = scrolling(panel)
    qtbot.addWidget(page)
    page.resize(1024 - 200, 700 - 46)  # the window less its sidebar, menu and status bars
    page.show()
    qtbot.waitExposed(page)
    assert panel.width() <= page.viewport().width() + 1
    assert not cut_texts(panel)


LONG_PAGES = {"attendance"}  # its HR pages are long forms: they may scroll down on a laptop


@pytest.mark.parametrize("screen", SCREENS, ids=lambda size: f"{size[0]}x{size[1]}")
def test_panels_fit_without_scrolling(qtbot, office, window, screen):
    window.resize(*screen)
    scrolled = []
    for name in set(window.PANELS) - LONG_PAGES:
        panel = window.show_panel(name)
        qtbot.wait(20)
        page = window.stack.currentWidget()
        if page.verticalScrollBar().isVisible() or page.horizontalScrollBar().isVisible():
            scrolled.append(f"{name}: needs {panel.minimumSizeHint().height()} px, has {page.viewport().height()}")
    assert not scrolled, "\n".join(scrolled)


def test_unknown_visitors_are_described_in_full(qtbot, window, engine):
    from tests.kits.paths import dev_people, dev_photos
    from tests.kits.sightings import store_sighting

    now = datetime.now().astimezone().replace(hour=17, minute=1, second=0, microsecond=0)
    for person in dev_people()[:2]:
        for day, photo in enumerate(dev_photos(person)[:2]):
            store_sighting(engine, photo, now - timedelta(days=day, hours=9), ["north door", "south door"][day])
    panel = window.show_panel("review")
    for screen in SCREENS:
        window.resize(*screen)
        panel.refresh()
        qtbot.waitUntil(lambda: not panel.is_refreshing() and panel.group_list.count() == 2, timeout=60_000)
        qtbot.wait(20)
        assert not cut_texts(panel), screen


# ---- the opening size ----


@pytest.mark.slow
def test_the_window_opens_inside_a_1024x700_screen(tmp_path, rollcall_home, default_weights):
    """A fresh process on a 1024×700 screen: the window opens inside it, its status bar and Settings on screen."""
    import json
    import os
    import subprocess
    import sys

    config = tmp_path / "screen.json"
    config.write_text(
        json.dumps(
            {
                "screens": [
                    {
                        "name": "small",
                        "x": 0,
                        "y": 0,
                        "width": 1024,
                        "height": 700,
                        "logicalDpi": 96,
                        "logicalBaseDpi": 96,
                        "dpr": 1,
                    }
                ]
            }
        )
    )
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.kits.window_probe"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    where = json.loads(done.stdout.strip().splitlines()[-1])
    assert where["available"] == [0, 0, 1024, 700]

    def inside(rect: list[int]) -> bool:
        x, y, w, h = rect
        return x >= 0 and y >= 0 and x + w <= 1024 and y + h <= 700

    for part in ("frame", "settings_button", "status_bar"):
        assert inside(where[part]), f"{part} at {where[part]} is off the 1024×700 screen"
