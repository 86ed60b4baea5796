"""The main window: a sidebar of panels, the status bar (device, model, gallery) and clean shutdown."""

from __future__ import annotations

import logging

from PySide6.QtCore import QMargins, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.app.changes import ChangeKind, Changes
from core.app.engine import Engine, ReembedProgress
from core.base.errors import RollcallError

from . import workers
from .admin import AdminGuard
from .dialogs import show_error
from .live import preload_libraries
from .menus import build_menus
from .panels.attendance import AttendancePanel
from .panels.enroll import EnrollPanel
from .panels.people import PeoplePanel
from .panels.recognize import RecognizePanel
from .panels.review import ReviewPanel
from .settings_dialog import SettingsDialog
from .text import plural
from .widgets import icon, scrolling
from .workers import Job

log = logging.getLogger(__name__)

PREFERRED_SIZE = QSize(1280, 800)  # the window's first size where the screen has room for it
CHECKPOINT_CHECK_MS = 5 * 60 * 1000  # how often the window asks whether a checkpoint is due


def opening_geometry(available: QRect, frame: QMargins, preferred: QSize = PREFERRED_SIZE) -> QRect:
    """The window's first place (its inside, without the frame): the preferred size where the screen's free
    area (less the taskbar and the window's frame) has room, else as much as it has; centred in that area."""
    room_w = available.width() - frame.left() - frame.right()
    room_h = available.height() - frame.top() - frame.bottom()
    width, height = min(preferred.width(), room_w), min(preferred.height(), room_h)
    left = available.x() + frame.left() + (room_w - width) // 2
    top = available.y() + frame.top() + (room_h - height) // 2
    return QRect(left, top, width, height)


def models_panel(engine: Engine) -> QWidget:
    """The full edition trains here; the kiosk edition (no torch) installs models trained elsewhere."""
    from core.vision.onnx_files import torch_available

    if torch_available():
        from .retrain_panel import RetrainPanel

        return RetrainPanel(engine)
    from .models_panel import KioskModelsPanel

    return KioskModelsPanel(engine)


