"""Shared widgets: the video view with face overlays, thumbnails, the source picker and image helpers."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPainterPath, QPen, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from core.base.resources import app_root, resource_path
from core.base.settings import CameraSettings

from .files import open_file, open_folder

# ---- images ----


def qimage_from_bgr(image: np.ndarray) -> QImage:
    """A QImage that owns a copy of a BGR uint8 frame (safe to build in a worker thread)."""
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    return QImage(image.data, width, height, image.strides[0], QImage.Format.Format_BGR888).copy()


def qimage_from_rgb(image: np.ndarray) -> QImage:
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    return QImage(image.data, width, height, image.strides[0], QImage.Format.Format_RGB888).copy()


def pixmap_from_jpeg(data: bytes | None, size: int | None = None) -> QPixmap:
    pixmap = QPixmap()
    if data:
        pixmap.loadFromData(data, "JPEG")
    if size and not pixmap.isNull():
        pixmap = pixmap.scaled(
            size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
    return pixmap


def rounded_pixmap(pixmap: QPixmap, size: int, radius: float = 8.0) -> QPixmap:
    """The pixmap cropped to a square with rounded corners (thumbnails in lists)."""
    result = QPixmap(size, size)
    result.fill(Qt.GlobalColor.transparent)
    if pixmap.isNull():
        return result
    scaled = pixmap.scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatioByExpanding, Qt.TransformationMode.SmoothTransformation
    )
    painter = QPainter(result)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    path = QPainterPath()
    path.addRoundedRect(QRectF(0, 0, size, size), radius, radius)
    painter.setClipPath(path)
    painter.drawPixmap((size - scaled.width()) // 2, (size - scaled.height()) // 2, scaled)
    painter.end()
    return result


def icon(name: str, light: bool = False) -> QIcon:
    """A line icon from resources/icons (light=True: the white variant for dark or accent backgrounds)."""
    path = resource_path("icons", f"{name}-light.svg" if light else f"{name}.svg")
    return QIcon(str(path)) if path.exists() else QIcon()


# ---- the video view ----

COLORS = {
    "known": QColor("#22c55e"),
    "pending": QColor("#f59e0b"),
    "unknown": QColor("#ef4444"),
    "too_small": QColor("#94a3b8"),
    "chosen": QColor("#22c55e"),
    "other": QColor("#f59e0b"),
}


@dataclass
class Overlay:
    """A box drawn over the video: frame-pixel coordinates, a label and a kind (picks the colour)."""

    box: tuple[float, float, float, float]
    label: str
    kind: str


class VideoView(QWidget):
    """Paints the newest frame scaled to fit, with face boxes, labels, an fps figure and a banner."""

    def __init__(self, parent: QWidget | None = None, placeholder: str = "No video"):
        super().__init__(parent)
        self.setMinimumSize(320, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._image: QImage | None = None
        self._overlays: list[Overlay] = []
        self._fps: float | None = None
        self._banner = ""
        self._banner_kind = "info"
        self._placeholder = placeholder
        self.frames_shown = 0

    def set_frame(self, image: QImage | None, overlays: list[Overlay], fps: float | None = None) -> None:
        if image is not None:
            self._image = image
            self.frames_shown += 1
        self._overlays = overlays
        self._fps = fps
        self.update()

    def set_banner(self, text: str, kind: str = "info") -> None:
        self._banner, self._banner_kind = text, kind
        self.update()

    @property
    def banner(self) -> str:
        return self._banner

    def clear(self, placeholder: str | None = None) -> None:
        self._image, self._overlays, self._fps = None, [], None
        if placeholder is not None:
            self._placeholder = placeholder
        self.update()

    def has_frame(self) -> bool:
        return self._image is not None

    def sizeHint(self) -> QSize:
        return QSize(800, 500)

    def _image_rect(self) -> QRectF:
        assert self._image is not None
        w, h = self._image.width(), self._image.height()
        scale = min(self.width() / w, self.height() / h)
        return QRectF((self.width() - w * scale) / 2, (self.height() - h * scale) / 2, w * scale, h * scale)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), QColor("#111827"))
        if self._image is None:
            painter.setPen(QColor("#9ca3af"))
            font = QFont(self.font())
            font.setPointSizeF(font.pointSizeF() * 1.2)
            painter.setFont(font)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder)
        else:
            target = self._image_rect()
            painter.drawImage(target, self._image)
            scale = target.width() / self._image.width()
            for overlay in self._overlays:
                self._draw_overlay(painter, overlay, target, scale)
            if self._fps is not None:
                self._draw_pill(
                    painter,
                    f"{self._fps:.1f} fps",
                    QPointF(target.right() - 10, target.top() + 10),
                    QColor(17, 24, 39, 190),
                    Qt.AlignmentFlag.AlignRight,
                )
        if self._banner:
            colors = {
                "info": QColor(17, 24, 39, 210),
                "good": QColor(21, 128, 61, 230),
                "warn": QColor(180, 83, 9, 230),
                "error": QColor(185, 28, 28, 230),
            }
            font = QFont(self.font())
            font.setPointSizeF(font.pointSizeF() * 1.25)
            font.setBold(True)
            painter.setFont(font)
            self._draw_pill(
                painter,
                self._banner,
                QPointF(self.width() / 2, self.height() - 24),
                colors.get(self._banner_kind, colors["info"]),
                Qt.AlignmentFlag.AlignHCenter,
                padding=10,
            )
        painter.end()

    def _draw_overlay(self, painter: QPainter, overlay: Overlay, target: QRectF, scale: float) -> None:
        x1, y1, x2, y2 = overlay.box
        rect = QRectF(target.left() + x1 * scale, target.top() + y1 * scale, (x2 - x1) * scale, (y2 - y1) * scale)
        color = COLORS.get(overlay.kind, COLORS["pending"])
        painter.setPen(QPen(color, 2.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect, 4, 4)
        if not overlay.label:
            return
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        text_w, text_h = metrics.horizontalAdvance(overlay.label) + 12, metrics.height() + 6
        top = rect.top() - text_h - 2 if rect.top() - text_h - 2 >= target.top() else rect.bottom() + 2
        label_rect = QRectF(rect.left(), top, text_w, text_h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawRoundedRect(label_rect, 4, 4)
        dark_text = overlay.kind in ("pending", "known", "chosen", "other")
        painter.setPen(QColor("#0b1020") if dark_text else QColor("white"))
        painter.drawText(label_rect, Qt.AlignmentFlag.AlignCenter, overlay.label)

    def _draw_pill(
        self, painter: QPainter, text: str, anchor: QPointF, color: QColor, align: Qt.AlignmentFlag, padding: int = 6
    ) -> None:
        metrics = painter.fontMetrics()
        width = metrics.horizontalAdvance(text) + 2 * padding + 4
        height = metrics.height() + padding
        if align == Qt.AlignmentFlag.AlignRight:
            rect = QRectF(anchor.x() - width, anchor.y(), width, height)
        elif align == Qt.AlignmentFlag.AlignHCenter:
            rect = QRectF(anchor.x() - width / 2, anchor.y() - height, width, height)
        else:
            rect = QRectF(anchor.x(), anchor.y(), width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawRoundedRect(rect, height / 2, height / 2)
        painter.setPen(QColor("white"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)


# ---- thumbnails ----


class ThumbnailStrip(QListWidget):
    """A row (or grid) of face thumbnails; each item's data holds an id or a payload."""

    def __init__(self, parent: QWidget | None = None, size: int = 72, wrap: bool = False):
        super().__init__(parent)
        self.thumb_size = size
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(size, size))
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.setSpacing(4)
        self.setUniformItemSizes(True)
        self.setWrapping(True)
        self.setFlow(QListView.Flow.LeftToRight)
        if not wrap:
            self.setWrapping(False)
            self.setFixedHeight(size + 24)
            self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
            self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def add_pixmap(self, pixmap: QPixmap, data: object = None, tooltip: str = "") -> QListWidgetItem:
        item = QListWidgetItem(QIcon(rounded_pixmap(pixmap, self.thumb_size)), "")
        item.setData(Qt.ItemDataRole.UserRole, data)
        item.setToolTip(tooltip)
        item.setSizeHint(QSize(self.thumb_size + 8, self.thumb_size + 8))
        self.addItem(item)
        self.scrollToItem(item)
        return item

    def add_rgb(self, rgb: np.ndarray, data: object = None, tooltip: str = "") -> QListWidgetItem:
        return self.add_pixmap(QPixmap.fromImage(qimage_from_rgb(rgb)), data, tooltip)

    def add_jpeg(self, jpeg: bytes, data: object = None, tooltip: str = "") -> QListWidgetItem:
        return self.add_pixmap(pixmap_from_jpeg(jpeg), data, tooltip)

    def payloads(self) -> list[object]:
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())]


