"""Settings: edits the sections of one typed core.base.settings.Settings object and saves it with Settings.save().

Every field of a section not shown here keeps its value (the dialog edits a copy of the engine's settings)."""

from __future__ import annotations

import copy
import zoneinfo

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QGridLayout, QGroupBox, QLabel, QLineEdit, QPushButton, QSpinBox,
                               QVBoxLayout, QWidget)

from core.app.engine import Engine
from core.attendance.schedule import site_zone
from core.base.errors import InvalidInputError, RollcallError
from core.vision.models import BUILTIN_MODELS
from core.base.security import hash_pin
from core.base.settings import Device, Settings

from .calibration_view import CalibrationView
from .dialogs import show_error
from .widgets import hbox
from .workers import Job

DEVICE_LABELS = {Device.AUTO: "Automatic (GPU when available)", Device.CPU: "CPU", Device.CUDA: "NVIDIA GPU (CUDA)",
                 Device.MPS: "Apple GPU (MPS)"}
RESOLUTIONS = [(640, 480), (1280, 720), (1920, 1080)]


class SettingsDialog(QDialog):
    """OK saves the settings and applies them to the engine. `model_to_activate` is set when the
    active model changed: re-embedding the gallery is a long job the main window runs."""

    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(520)
        self.engine = engine
        self.model_to_activate: str | None = None
        self.needs_restart = False
        self.pin_changed = False  # set, changed or removed on OK
        current = engine.settings

        # recognition
        self.threshold = self._number(current.recognition.match_threshold, 0.0, 1.0, 0.01, 2,
                                      "Cosine similarity a face must reach to count as someone. Higher = stricter.")
        self.margin = self._number(current.recognition.match_margin, 0.0, 1.0, 0.01, 2,
                                   "The best person must beat the second-best by this much.")
        self.strangers = self._number(current.recognition.strangers_per_1000, 0.1, 1000.0, 1.0, 1,
                                      "Fused models set their threshold from the gallery for at most this many "
                                      "strangers marked as someone per 1,000. Lower = stricter.", " per 1,000")
        self.threshold_note = self._note(self._threshold_text(engine))
        self.ask_uncertain = QCheckBox("Ask uncertain faces \"Are you NAME?\"")
        self.ask_uncertain.setChecked(current.recognition.ask_when_uncertain)
        self.ask_uncertain.setToolTip(
            "A face just under the threshold for one person is asked, with Yes and No buttons, for "
            f"{current.recognition.ask_timeout_s:g} s. Yes marks them; No or no answer marks nobody and "
            "keeps the face as a confusion for retraining.")
        self.votes = self._whole(current.recognition.votes_to_mark, 1, 20,
                                 "Consistent recognitions of a face before the person is marked.")
        # attendance
        self.cooldown = self._number(current.attendance.cooldown_minutes, 0.0, 24 * 60, 1.0, 1,
                                     "No second event for a person within this time.", " min")
        self.checkout = QCheckBox("Also record the last sighting of the day as check-out")
        self.checkout.setChecked(current.attendance.checkout_mode)
        self.sound = QCheckBox("Beep when someone is marked")
        self.sound.setChecked(current.attendance.sound_on_mark)
        self.time_zone = QComboBox()  # the site's zone: schedules and reports are in its wall-clock time
        self.time_zone.setEditable(True)
        self.time_zone.addItem("This computer's time zone", "")
        for name in sorted(zoneinfo.available_timezones()):
            self.time_zone.addItem(name, name)
        index = self.time_zone.findData(current.attendance.time_zone)
        self.time_zone.setCurrentIndex(max(index, 0))
        self.time_zone.setToolTip("Schedules, day boundaries and reports use this zone (events are stored in UTC).")
        # liveness
        self.liveness = QCheckBox("Photo filter: refuse faces that move like a flat picture (first filter only)")
        self.liveness.setChecked(current.liveness.photo_filter)
        self.liveness.setToolTip("Mark a person only after their face has moved like a live face for about "
                                 "half a second. A first filter: it lets most printed photos and every video "
                                 "replay through. To stop photos and screens, ask people to move their head.")
        self.challenge = QCheckBox("Ask recognised people to move their head (challenge)")
        self.challenge.setChecked(current.liveness.challenge)
        self.challenge.setToolTip("Before marking, the kiosk asks for two head movements in a random order "
                                  f"(turn left, turn right, look up) within {current.liveness.challenge_time_s:g} s, "
                                  "and checks them from the face's landmarks. Stops photos and screens held up, "
                                  "however they are turned. Once a day per person.")

        # compute
        self.device = QComboBox()
        for device, label in DEVICE_LABELS.items():
            self.device.addItem(label, device.value)
        self._select(self.device, current.compute.device)
        self.model = QComboBox()
        known = {m.id: m.name for m in engine.models()}
        for model_id, spec in BUILTIN_MODELS.items():
            known.setdefault(model_id, spec.title)
        for model_id, title in known.items():
            self.model.addItem(f"{model_id}: {title}" if title != model_id else model_id, model_id)
        self._select(self.model, engine.active_model_id())

        # camera
        self.camera_index = self._whole(current.camera.index, 0, 99, "The webcam the source picker starts from.")
        self.resolution = QComboBox()
        sizes = list(RESOLUTIONS)
        if (current.camera.width_px, current.camera.height_px) not in sizes:
            sizes.append((current.camera.width_px, current.camera.height_px))
        for width, height in sizes:
            self.resolution.addItem(f"{width} × {height}", f"{width}x{height}")
        self._select(self.resolution, f"{current.camera.width_px}x{current.camera.height_px}")

        # storage
        self.data_dir = QLineEdit(current.storage.data_dir)
        self.data_dir.setPlaceholderText(str(current.data_path) if not current.storage.data_dir else "")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.backups_kept = self._whole(current.storage.backups_kept, 0, 365,
                                        "One automatic backup a day; this many are kept. 0 = none.")
        self.retention_days = self._whole(current.storage.retention_days, 0, 36_500,
                                          "Attendance events older than this are deleted. 0 = keep them all.",
                                          " days")

        recognition = QGroupBox("Recognition")
        form = self._form(recognition)
        form.addRow("Match threshold", self.threshold)
        form.addRow("Margin over the next person", self.margin)
        form.addRow("Strangers marked", self.strangers)
        form.addRow("", self.threshold_note)
        form.addRow("Votes to mark", self.votes)
        form.addRow("", self.ask_uncertain)
        form.addRow("", self.liveness)
        form.addRow("", self.challenge)
        attendance = QGroupBox("Attendance")
        form = self._form(attendance)
        form.addRow("Cooldown", self.cooldown)
        form.addRow("", self.checkout)
        form.addRow("", self.sound)
        form.addRow("Site time zone", self.time_zone)
        compute = QGroupBox("Model and compute")
        form = self._form(compute)
        form.addRow("Active model", self.model)
        form.addRow("Device", self.device)
        form.addRow("", self._note(f"Now using {engine.device_description}."))
        camera = QGroupBox("Camera")
        form = self._form(camera)
        form.addRow("Camera number", self.camera_index)
        form.addRow("Camera resolution", self.resolution)
        storage = QGroupBox("Storage")
        form = self._form(storage)
        form.addRow("Data folder", hbox(self.data_dir, browse))
        form.addRow("Backups kept", self.backups_kept)
        form.addRow("Keep attendance for", self.retention_days)
        form.addRow("", self._note("Changing the device or the data folder takes effect after a restart."))

        has_pin = bool(current.security.admin_pin_hash)
        self.pin_edit = QLineEdit()
        self.pin_repeat = QLineEdit()
        for edit, hint in ((self.pin_edit, "Change the PIN" if has_pin else "At least 4 characters"),
                           (self.pin_repeat, "Type it again")):
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            edit.setPlaceholderText(hint)
            edit.setMaximumWidth(220)
        self.remove_pin = QCheckBox("Remove the admin PIN")
        self.remove_pin.setVisible(has_pin)
        self.remove_pin.toggled.connect(lambda on: (self.pin_edit.setEnabled(not on),
                                                    self.pin_repeat.setEnabled(not on)))
        self.pin_tries = self._whole(current.security.pin_tries, 1, 100, "Wrong PINs in a row before a pause.")
        self.lockout = self._number(current.security.lockout_s, 0.0, 3600.0, 5.0, 0,
                                    "The pause after too many wrong PINs.", " s")
        security = QGroupBox("Security: admin PIN")
        form = self._form(security)
        pin_note = self._note(
            "A PIN is set: enrolling, deleting, exporting, retraining and settings ask for it. Recognize never does."
            if has_pin else
            "No PIN: anyone at this computer can enroll, delete, export, retrain and change settings.")
        form.addRow(pin_note)
        form.addRow("New PIN" if not has_pin else "Change PIN", self.pin_edit)
        form.addRow("Repeat PIN", self.pin_repeat)
        form.addRow("", self.remove_pin)
        form.addRow("Wrong PINs before a pause", self.pin_tries)
        form.addRow("Pause", self.lockout)

        site = self._site_group()
        calibration = QGroupBox("Calibration: strangers marked against the threshold")
        self.calibration = CalibrationView(engine)
        QVBoxLayout(calibration).addWidget(self.calibration)
        self.strangers.valueChanged.connect(lambda value: self.calibration.refresh(value))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        for button in buttons.buttons():
            button.setIcon(QIcon())
        buttons.button(QDialogButtonBox.StandardButton.Ok).setProperty("primary", True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        for index, group in enumerate((recognition, attendance, compute, camera, storage, security, site,
                                       calibration)):
            grid.addWidget(group, index // 2, index % 2)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(buttons)

    # ---- Settings → Site: join, make this the admin station, sync now, leave (network work off the GUI thread) ----

    def _site_group(self) -> QGroupBox:
        self.site_job: Job | None = None
        self.site_state = self._note("")
        self.site_url = QLineEdit()
        self.site_url.setEchoMode(QLineEdit.EchoMode.Password)  # the URL carries the owner's password
        self.site_url.setPlaceholderText("postgresql://owner:password@server:5432/site?sslmode=verify-full")
        self.site_url.setToolTip("Used once to create the schema or this kiosk's own login; only the station's "
                                 "own login is kept, in a file only this user can read.")
        self.kiosk_name = QLineEdit()
        self.kiosk_name.setPlaceholderText("e.g. north-door")
        self.join_button = QPushButton("Join as kiosk")
        self.init_button = QPushButton("Make this the admin station")
        self.sync_button = QPushButton("Sync now")
        self.leave_button = QPushButton("Leave the site")
        self.join_button.clicked.connect(lambda: self._site_action(
            self.engine.site_join, self.site_url.text().strip(), self.kiosk_name.text().strip()))
        self.init_button.clicked.connect(lambda: self._site_action(self.engine.site_init, self.site_url.text().strip()))
        self.sync_button.clicked.connect(lambda: self._site_action(self.engine.site_sync))
        self.leave_button.clicked.connect(lambda: self._site_action(self.engine.site_leave))
        group = QGroupBox("Site (many stations, one PostgreSQL server)")
        form = self._form(group)
        form.addRow(self.site_state)
        form.addRow("Server address", self.site_url)
        form.addRow("Kiosk name", self.kiosk_name)
        form.addRow(hbox(self.join_button, self.init_button))
        form.addRow(hbox(self.sync_button, self.leave_button))
        self._show_site_state()
        return group

    def _show_site_state(self, message: str = "") -> None:
        try:
            status = self.engine.site_status(check_server=False)
        except RollcallError as exc:
            status, message = None, str(exc)
        joined = status is not None and status.role != "standalone"
        if status is None or not joined:
            text = "Standalone: this station keeps everything in its own database."
        else:
            last = status.last_sync.astimezone().strftime("%Y-%m-%d %H:%M:%S") if status.last_sync else "never"
            text = (f"{status.role.capitalize()} {status.station!r} of {status.server}. Last sync: {last}. "
                    f"Queue: {status.queue} events." + (f" Last problem: {status.error}" if status.error else ""))
        self.site_state.setText(f"{text}\n{message}".strip())
        busy = self.site_job is not None
        for widget in (self.site_url, self.kiosk_name, self.join_button, self.init_button):
            widget.setEnabled(not joined and not busy)
        for widget in (self.sync_button, self.leave_button):
            widget.setEnabled(joined and not busy)

    def _site_action(self, operation, *args) -> None:
        if self.site_job is not None:
            return
        self.site_job = Job(operation, *args, name="site")
        self.site_job.returned.connect(lambda _: self._show_site_state("Done."))
        self.site_job.failed.connect(lambda message: (show_error(self, message), self._show_site_state()))
        self.site_job.finished.connect(self._site_job_finished)
        self._show_site_state("Working…")
        self.site_job.start()

    def _site_job_finished(self) -> None:
        self.site_job = None
        self.site_url.clear()  # never kept in the dialog
        self._show_site_state(self.site_state.text().split("\n")[-1] if "\n" in self.site_state.text() else "")

    def done(self, result: int) -> None:
        if self.site_job is not None:
            self.site_job.stop()
        super().done(result)

    @staticmethod
    def _number(value: float, low: float, high: float, step: float, decimals: int, tip: str,
                suffix: str = "") -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(low, high)
        box.setSingleStep(step)
        box.setDecimals(decimals)
        box.setSuffix(suffix)
        box.setValue(value)
        box.setToolTip(tip)
        box.setMaximumWidth(140)
        return box

    @staticmethod
    def _whole(value: int, low: int, high: int, tip: str, suffix: str = "") -> QSpinBox:
        box = QSpinBox()
        box.setRange(low, high)
        box.setSuffix(suffix)
        box.setValue(value)
        box.setToolTip(tip)
        box.setMaximumWidth(140)
        return box

    @staticmethod
    def _form(group: QGroupBox) -> QFormLayout:
        form = QFormLayout(group)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(10)
        return form

    @staticmethod
    def _note(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("muted")
        label.setWordWrap(True)
        return label

    @staticmethod
    def _threshold_text(engine: Engine) -> str:
        """The active model's current threshold estimate, in words."""
        try:
            estimate = engine.threshold_estimate()
        except RollcallError as exc:
            return f"No threshold estimate: {exc}"
        return "Now: " + estimate.describe() if estimate is not None else "No threshold estimate yet."

    @staticmethod
    def _select(combo: QComboBox, value: object) -> None:
        for i in range(combo.count()):
            if combo.itemData(i) == value:
                combo.setCurrentIndex(i)
                return

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder", self.data_dir.text())
        if folder:
            self.data_dir.setText(folder)

    def edited_settings(self) -> Settings:
        """The settings as edited in the dialog (not saved); the PIN hash is left as it was."""
        width, height = (int(v) for v in self.resolution.currentData().split("x"))
        edited = copy.deepcopy(self.engine.settings)  # the active model is switched by the activation job
        edited.recognition.match_threshold = round(self.threshold.value(), 4)
        edited.recognition.match_margin = round(self.margin.value(), 4)
        edited.recognition.strangers_per_1000 = round(self.strangers.value(), 1)
        edited.recognition.votes_to_mark = self.votes.value()
        edited.recognition.ask_when_uncertain = self.ask_uncertain.isChecked()
        edited.attendance.cooldown_minutes = self.cooldown.value()
        edited.attendance.checkout_mode = self.checkout.isChecked()
        edited.attendance.sound_on_mark = self.sound.isChecked()
        edited.attendance.time_zone = self.chosen_time_zone()
        edited.liveness.photo_filter = self.liveness.isChecked()
        edited.liveness.challenge = self.challenge.isChecked()
        edited.compute.device = self.device.currentData()
        edited.camera.index = self.camera_index.value()
        edited.camera.width_px, edited.camera.height_px = width, height
        edited.storage.data_dir = self.data_dir.text().strip()
        edited.storage.backups_kept = self.backups_kept.value()
        edited.storage.retention_days = self.retention_days.value()
        edited.security.pin_tries = self.pin_tries.value()
        edited.security.lockout_s = self.lockout.value()
        return edited

    def edited_pin_hash(self) -> str:
        """The admin PIN hash to save: unchanged, a new scrypt hash, or "" when removed.
        Raises InvalidInputError when the two PIN fields differ or the PIN is too short."""
        current = self.engine.settings.security.admin_pin_hash
        if current and self.remove_pin.isChecked():
            return ""
        pin, repeat = self.pin_edit.text().strip(), self.pin_repeat.text().strip()
        if not pin and not repeat:
            return current
        if pin != repeat:
            raise InvalidInputError("The two PINs are not the same. Type the new admin PIN twice.")
        return hash_pin(pin)  # never the PIN itself

    def chosen_time_zone(self) -> str:
        """The IANA name chosen or typed ("" = this computer's zone)."""
        text = self.time_zone.currentText().strip()
        return "" if self.time_zone.currentIndex() == 0 and text == self.time_zone.itemText(0) else text

    def accept(self) -> None:
        old = self.engine.settings
        try:
            pin_hash = self.edited_pin_hash()
            site_zone(self.chosen_time_zone())  # a mistyped zone is refused here, not at the next report
        except InvalidInputError as exc:
            show_error(self, str(exc))
            return
        new = self.edited_settings()
        new.security.admin_pin_hash = pin_hash
        self.needs_restart = new.compute.device != old.compute.device or new.storage.data_dir != old.storage.data_dir
        chosen_model = self.model.currentData()
        self.model_to_activate = chosen_model if chosen_model != self.engine.active_model_id() else None
        try:
            new.save()
        except OSError as exc:
            show_error(self, f"Could not save the settings ({exc}). Check that the folder is writable.")
            return
        self.pin_changed = new.security.admin_pin_hash != old.security.admin_pin_hash
        self.engine.apply_settings(new)
        super().accept()
