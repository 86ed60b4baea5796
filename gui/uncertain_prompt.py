"""The kiosk's question for an uncertain face: "Are you NAME?" with large Yes and No buttons.

Lies over the bottom of the live video (as the challenge prompt does) while a face is near a person
but not sure (core.live.uncertain). Yes, No or the time running out is emitted once per question;
the Recognize panel hands it to the engine. Switched on with Settings > "Ask uncertain faces".
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from core.live.uncertain import UncertainAnswer, UncertainQuestion

from .widgets import pixmap_from_jpeg, rounded_pixmap

TICK_MS = 100  # the countdown bar's refresh
FACE_PX = 112
HEIGHT_SHARE, MIN_HEIGHT_PX, MAX_HEIGHT_PX = 0.42, 220, 260
STYLE = """
QWidget#uncertainPanel { background: rgba(17, 24, 39, 230); border-radius: 16px; }
QLabel#uncertainQuestion { color: white; font-size: 30px; font-weight: 700; }
QLabel#uncertainHint { color: #cbd5e1; font-size: 15px; }
QPushButton#uncertainYes, QPushButton#uncertainNo { font-size: 26px; font-weight: 700; min-height: 64px;
    min-width: 150px; border-radius: 12px; color: white; }
QPushButton#uncertainYes { background: #16a34a; }
QPushButton#uncertainNo { background: #dc2626; }
QProgressBar { background: rgba(255, 255, 255, 50); border: none; border-radius: 5px; max-height: 10px; }
QProgressBar::chunk { background: #38bdf8; border-radius: 5px; }
"""


class UncertainPromptOverlay(QWidget):
    answered = Signal(object, object)  # (UncertainQuestion, UncertainAnswer)

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setObjectName("uncertainPanel")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.setStyleSheet(STYLE)
        self._question: UncertainQuestion | None = None
        self._shown_at = 0.0
        self.face = QLabel()
        self.face.setFixedSize(FACE_PX, FACE_PX)
        self.question_label = QLabel("")
        self.question_label.setObjectName("uncertainQuestion")
        self.hint = QLabel("Press Yes to be marked present.")
        self.hint.setObjectName("uncertainHint")
        self.yes_button = QPushButton("Yes")
        self.yes_button.setObjectName("uncertainYes")
        self.no_button = QPushButton("No")
        self.no_button.setObjectName("uncertainNo")
        self.time_bar = QProgressBar()
        self.time_bar.setTextVisible(False)
        self.time_bar.setRange(0, 1000)
        self.question_label.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.setSpacing(14)
        buttons.addWidget(self.yes_button, 1)
        buttons.addWidget(self.no_button, 1)
        text = QVBoxLayout()
        text.addWidget(self.question_label)
        text.addWidget(self.hint)
        text.addLayout(buttons)
        text.addWidget(self.time_bar)
        row = QHBoxLayout(self)
        row.setContentsMargins(20, 16, 20, 16)
        row.setSpacing(18)
        row.addWidget(self.face, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addLayout(text, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.yes_button.clicked.connect(lambda: self._finish(UncertainAnswer.YES))
        self.no_button.clicked.connect(lambda: self._finish(UncertainAnswer.NO))
        parent.installEventFilter(self)
        self._fit()
        self.hide()

    @property
    def question(self) -> UncertainQuestion | None:
        return self._question

    def ask(self, question: UncertainQuestion | None) -> None:
        """Put a question (a new one replaces nothing while one is open); None hides an answered one."""
        if question is None or question is self._question or question.answered:
            return
        if self._question is not None and not self._question.answered:
            return  # one question at a time
        self._question, self._shown_at = question, time.monotonic()
        self.question_label.setText(f"Are you {question.name}?")
        self.face.setPixmap(rounded_pixmap(pixmap_from_jpeg(question.crop_jpeg), FACE_PX, 12))
        self.time_bar.setValue(self.time_bar.maximum())
        self._fit()
        self.show()
        self.raise_()
        self.timer.start()

    def remaining_s(self) -> float:
        if self._question is None:
            return 0.0
        return max(0.0, self._question.timeout_s - (time.monotonic() - self._shown_at))

    def _tick(self) -> None:
        if self._question is None:
            return
        left = self.remaining_s()
        self.time_bar.setValue(int(self.time_bar.maximum() * left / max(self._question.timeout_s, 1e-6)))
        if left <= 0:
            self._finish(UncertainAnswer.TIMED_OUT)

    def _finish(self, answer: UncertainAnswer) -> None:
        question = self._question
        self.timer.stop()
        self.hide()
        if question is not None and not question.answered:
            self.answered.emit(question, answer)

    def clear(self) -> None:
        """The source stopped: drop an open question unanswered (nobody is marked, nothing recorded)."""
        self.timer.stop()
        self._question = None
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if watched is self.parent() and event.type() == QEvent.Type.Resize:
            self._fit()
        return False

    def _fit(self) -> None:
        parent = self.parentWidget()
        margin = 12
        height = max(MIN_HEIGHT_PX, min(MAX_HEIGHT_PX, int(parent.height() * HEIGHT_SHARE)))
        self.setGeometry(margin, parent.height() - height - margin, parent.width() - 2 * margin, height)