# ---- small layout helpers ----


class PageScroll(QScrollArea):
    """A page that fills its area and scrolls only below its minimum size. (A resizable QScrollArea lays a
    page with word-wrapped labels out at its preferred height, so a page that fits would scroll anyway.)"""

    def __init__(self, page: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidget(page)
        page.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self._fit()
        return super().eventFilter(watched, event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        page = self.widget()
        least = page.minimumSizeHint().expandedTo(page.minimumSize())
        room = self.contentsRect().size()
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        width, height = room.width(), room.height()
        if least.height() > height:
            width -= bar
        if least.width() > width:
            height -= bar
            if least.height() > height and least.height() <= room.height():
                width -= bar
        page.resize(max(width, least.width()), max(height, least.height()))


def scrolling(widget: QWidget, name: str = "pageScroll") -> QScrollArea:
    """The widget in a frameless scroll area that grows with it: a small screen scrolls instead of cutting."""
    scroll = PageScroll(widget)
    scroll.setObjectName(name)
    return scroll


def styled_label(text: str, style: str = "muted") -> QLabel:
    """A wrapping label in one of the style sheet's label styles ("muted", "cardTitle", "note")."""
    label = QLabel(text)
    label.setObjectName(style)
    label.setWordWrap(True)
    return label


class Card(QFrame):
    """A white panel with a title, used to group controls."""

    def __init__(self, title: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("card")
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(16, 14, 16, 16)
        self.body.setSpacing(10)
        if title:
            label = QLabel(title)
            label.setObjectName("cardTitle")
            self.body.addWidget(label)


def panel_header(title: str, subtitle: str = "") -> QWidget:
    header = QWidget()
    layout = QVBoxLayout(header)
    layout.setContentsMargins(0, 0, 0, 4)
    layout.setSpacing(2)
    heading = QLabel(title)
    heading.setObjectName("panelTitle")
    layout.addWidget(heading)
    if subtitle:
        sub = QLabel(subtitle)
        sub.setObjectName("panelSubtitle")
        sub.setWordWrap(True)
        layout.addWidget(sub)
    return header


def hbox(*widgets, stretch_at: int | None = None, spacing: int = 8) -> QHBoxLayout:
    layout = QHBoxLayout()
    layout.setSpacing(spacing)
    for index, widget in enumerate(widgets):
        if index == stretch_at:
            layout.addStretch(1)
        if isinstance(widget, QWidget):
            layout.addWidget(widget)
        elif widget is None:
            layout.addStretch(1)
        else:
            layout.addLayout(widget)
    return layout


# ---- sources ----

DEMO_VIDEO_NAME = "hamilton_640x360.mp4"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v")


def demo_video(configured: str = "") -> Path | None:
    """The demo source: settings.camera.demo_video, a video in resources/demo, or the shared clip beside
    the checkout."""
    candidates: list[Path] = []
    if configured:
        candidates.append(Path(configured).expanduser())
    demo_dir = resource_path("demo")
    if demo_dir.is_dir():
        candidates += sorted(p for p in demo_dir.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    candidates.append(app_root().parent / "shared" / "data" / "faces" / "video" / DEMO_VIDEO_NAME)
    return next((p for p in candidates if p.is_file()), None)


@functools.lru_cache(maxsize=1)
def find_cameras() -> tuple[int, ...]:
    """Webcam indices that open (probed once per run)."""
    from core.live.live_sources import list_cameras

    try:
        return tuple(list_cameras())
    except Exception:  # a broken camera driver must not stop the app from starting
        return ()


def _starting_source(camera: CameraSettings, cameras: tuple[int, ...]) -> str:
    """The source to preselect: the last one used while it still exists, else the configured camera."""
    last = camera.last_source.strip()
    if last.isdigit():
        if int(last) in cameras:
            return last
    elif last and ("://" in last or Path(last).expanduser().exists()):
        return last
    return str(camera.index) if camera.index in cameras else ""


class SourcePicker(QComboBox):
    """Choose what to watch: a webcam found, the demo video, a video file, an image folder or a URL.

    current_spec() is what core.live.sources.open_source() takes. `note` says why the default was chosen
    (for example: no webcam found, so the demo video is selected). It starts from the camera
    settings: the last source used when it is still there, else the configured camera.
    """

    spec_changed = Signal(str)
    _ACTIONS = ("video", "folder", "url")

    def __init__(self, camera: CameraSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        camera = camera or CameraSettings()
        self.setMinimumWidth(260)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._previous = 0
        self.note = ""
        cameras = find_cameras()
        for index in cameras:
            self.addItem(icon("camera"), f"Camera {index}", ("source", str(index)))
        demo = demo_video(camera.demo_video)
        if demo is not None:
            self.addItem(icon("film"), f"Demo video ({demo.name})", ("source", str(demo)))
        self.insertSeparator(self.count())
        self.addItem(icon("film"), "Video file…", ("action", "video"))
        self.addItem(icon("folder"), "Image folder…", ("action", "folder"))
        self.addItem(icon("link"), "Stream URL…", ("action", "url"))
        if cameras:
            self.note = ""
        elif demo is not None:
            self.note = (
                "No webcam found, so the demo video is selected. Connect a webcam and restart Rollcall, "
                "or choose a video file, an image folder or a stream URL."
            )
        else:
            self.note = (
                "No webcam found and the demo video is not installed. Choose a video file, "
                "an image folder or a stream URL."
            )
        self.setCurrentIndex(0 if (cameras or demo is not None) else -1)
        self._previous = self.currentIndex()
        self.note_spec = self.current_spec()  # the source `note` speaks of; another choice makes it stale
        start = _starting_source(camera, cameras)
        if start:
            self.set_spec(start)
        self.activated.connect(self._on_activated)

    def note_applies(self) -> bool:
        """The note still says why the current source was chosen (not after the user chose another)."""
        return bool(self.note) and self.current_spec() == self.note_spec

    def current_spec(self) -> str:
        data = self.currentData()
        return data[1] if data and data[0] == "source" else ""

    def set_spec(self, spec: str, label: str | None = None) -> None:
        """Select a source, adding it to the list if it is new."""
        for i in range(self.count()):
            data = self.itemData(i)
            if data and data == ("source", spec):
                self.setCurrentIndex(i)
                self._previous = i
                self.spec_changed.emit(spec)
                return
        separator = next((i for i in range(self.count()) if self.itemData(i) is None), self.count())
        path = Path(spec)
        kind = "folder" if path.is_dir() else "link" if "://" in spec else "film"
        self.insertItem(separator, icon(kind), label or (path.name if kind != "link" else spec), ("source", spec))
        self.setItemData(separator, spec, Qt.ItemDataRole.ToolTipRole)
        self.setCurrentIndex(separator)
        self._previous = separator
        self.spec_changed.emit(spec)

    def _on_activated(self, index: int) -> None:
        data = self.itemData(index)
        if not data:
            return
        kind, value = data
        if kind == "source":
            self._previous = index
            self.spec_changed.emit(value)
            return
        chosen = self._ask(value)
        if chosen:
            self.set_spec(chosen)
        else:
            self.setCurrentIndex(self._previous)

    def _ask(self, action: str) -> str:
        if action == "video":
            return open_file(
                self, "Choose a video file", "Videos (*.mp4 *.avi *.mkv *.mov *.webm *.m4v);;All files (*)"
            )
        if action == "folder":
            return open_folder(self, "Choose a folder of images")
        url, ok = QInputDialog.getText(self, "Stream URL", "Address of the stream (rtsp://, http://, https://):")
        return url.strip() if ok else ""
