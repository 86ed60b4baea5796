"""The kiosk's liveness prompt: a large arrow, one short instruction, the step and the time left.

Drawn over the top of the live video while a recognised person is asked for a head movement
(core.live.challenge). Made to be read from a step away and through glasses: big bold text, an
arrow drawn as a shape (not a font glyph), white on a dark panel, and a time bar as well as the
seconds. Switched off with Settings > "Ask recognised people to move their head".
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPolygonF
from PySide6.QtWidgets import QWidget

from core.live.challenge import ChallengePrompt
from core.vision.challenge import HeadMove

INSTRUCTIONS = {
    HeadMove.TURN_LEFT: "Turn your head to your left",
    HeadMove.TURN_RIGHT: "Turn your head to your right",
    HeadMove.LOOK_UP: "Look up",
}
HINT = "Slowly, and keep your face in view. Glasses can stay on."
PANEL_COLOR = QColor(17, 24, 39, 225)
ACCENT = QColor("#38bdf8")
LOW_TIME = QColor("#f59e0b")
LOW_TIME_S = 2.0


def arrow_polygon(move: HeadMove, box: QRectF) -> QPolygonF:
    """A bold arrow filling `box`, pointing the way the person should move (their left is the
    screen's left as they face it)."""
    w, h = box.width(), box.height()
    shaft, head = 0.36, 0.5  # shaft thickness and head length as shares of the box
    # pointing right, in unit coordinates
    unit = [
        (0.0, 0.5 - shaft / 2),
        (1 - head, 0.5 - shaft / 2),
        (1 - head, 0.0),
        (1.0, 0.5),
        (1 - head, 1.0),
        (1 - head, 0.5 + shaft / 2),
        (0.0, 0.5 + shaft / 2),
    ]
    if move is HeadMove.TURN_LEFT:
        unit = [(1 - x, y) for x, y in unit]
    elif move is HeadMove.LOOK_UP:
        unit = [(y, 1 - x) for x, y in unit]
    return QPolygonF([QPointF(box.left() + x * w, box.top() + y * h) for x, y in unit])


def fitted(font: QFont, text: str, width: float, largest: int, smallest: int) -> QFont:
    """`font` at the largest pixel size (from `largest` down to `smallest`) at which `text` fits `width`."""
    fitted_font = QFont(font)
    for size in range(largest, smallest - 1, -1):
        fitted_font.setPixelSize(size)
        if QFontMetrics(fitted_font).horizontalAdvance(text) <= width:
            break
    return fitted_font


class ChallengePromptOverlay(QWidget):
    """Lies over the bottom of its parent (the video view), below the face, and follows its size;
    hidden when idle."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._prompt: ChallengePrompt | None = None
        self._name = ""
        parent.installEventFilter(self)
        self._fit()
        self.hide()

    @property
    def prompt(self) -> ChallengePrompt | None:
        return self._prompt

    def show_prompt(self, prompt: ChallengePrompt | None, name: str = "") -> None:
        """Show (or update) the prompt for a person; None hides it."""
        self._prompt, self._name = prompt, name
        if prompt is None:
            self.hide()
            return
        self._fit()
        self.show()
        self.raise_()
        self.update()

    def instruction(self) -> str:
        return INSTRUCTIONS[self._prompt.move] if self._prompt else ""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if watched is self.parent() and event.type() == QEvent.Type.Resize:
            self._fit()
        return False

    def _fit(self) -> None:
        parent = self.parentWidget()
        height = max(150, min(230, int(parent.height() * 0.34)))
        self.setGeometry(0, parent.height() - height, parent.width(), height)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        prompt = self._prompt
        if prompt is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        margin = 12.0
        panel = QRectF(self.rect()).adjusted(margin, margin, -margin, -margin)
        path = QPainterPath()
        path.addRoundedRect(panel, 16, 16)
        painter.fillPath(path, PANEL_COLOR)

        low = prompt.remaining_s <= LOW_TIME_S
        color = LOW_TIME if low else ACCENT
        side = panel.height() - 40
        arrow_box = QRectF(panel.left() + 24, panel.top() + 20, side * 1.2, side)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawPolygon(arrow_polygon(prompt.move, arrow_box))

        left = arrow_box.right() + 28
        text_width = panel.right() - left - 24
        font = QFont(self.font())
        font.setBold(True)
        greeting = f"{self._name}, one more check" if self._name else "One more check"
        step = f"{greeting}  ·  step {prompt.step + 1} of {prompt.steps}"
        font = fitted(font, step, text_width, max(16, int(panel.height() * 0.13)), 12)
        painter.setFont(font)
        painter.setPen(QColor("#cbd5e1"))
        painter.drawText(
            QRectF(left, panel.top() + 14, text_width, font.pixelSize() * 1.5),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            step,
        )

        big = fitted(font, self.instruction(), text_width, max(24, int(panel.height() * 0.25)), 18)
        painter.setFont(big)
        painter.setPen(QColor("white"))
        instruction_top = panel.top() + 14 + font.pixelSize() * 1.5
        painter.drawText(
            QRectF(left, instruction_top, text_width, big.pixelSize() * 1.4),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            self.instruction(),
        )

        plain = QFont(font)
        plain.setBold(False)
        small = fitted(plain, HINT, text_width, max(13, int(panel.height() * 0.09)), 11)
        painter.setFont(small)
        painter.setPen(QColor("#cbd5e1"))
        hint_top = instruction_top + big.pixelSize() * 1.4
        painter.drawText(
            QRectF(left, hint_top, text_width, small.pixelSize() * 1.5),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            HINT,
        )

        # the time left: a bar and the seconds
        bar_top = panel.bottom() - 30
        seconds = f"{prompt.remaining_s:.0f} s"
        painter.setFont(font)
        seconds_width = painter.fontMetrics().horizontalAdvance("00 s") + 12
        track = QRectF(left, bar_top, text_width - seconds_width, 14)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 255, 255, 50))
        painter.drawRoundedRect(track, 7, 7)
        share = max(0.0, min(1.0, prompt.remaining_s / max(prompt.time_s, 1e-6)))
        painter.setBrush(color)
        painter.drawRoundedRect(QRectF(track.left(), track.top(), track.width() * share, track.height()), 7, 7)
        painter.setPen(color)
        painter.drawText(
            QRectF(track.right() + 8, bar_top - 8, seconds_width, 30),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            seconds,
        )
        painter.end()
