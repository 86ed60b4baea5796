"""The app's look: Fusion with a light palette, a dark sidebar and a blue accent."""

from __future__ import annotations

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

from core.base.resources import resource_path


def _icon_url(name: str) -> str:
    return resource_path("icons", f"{name}.svg").as_posix()


ACCENT = "#2563eb"
HEADER_PADDING_PX = 8  # each side of a table header's text (tests measure headers with it)
HEADER_WEIGHT = 600

STYLESHEET = f"""
QMainWindow, QDialog {{ background: #f3f4f6; }}
QWidget#content {{ background: #f3f4f6; }}
QScrollArea#panelScroll, QScrollArea#panelScroll > QWidget > QWidget {{ background: #f3f4f6; }}
QListWidget#settingsPages {{ background: white; border: 1px solid #e5e7eb; border-radius: 10px; padding: 6px;
    outline: 0; }}
QListWidget#settingsPages::item {{ padding: 7px 10px; border-radius: 6px; color: #374151; }}
QListWidget#settingsPages::item:selected {{ background: #dbeafe; color: #1e3a8a; font-weight: 600; }}

/* sidebar */
QWidget#sidebar {{ background: #111827; }}
QLabel#brand {{ color: #f9fafb; font-size: 17pt; font-weight: 600; padding: 4px 6px; }}
QLabel#brandSub {{ color: #9ca3af; padding: 0 6px 8px 6px; }}
QListWidget#nav {{ background: transparent; border: none; color: #d1d5db; font-size: 11pt; outline: 0; }}
QListWidget#nav::item {{ padding: 10px 10px; border-radius: 8px; margin: 2px 0; }}
QListWidget#nav::item:hover {{ background: #1f2937; }}
QListWidget#nav::item:selected {{ background: {ACCENT}; color: white; }}
QPushButton#sidebarButton {{ background: transparent; color: #d1d5db; border: 1px solid #374151;
    border-radius: 8px; padding: 8px 10px; text-align: left; }}
QPushButton#sidebarButton:hover {{ background: #1f2937; }}

/* headings */
QLabel#panelTitle {{ font-size: 18pt; font-weight: 600; color: #111827; }}
QLabel#panelSubtitle, QLabel#muted {{ color: #6b7280; }}
QLabel#cardTitle {{ font-weight: 600; color: #111827; font-size: 10.5pt; }}
QLabel#personName {{ font-size: 16pt; font-weight: 600; color: #111827; }}
QLabel#summary {{ color: #111827; font-weight: 500; }}
QLabel#note {{ background: #fef3c7; color: #92400e; border: 1px solid #fde68a; border-radius: 8px;
    padding: 8px 10px; }}
QLabel#countBadge {{ background: #e0e7ff; color: #3730a3; border-radius: 9px; padding: 1px 8px; font-weight: 600; }}

/* cards */
QFrame#card, QTabWidget::pane {{ background: white; border: 1px solid #e5e7eb; border-radius: 10px; }}
QTabWidget::pane {{ top: -1px; }}
QTabBar::tab {{ background: transparent; padding: 8px 16px; margin-right: 4px; color: #4b5563;
    border-bottom: 2px solid transparent; }}
QTabBar::tab:selected {{ color: {ACCENT}; border-bottom: 2px solid {ACCENT}; font-weight: 600; }}
QGroupBox {{ background: white; border: 1px solid #e5e7eb; border-radius: 10px; margin-top: 14px;
    padding: 14px 12px 10px 12px; font-weight: 600; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 12px; padding: 0 4px; color: #111827; }}

/* inputs */
QLineEdit, QSpinBox, QDoubleSpinBox, QDateEdit, QComboBox {{ background: white; border: 1px solid #d1d5db;
    border-radius: 6px; padding: 5px 8px; min-height: 20px; }}
QLineEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus, QDateEdit:focus, QComboBox:focus {{
    border: 1px solid {ACCENT}; }}
QComboBox {{ padding-right: 24px; }}
QComboBox::drop-down, QDateEdit::drop-down {{ subcontrol-origin: padding; subcontrol-position: center right;
    width: 22px; border: none; }}
QComboBox::down-arrow, QDateEdit::down-arrow {{ image: url({_icon_url("chevron-down")}); width: 14px; height: 14px; }}
QSpinBox, QDoubleSpinBox {{ padding-right: 22px; }}
QSpinBox::up-button, QDoubleSpinBox::up-button {{ subcontrol-origin: border; subcontrol-position: top right;
    width: 20px; border: none; border-left: 1px solid #e5e7eb; border-top-right-radius: 6px; }}
QSpinBox::down-button, QDoubleSpinBox::down-button {{ subcontrol-origin: border; subcontrol-position: bottom right;
    width: 20px; border: none; border-left: 1px solid #e5e7eb; border-bottom-right-radius: 6px; }}
QSpinBox::up-button:hover, QDoubleSpinBox::up-button:hover, QSpinBox::down-button:hover,
QDoubleSpinBox::down-button:hover {{ background: #f3f4f6; }}
QSpinBox::up-arrow, QDoubleSpinBox::up-arrow {{ image: url({_icon_url("chevron-up")}); width: 10px; height: 10px; }}
QSpinBox::down-arrow, QDoubleSpinBox::down-arrow {{ image: url({_icon_url("chevron-down")}); width: 10px;
    height: 10px; }}
QComboBox QAbstractItemView {{ background: white; border: 1px solid #d1d5db; selection-background-color: #dbeafe;
    selection-color: #111827; outline: 0; }}
QPushButton {{ background: white; border: 1px solid #d1d5db; border-radius: 6px; padding: 6px 14px;
    color: #1f2937; min-height: 20px; }}
QPushButton:hover {{ background: #f9fafb; border-color: #9ca3af; }}
QPushButton:pressed {{ background: #e5e7eb; }}
QPushButton:disabled {{ color: #9ca3af; background: #f3f4f6; border-color: #e5e7eb; }}
QPushButton[primary="true"] {{ background: {ACCENT}; color: white; border: 1px solid {ACCENT}; font-weight: 600; }}
QPushButton[primary="true"]:hover {{ background: #1d4ed8; }}
QPushButton[primary="true"]:disabled {{ background: #93c5fd; border-color: #93c5fd; color: #eff6ff; }}
QPushButton[danger="true"] {{ color: #b91c1c; border-color: #fecaca; }}
QPushButton[danger="true"]:hover {{ background: #fef2f2; }}

/* lists and tables */
QListWidget, QTreeWidget, QTableWidget {{ background: white; border: 1px solid #e5e7eb; border-radius: 8px;
    alternate-background-color: #f9fafb; outline: 0; }}
QListWidget#eventList::item, QListWidget#peopleList::item {{ padding: 4px; border-radius: 6px; }}
QListWidget::item:selected, QTreeWidget::item:selected, QTableWidget::item:selected {{
    background: #dbeafe; color: #111827; }}
QHeaderView::section {{ background: #f9fafb; border: none; border-bottom: 1px solid #e5e7eb;
    padding: 6px {HEADER_PADDING_PX}px; font-weight: {HEADER_WEIGHT}; color: #374151; }}
QTableWidget::item {{ padding: 4px 8px; }}
QProgressBar {{ border: 1px solid #d1d5db; border-radius: 6px; background: #f9fafb; text-align: center;
    min-height: 18px; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 5px; }}
QStatusBar {{ background: white; border-top: 1px solid #e5e7eb; color: #4b5563; }}
QStatusBar QLabel {{ padding: 0 10px; }}
QSplitter::handle {{ background: transparent; width: 10px; }}
"""


def apply_style(app: QApplication) -> None:
    app.setStyle(QStyleFactory.create("Fusion"))
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Window, QColor("#f3f4f6"))
    palette.setColor(QPalette.ColorRole.WindowText, QColor("#111827"))
    palette.setColor(QPalette.ColorRole.Base, QColor("white"))
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor("#f9fafb"))
    palette.setColor(QPalette.ColorRole.Text, QColor("#111827"))
    palette.setColor(QPalette.ColorRole.Button, QColor("white"))
    palette.setColor(QPalette.ColorRole.ButtonText, QColor("#1f2937"))
    palette.setColor(QPalette.ColorRole.Highlight, QColor(ACCENT))
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor("white"))
    palette.setColor(QPalette.ColorRole.ToolTipBase, QColor("#111827"))
    palette.setColor(QPalette.ColorRole.ToolTipText, QColor("white"))
    palette.setColor(QPalette.ColorRole.PlaceholderText, QColor("#9ca3af"))
    app.setPalette(palette)
    font = QFont(app.font())
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)
    app.setStyleSheet(STYLESHEET)
