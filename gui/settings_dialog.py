"""Settings: edits one typed core.base.settings.Settings object and saves it with Settings.save()."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QGroupBox, QLabel, QLineEdit, QPushButton, QVBoxLayout,
                               QWidget)

from core.app.engine import Engine
from core.base.errors import InvalidInputError
from core.vision.models import BUILTIN_MODELS
from core.base.security import hash_pin
from core.base.settings import Settings

from .dialogs import show_error
from .widgets import hbox

DEVICES = [("auto", "Automatic (GPU when available)"), ("cpu", "CPU"), ("cuda", "NVIDIA GPU (CUDA)"),
           ("mps", "Apple GPU (MPS)")]
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

        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.01)
        self.threshold.setDecimals(2)
        self.threshold.setValue(current.match_threshold)
        self.threshold.setToolTip("Cosine similarity a face must reach to count as someone. Higher = stricter.")
        self.cooldown = QDoubleSpinBox()
        self.cooldown.setRange(0.0, 24 * 60)
        self.cooldown.setDecimals(1)
        self.cooldown.setSuffix(" min")
        self.cooldown.setValue(current.cooldown_minutes)
        self.cooldown.setToolTip("No second event for a person within this time.")
        self.sound = QCheckBox("Beep when someone is marked")
        self.sound.setChecked(current.sound_on_mark)
        self.liveness = QCheckBox("Refuse photos held up to the camera (liveness check)")
        self.liveness.setChecked(current.require_liveness)
        self.liveness.setToolTip("Mark a person only after their face has moved like a live face for about "
                                 "half a second. Stops a printed photo; a video replay still passes.")

        self.device = QComboBox()
        for value, label in DEVICES:
            self.device.addItem(label, value)
        self._select(self.device, current.device)
        self.model = QComboBox()
        known = {m.id: m.name for m in engine.models()}
        for model_id, spec in BUILTIN_MODELS.items():
            known.setdefault(model_id, spec.title)
        for model_id, title in known.items():
            self.model.addItem(f"{model_id}: {title}" if title != model_id else model_id, model_id)
        self._select(self.model, engine.active_model_id())

        self.resolution = QComboBox()
        sizes = list(RESOLUTIONS)
        if (current.camera_width, current.camera_height) not in sizes:
            sizes.append((current.camera_width, current.camera_height))
        for width, height in sizes:
            self.resolution.addItem(f"{width} × {height}", f"{width}x{height}")
        self._select(self.resolution, f"{current.camera_width}x{current.camera_height}")

        self.data_dir = QLineEdit(current.data_dir)
        self.data_dir.setPlaceholderText(str(current.data_path) if not current.data_dir else "")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)

        for field in (self.threshold, self.cooldown):
            field.setMaximumWidth(140)

        recognition = QGroupBox("Recognition and attendance")
        form = self._form(recognition)
        form.addRow("Match threshold", self.threshold)
        form.addRow("Cooldown", self.cooldown)
        form.addRow("", self.sound)
        form.addRow("", self.liveness)
        compute = QGroupBox("Model and compute")
        form = self._form(compute)
        form.addRow("Active model", self.model)
        form.addRow("Device", self.device)
        form.addRow("", self._note(f"Now using {engine.device_description}."))
        camera = QGroupBox("Camera and data")
        form = self._form(camera)
        form.addRow("Camera resolution", self.resolution)
        form.addRow("Data folder", hbox(self.data_dir, browse))
        form.addRow("", self._note("Changing the device or the data folder takes effect after a restart."))

        has_pin = bool(current.admin_pin_hash)
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
        admin = QGroupBox("Admin PIN")
        form = self._form(admin)
        pin_note = self._note(
            "A PIN is set: enrolling, deleting, exporting, retraining and settings ask for it. Recognize never does."
            if has_pin else
            "No PIN: anyone at this computer can enroll, delete, export, retrain and change settings.")
        form.addRow(pin_note)
        form.addRow("New PIN" if not has_pin else "Change PIN", self.pin_edit)
        form.addRow("Repeat PIN", self.pin_repeat)
        form.addRow("", self.remove_pin)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        for button in buttons.buttons():
            button.setIcon(QIcon())
        buttons.button(QDialogButtonBox.StandardButton.Ok).setProperty("primary", True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(recognition)
        layout.addWidget(compute)
        layout.addWidget(camera)
        layout.addWidget(admin)
        layout.addWidget(buttons)

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
        """The settings as edited in the dialog (not saved)."""
        width, height = (int(v) for v in self.resolution.currentData().split("x"))
        return dataclasses.replace(
            self.engine.settings,
            match_threshold=round(self.threshold.value(), 4),
            cooldown_minutes=self.cooldown.value(),
            sound_on_mark=self.sound.isChecked(),
            require_liveness=self.liveness.isChecked(),
            device=self.device.currentData(),
            active_model=self.engine.settings.active_model,  # switched by the activation job
            camera_width=int(width),
            camera_height=int(height),
            data_dir=self.data_dir.text().strip(),
        )

    def edited_pin_hash(self) -> str:
        """The admin PIN hash to save: unchanged, a new scrypt hash, or "" when removed.
        Raises InvalidInputError when the two PIN fields differ or the PIN is too short."""
        current = self.engine.settings.admin_pin_hash
        if current and self.remove_pin.isChecked():
            return ""
        pin, repeat = self.pin_edit.text().strip(), self.pin_repeat.text().strip()
        if not pin and not repeat:
            return current
        if pin != repeat:
            raise InvalidInputError("The two PINs are not the same. Type the new admin PIN twice.")
        return hash_pin(pin)  # never the PIN itself

    def accept(self) -> None:
        old = self.engine.settings
        try:
            pin_hash = self.edited_pin_hash()
        except InvalidInputError as exc:
            show_error(self, str(exc))
            return
        new = dataclasses.replace(self.edited_settings(), admin_pin_hash=pin_hash)
        self.needs_restart = new.device != old.device or new.data_dir != old.data_dir
        chosen_model = self.model.currentData()
        self.model_to_activate = chosen_model if chosen_model != self.engine.active_model_id() else None
        try:
            new.save()
        except OSError as exc:
            show_error(self, f"Could not save the settings ({exc}). Check that the folder is writable.")
            return
        self.pin_changed = new.admin_pin_hash != old.admin_pin_hash
        self.engine.apply_settings(new)
        super().accept()