class MainWindow(QMainWindow):
    PANELS = ("recognize", "enroll", "people", "review", "attendance", "models")
    GUARDED = frozenset({"enroll", "people", "review", "attendance", "models"})  # the admin PIN, when one is set
    changed = Signal(object)  # the engine's Changes, from whichever thread made them, delivered on the GUI thread

    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        preload_libraries(engine.device)
        self.engine = engine
        self.model_job: Job | None = None
        self.guard = AdminGuard(lambda: self.engine.settings, self)
        self.setWindowTitle("Rollcall")
        self.setWindowIcon(icon("rollcall"))
        self._fitted_with_frame = False
        self.checkpoint_timer = QTimer(self)  # a quiet station's last entries are signed too (core.app.trust_ops)
        self.checkpoint_timer.timeout.connect(self.sign_checkpoint)
        self.checkpoint_timer.start(CHECKPOINT_CHECK_MS)

        self.recognize_panel = RecognizePanel(engine)
        self.enroll_panel = EnrollPanel(engine)
        self.people_panel = PeoplePanel(engine)
        self.review_panel = ReviewPanel(engine)
        self.attendance_panel = AttendancePanel(engine)
        self.retrain_panel = models_panel(engine)
        panels = [
            self.recognize_panel,
            self.enroll_panel,
            self.people_panel,
            self.review_panel,
            self.attendance_panel,
            self.retrain_panel,
        ]
        titles = ["Recognize", "Enroll", "People", "Review", "Attendance", "Models"]
        icons = ["recognize", "enroll", "people", "review", "attendance", "models"]

        self.stack = QStackedWidget()
        self.stack.setObjectName("content")
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setIconSize(QSize(20, 20))
        self.panels = panels
        for panel, title, icon_name in zip(panels, titles, icons):
            self.stack.addWidget(scrolling(panel, "panelScroll"))  # 1024 x 700 scrolls a panel instead of cutting it
            self.nav.addItem(QListWidgetItem(icon(icon_name, light=True), title))
        self.nav.setCurrentRow(0)
        self.nav.currentRowChanged.connect(self._on_nav_row)

        brand = QLabel("Rollcall")
        brand.setObjectName("brand")
        brand_sub = QLabel("Face attendance")
        brand_sub.setObjectName("brandSub")
        self.settings_button = QPushButton(icon("settings", light=True), "Settings")
        self.settings_button.setObjectName("sidebarButton")
        self.settings_button.clicked.connect(lambda: self.open_settings())
        self.lock_button = QPushButton("Lock")
        self.lock_button.setObjectName("sidebarButton")
        self.lock_button.setToolTip("Lock the admin panels again; Recognize stays open.")
        self.lock_button.clicked.connect(lambda: self.lock_admin())
        self.lock_button.setVisible(False)
        sidebar = QWidget()
        sidebar.setObjectName("sidebar")
        sidebar.setFixedWidth(200)
        sidebar.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        side = QVBoxLayout(sidebar)
        side.setContentsMargins(12, 18, 12, 14)
        side.setSpacing(4)
        side.addWidget(brand)
        side.addWidget(brand_sub)
        side.addWidget(self.nav, 1)
        side.addWidget(self.lock_button)
        side.addWidget(self.settings_button)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.device_label = QLabel()
        self.model_label = QLabel()
        self.gallery_label = QLabel()
        self.site_label = QLabel()  # site mode: connection and queue
        self.notice_label = QLabel()  # why a fused model runs degraded (fusion notices); hidden when none
        self.notice_label.setVisible(False)
        self.job_progress = QProgressBar()
        self.job_progress.setMaximumWidth(220)
        self.job_progress.setVisible(False)
        for widget in (
            self.job_progress,
            self.notice_label,
            self.site_label,
            self.device_label,
            self.model_label,
            self.gallery_label,
        ):
            self.statusBar().addPermanentWidget(widget)
        self.statusBar().setSizeGripEnabled(False)

        self.actions_by_name = build_menus(self)

        self.enroll_panel.camera_needed.connect(lambda: self.recognize_panel.stop(wait=True))
        self.recognize_panel.camera_needed.connect(lambda: self.enroll_panel.stop_capture(wait=True))
        self.recognize_panel.running_changed.connect(self._on_recognize_running)
        self.retrain_panel.model_activated.connect(self.on_model_activated)
        self.changed.connect(self.on_changes)
        self._unsubscribe = engine.subscribe(self.changed.emit)
        self.recognize_panel.source_status.connect(lambda message: self.statusBar().showMessage(message, 10_000))
        self.guard.locked.connect(self._on_guard_locked)
        self.guard.unlocked.connect(self._update_lock_button)
        self.update_status()
        self.fit_to_screen()
        self.engine.start_site_sync()  # a site station syncs in the background while the app runs
        self.engine.start_integration_delivery()  # ERPNext, Odoo, webhooks (no-op without targets)

    # ---- the screen it opens on ----

    def fit_to_screen(self) -> QRect:
        """Size and place the window inside its screen's free area (a 1024×700 screen gets a 1024×700 window,
        the status bar and Settings on screen); returns the window's inside geometry."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            self.resize(PREFERRED_SIZE)
            return self.geometry()
        frame = self.frameGeometry()
        inside = self.geometry()
        margins = QMargins(
            inside.left() - frame.left(),
            inside.top() - frame.top(),
            frame.right() - inside.right(),
            frame.bottom() - inside.bottom(),
        )
        place = opening_geometry(screen.availableGeometry(), margins)
        self.setGeometry(place)
        return place

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._fitted_with_frame:  # once shown, the window manager's frame is known: fit again with it
            self._fitted_with_frame = True
            if not self.isFullScreen() and not self.isMaximized():
                QTimer.singleShot(0, self._fit_if_off_screen)

    def _fit_if_off_screen(self) -> None:
        screen = self.screen()
        if screen is not None and not screen.availableGeometry().contains(self.frameGeometry()):
            self.fit_to_screen()

    # ---- navigation ----

    def show_panel(self, name: str) -> QWidget:
        """Switch to a panel (asking for the admin PIN where needed); returns the panel's widget."""
        index = self.PANELS.index(name)
        self.nav.setCurrentRow(index)
        return self.panels[index]

    def current_panel(self) -> str:
        return self.PANELS[self.stack.currentIndex()]

    def _on_nav_row(self, row: int) -> None:
        if row < 0 or row == self.stack.currentIndex():
            return
        name = self.PANELS[row]
        if name in self.GUARDED and not self.guard.unlock(self):
            self._select_row(self.stack.currentIndex())  # refused: stay where we were
            # the click that opened the PIN prompt ends after it closed and would select its row again
            QTimer.singleShot(0, lambda: self._select_row(self.stack.currentIndex()))
            return
        self.stack.setCurrentIndex(row)
        if name == "recognize":
            self.guard.lock()  # back at the kiosk view: the admin panels close again

    def _select_row(self, row: int) -> None:
        blocked = self.nav.blockSignals(True)
        try:
            self.nav.setCurrentRow(row)
            self.nav.clearSelection()
            self.nav.item(row).setSelected(True)
        finally:
            self.nav.blockSignals(blocked)

    # ---- the menu's actions ----

    def import_photos(self) -> None:
        """File → Import photos: a folder with one sub-folder of photos per person, on the Enroll panel."""
        if self.show_panel("enroll") is self.enroll_panel and self.current_panel() == "enroll":
            self.enroll_panel.import_folder()

    def export_attendance(self) -> None:
        """File → Export: the Attendance panel's export of the range it shows."""
        if self.show_panel("attendance") is self.attendance_panel and self.current_panel() == "attendance":
            self.attendance_panel.export()

    # ---- admin PIN ----

    def lock_admin(self) -> None:
        """Lock pressed: close the guard and go back to Recognize."""
        self.guard.lock()
        self._on_guard_locked()

    def _on_guard_locked(self) -> None:
        if self.guard.enabled and self.current_panel() in self.GUARDED:
            self._select_row(0)
            self.stack.setCurrentIndex(0)
            self.statusBar().showMessage("Locked. Enter the admin PIN to open the other panels.", 5000)
        self._update_lock_button()

    def _update_lock_button(self) -> None:
        self.lock_button.setVisible(self.guard.enabled and self.guard.is_unlocked())

    # ---- status ----

    def update_status(self) -> None:
        try:
            stats = self.engine.stats()
            model = self.engine.active_model_id()
        except RollcallError as exc:
            self.statusBar().showMessage(str(exc))
            return
        self.device_label.setText(f"Device: {self.engine.device_description}")
        self.model_label.setText(f"Model: {model}")
        people, samples = stats.people, stats.samples
        self.gallery_label.setText(f"Gallery: {plural(people, 'person')}, {plural(samples, 'sample')}")
        self.update_site_status()
        self.update_notices()

    def update_notices(self) -> None:
        """The engine's fusion notices (e.g. running on FaceNet alone), shown while there are any."""
        notices = self.engine.fusion_notices()
        self.notice_label.setText(" · ".join(notices))
        self.notice_label.setToolTip("\n".join(notices))
        self.notice_label.setVisible(bool(notices))

    def update_site_status(self) -> None:
        """Site: role, connected or offline, and the events still queued (read locally, no network)."""
        try:
            status = self.engine.site_status(check_server=False)
        except RollcallError as exc:
            self.site_label.setText(f"Site: {exc}")
            return
        self.site_label.setVisible(status.role != "standalone")
        if status.role == "standalone":
            return
        state = "offline" if status.error else ("connected" if status.last_sync else "not synced yet")
        self.site_label.setText(f"Site: {status.role} {status.station} · {state} · {status.queue} queued")
        last = f"; last sync {status.last_sync.astimezone():%H:%M:%S}" if status.last_sync else ""
        self.site_label.setToolTip(status.error or f"{status.server}{last}")

    def on_changes(self, changes: Changes) -> None:
        """Every engine change arrives here; each panel refreshes only for the kinds it shows."""
        for panel in (
            self.recognize_panel,
            self.enroll_panel,
            self.people_panel,
            self.review_panel,
            self.attendance_panel,
            self.retrain_panel,
        ):
            on_changes = getattr(panel, "on_changes", None)
            if on_changes is not None:
                on_changes(changes)
        if changes.touches(ChangeKind.PEOPLE, ChangeKind.SAMPLES, ChangeKind.MODELS, ChangeKind.SETTINGS):
            self.update_status()
        elif changes.touches(ChangeKind.SITE, ChangeKind.EVENTS):
            self.update_site_status()
        if changes.touches(ChangeKind.SITE):
            self.engine.start_site_sync()  # joined from Settings → Site (no-op when running or standalone)

    def on_model_activated(self, model_id: str) -> None:
        self.statusBar().showMessage(f"Model {model_id} is now active.", 8000)

    def _on_recognize_running(self, running: bool) -> None:
        self.statusBar().showMessage("Recognizing…" if running else "", 0 if running else 3000)
        self.update_notices()

    # ---- settings ----

    def open_settings(self) -> None:
        if not self.guard.unlock(self):
            return
        dialog = SettingsDialog(self.engine, self)
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        self.settings_applied(dialog)

    def settings_applied(self, dialog: SettingsDialog) -> None:
        self.recognize_panel.sound_box.setChecked(self.engine.settings.attendance.sound_on_mark)
        message = "Settings saved. They apply the next time recognition starts."
        if dialog.needs_restart:
            message = "Settings saved. Restart Rollcall to use the new device or data folder."
        if getattr(dialog, "pin_changed", False):
            if self.guard.enabled:
                self.guard.grant()  # the admin just typed the new PIN twice
                message = "Settings saved. The admin PIN is set; press Lock when you leave."
            else:
                self.guard.lock()
                message = "Settings saved. The admin PIN was removed."
            self._update_lock_button()
        self.statusBar().showMessage(message, 8000)
        if dialog.model_to_activate:
            self.start_model_activation(dialog.model_to_activate)
        self.update_status()

    def start_model_activation(self, model_id: str) -> None:
        if self.model_job is not None:
            return
        self.model_job = Job(self.engine.activation, model_id, name="activate model")
        self.model_job.yielded.connect(self._on_reembed_progress)
        self.model_job.returned.connect(lambda outcome: self.on_model_activated(outcome.value))
        self.model_job.failed.connect(lambda message: show_error(self, message))
        self.model_job.finished.connect(self._on_model_job_finished)
        self.job_progress.setRange(0, 0)
        self.job_progress.setFormat(f"Switching to {model_id}…")
        self.job_progress.setVisible(True)
        self.model_job.start()

    def _on_reembed_progress(self, step: object) -> None:
        if isinstance(step, ReembedProgress):
            self.job_progress.setRange(0, max(step.total, 1))
            self.job_progress.setValue(step.done)
            self.job_progress.setFormat(f"Re-embedding {step.done}/{step.total}")

    def _on_model_job_finished(self) -> None:
        self.model_job = None
        self.job_progress.setVisible(False)
        self.update_status()

    # ---- shutdown ----

    def shutdown(self) -> None:
        """Stop every worker and join its thread."""
        self._unsubscribe()
        self.engine.stop_site_sync()
        self.engine.stop_integration_delivery()
        self.guard.close()
        self.recognize_panel.stop(wait=True)
        self.enroll_panel.stop()
        self.people_panel.stop()
        self.review_panel.stop()
        stop_retrain = getattr(self.retrain_panel, "shutdown", None) or getattr(self.retrain_panel, "stop", None)
        if callable(stop_retrain):
            try:
                stop_retrain()
            except Exception:  # never block closing the window
                log.exception("Stopping the retrain panel failed")
        if not workers.stop_all():
            log.warning("Some jobs did not stop in time: %s", [job.name for job in workers.live_jobs()])

    def sign_checkpoint(self) -> None:
        """Sign the chain's head when storage.checkpoint_minutes have passed since the last checkpoint."""
        try:
            self.engine.checkpoint_if_due()
        except (RollcallError, OSError) as exc:
            log.warning("Cannot sign a checkpoint of the chain: %s", exc)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
        self.shutdown()
        super().closeEvent(event)
