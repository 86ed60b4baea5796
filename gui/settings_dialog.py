"""Settings: edits the sections of one typed core.base.settings.Settings object and saves it with Settings.save().

Every field of a section not shown here keeps its value (the dialog edits a copy of the engine's settings)."""

from __future__ import annotations

import copy
import zoneinfo

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.app.engine import Engine
from core.app.fusion_setup import fused_members
from core.attendance.schedule import site_zone
from core.base.errors import InvalidInputError, RollcallError
from core.base.security import hash_pin
from core.base.settings import Device, Settings
from core.vision.fusion_specs import DECISIONS, FUSED_MODEL
from core.vision.models import BUILTIN_MODELS

from .calibration_view import CalibrationView
from .dialogs import confirm, show_error
from .files import open_folder
from .integrations_settings import IntegrationsPage
from .site_settings import SitePage
from .widgets import hbox, styled_label
from .workers import Job

DEVICE_LABELS = {
    Device.AUTO: "Automatic (GPU when available)",
    Device.CPU: "CPU",
    Device.CUDA: "NVIDIA GPU (CUDA)",
    Device.MPS: "Apple GPU (MPS)",
}
RESOLUTIONS = [(640, 480), (1280, 720), (1920, 1080)]
DIALOG_SIZE = QSize(860, 600)  # fits a 1280 x 720 laptop; each page scrolls when it is taller
PAGE_LIST_PADDING_PX = 24
SPIN_WIDTH = 140  # pixels: a number field, its unit included


def uses_cosine_threshold(model_id: str) -> bool:
    """True for models scored in FaceNet cosines (Settings' match threshold and margin apply to them)."""
    family = FUSED_MODEL if fused_members(model_id) else model_id
    return family not in DECISIONS


class SettingsDialog(QDialog):
    """OK saves the settings and applies them to the engine. `model_to_activate` is set when the
    active model changed: re-embedding the gallery is a long job the main window runs."""

    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.pages = QListWidget()
        self.pages.setObjectName("settingsPages")
        self.stack = QStackedWidget()
        self.pages.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.engine = engine
        self.model_to_activate: str | None = None
        self.needs_restart = False
        self.pin_changed = False  # set, changed or removed on OK
        current = engine.settings

        # recognition
        self.threshold = self._number(
            current.recognition.match_threshold,
            0.0,
            1.0,
            0.01,
            2,
            "Cosine similarity a face must reach to count as someone. Higher = stricter.",
        )
        self.margin = self._number(
            current.recognition.match_margin,
            0.0,
            1.0,
            0.01,
            2,
            "The best person must beat the second-best by this much.",
        )
        self.strangers = self._number(
            current.recognition.strangers_per_1000,
            0.1,
            1000.0,
            1.0,
            1,
            "Fused models set their threshold from the gallery for at most this many "
            "strangers marked as someone per 1,000. Lower = stricter.",
            " per 1,000",
        )
        self.threshold_note = self._note(self._threshold_text(engine))
        self.ask_uncertain = QCheckBox('Ask uncertain faces "Are you NAME?"')
        self.ask_uncertain.setChecked(current.recognition.ask_when_uncertain)
        self.ask_uncertain.setToolTip(
            "A face just under the threshold for one person is asked, with Yes and No buttons, for "
            f"{current.recognition.ask_timeout_s:g} s. Yes marks them; No or no answer marks nobody and "
            "keeps the face as a confusion for retraining."
        )
        self.votes = self._whole(
            current.recognition.votes_to_mark, 1, 20, "Consistent recognitions of a face before the person is marked."
        )
        # attendance
        self.cooldown = self._number(
            current.attendance.cooldown_minutes,
            0.0,
            24 * 60,
            1.0,
            1,
            "No second event for a person within this time.",
            " min",
        )
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
        self.liveness = QCheckBox("Photo filter (a first filter only)")
        self.liveness.setChecked(current.liveness.photo_filter)
        self.liveness.setToolTip(
            "Mark a person only after their face has moved like a live face for about "
            "half a second. A first filter: it lets most printed photos and every video "
            "replay through. To stop photos and screens, ask people to move their head."
        )
        self.challenge = QCheckBox("Ask recognised people to move their head (challenge)")
        self.challenge.setChecked(current.liveness.challenge)
        self.challenge.setToolTip(
            "Before marking, the kiosk asks for two head movements in a random order "
            f"(turn left, turn right, look up) within {current.liveness.challenge_time_s:g} s, "
            "and checks them from the face's landmarks. Stops photos and screens held up, "
            "however they are turned. Once a day per person."
        )

        # compute
        self.device = QComboBox()
        for device, label in DEVICE_LABELS.items():
            self.device.addItem(label, device.value)
        self._select(self.device, current.compute.device)
        self.model = QComboBox()
        known = {m.id: m.name for m in engine.models()}
        for model_id, spec in BUILTIN_MODELS.items():
            known.setdefault(model_id, spec.title)
        for model_id, title in known.items():  # the title in words; the id (what `rollcall` takes) in its tip
            self.model.addItem(title, model_id)
            self.model.setItemData(self.model.count() - 1, f"{model_id}: {title}", Qt.ItemDataRole.ToolTipRole)
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
        self.backups_kept = self._whole(
            current.storage.backups_kept, 0, 365, "One automatic backup a day; this many are kept. 0 = none."
        )
        self.retention_days = self._whole(
            current.storage.retention_days,
            0,
            36_500,
            "Attendance events older than this are deleted. 0 = keep them all.",
            " days",
        )

        self.backups_kept.setSpecialValueText("none")
        self.retention_days.setSpecialValueText("forever")
        self.threshold.setToolTip("The lowest FaceNet cosine similarity that counts as someone. Higher = stricter.")

        recognition = self._page("Recognition")
        form = self._form(recognition)
        self.threshold_label = QLabel("Lowest match (FaceNet cosine)")
        self.margin_label = QLabel("Lead over the next person")
        form.addRow("Strangers marked", self.strangers)
        form.addRow(self.threshold_label, self.threshold)
        form.addRow(self.margin_label, self.margin)
        form.addRow(self.threshold_note)
        form.addRow("Votes to mark", self.votes)
        form.addRow(self.ask_uncertain)
        self.calibration = CalibrationView(engine)
        self.strangers.valueChanged.connect(lambda value: self.calibration.refresh(value))
        form.addRow(self._heading("Calibration: strangers marked against the threshold"))
        form.addRow(self.calibration)
        self._show_threshold_units(engine)
        liveness = self._form(self._page("Liveness"))
        liveness.addRow(self.liveness)
        liveness.addRow(self._note(self.liveness.toolTip()))
        liveness.addRow(self.challenge)
        liveness.addRow(self._note(self.challenge.toolTip()))
        form = self._form(self._page("Attendance"))
        form.addRow("Cooldown", self.cooldown)
        form.addRow(self.checkout)
        form.addRow(self.sound)
        form.addRow("Site time zone", self.time_zone)
        form = self._form(self._page("Model and compute"))
        form.addRow("Active model", self.model)
        form.addRow("Device", self.device)
        form.addRow(self._note(f"Now using {engine.device_description}."))
        form = self._form(self._page("Camera"))
        form.addRow("Camera number", self.camera_index)
        form.addRow("Camera resolution", self.resolution)
        form = self._form(self._page("Storage"))
        form.addRow("Data folder", hbox(self.data_dir, browse))
        form.addRow("Backups kept", self.backups_kept)
        form.addRow("Keep attendance for", self.retention_days)
        form.addRow(self._note("Changing the device or the data folder takes effect after a restart."))

        has_pin = bool(current.security.admin_pin_hash)
        self.pin_edit = QLineEdit()
        self.pin_repeat = QLineEdit()
        for edit, hint in (
            (self.pin_edit, "Change the PIN" if has_pin else "At least 4 characters"),
            (self.pin_repeat, "Type it again"),
        ):
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            edit.setPlaceholderText(hint)
            edit.setMaximumWidth(220)
        self.remove_pin = QCheckBox("Remove the admin PIN")
        self.remove_pin.setVisible(has_pin)
        self.remove_pin.toggled.connect(
            lambda on: (self.pin_edit.setEnabled(not on), self.pin_repeat.setEnabled(not on))
        )
        self.pin_tries = self._whole(current.security.pin_tries, 1, 100, "Wrong PINs in a row before a pause.")
        self.lockout = self._number(
            current.security.lockout_s, 0.0, 3600.0, 5.0, 0, "The pause after too many wrong PINs.", " s"
        )
        form = self._form(self._page("Admin PIN"))
        pin_note = self._note(
            "A PIN is set: enrolling, deleting, exporting, retraining and settings ask for it. Recognize never does."
            if has_pin
            else "No PIN: anyone at this computer can enroll, delete, export, retrain and change settings."
        )
        form.addRow(pin_note)
        form.addRow("New PIN" if not has_pin else "Change PIN", self.pin_edit)
        form.addRow("Repeat PIN", self.pin_repeat)
        form.addRow(self.remove_pin)
        form.addRow("Wrong PINs before a pause", self.pin_tries)
        form.addRow("Pause", self.lockout)

        self.site = SitePage(engine, self._note)
        self._page("Site", self.site)
        self.site_state, self.site_url, self.site_password = self.site.state, self.site.url, self.site.password
        self.kiosk_name, self.join_button, self.init_button = (
            self.site.kiosk_name,
            self.site.join_button,
            self.site.init_button,
        )
        self.sync_button, self.leave_button = self.site.sync_button, self.site.leave_button
        self.integrations = IntegrationsPage(engine, self._note)
        self._page("Integrations", self.integrations)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        for button in buttons.buttons():
            button.setIcon(QIcon())
        buttons.button(QDialogButtonBox.StandardButton.Ok).setProperty("primary", True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.pages.setCurrentRow(0)
        self.pages.setFixedWidth(self.pages.sizeHintForColumn(0) + 2 * PAGE_LIST_PADDING_PX)
        body = QHBoxLayout()
        body.addWidget(self.pages)
        body.addWidget(self.stack, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(buttons)
        self.resize(DIALOG_SIZE)

    @property
    def site_job(self) -> Job | None:
        return self.site.job

    def _page(self, title: str, content: QWidget | None = None) -> QWidget:
        """A page of the sidebar: its content in a scroll area, so the dialog fits any screen."""
        content = content or QWidget()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        self.stack.addWidget(scroll)
        self.pages.addItem(title)
        return content

    @staticmethod
    def _heading(text: str) -> QLabel:
        label = styled_label(text, "cardTitle")
        return label

    def _show_threshold_units(self, engine: Engine) -> None:
        """One threshold, in the active model's units: FaceNet's cosine floor and margin are shown only while
        a model scored in FaceNet cosines is active; other models set theirs from the gallery."""
        try:
            scored_as = engine.matcher().model_id
        except RollcallError:
            scored_as = engine.active_model_id()
        cosine = uses_cosine_threshold(scored_as)
        for widget in (self.threshold_label, self.threshold, self.margin_label, self.margin):
            widget.setVisible(cosine)

    def done(self, result: int) -> None:
        self.site.stop()
        self.integrations.stop()
        if getattr(result, "value", result) != QDialog.DialogCode.Accepted.value:  # Cancel: undo targets added here
            self.integrations.undo_added()
        super().done(result)

    @staticmethod
    def _number(
        value: float, low: float, high: float, step: float, decimals: int, tip: str, suffix: str = ""
    ) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setSingleStep(step)
        box.setDecimals(decimals)
        return SettingsDialog._spin(box, value, low, high, tip, suffix)

    @staticmethod
    def _whole(value: int, low: int, high: int, tip: str, suffix: str = "") -> QSpinBox:
        return SettingsDialog._spin(QSpinBox(), value, low, high, tip, suffix)

    @staticmethod
    def _spin(box, value, low, high, tip: str, suffix: str):
        """A number field of the dialog's width, with its range, unit and what it means."""
        box.setRange(low, high)
        box.setSuffix(suffix)
        box.setValue(value)
        box.setToolTip(tip)
        box.setMaximumWidth(SPIN_WIDTH)
        return box

    @staticmethod
    def _form(page: QWidget) -> QFormLayout:
        form = QFormLayout(page)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(10)
        return form

    @staticmethod
    def _note(text: str) -> QLabel:
        label = styled_label(text)
        return label

    @staticmethod
    def _threshold_text(engine: Engine) -> str:
        """The active model's current threshold estimate, in words."""
        try:
            estimate = engine.threshold_estimate()
        except RollcallError as exc:
            return f"No threshold estimate: {exc}"
        if estimate is None:
            return "No threshold estimate yet."
        return f"Now, on the active model's own score: {estimate.describe()}"

    @staticmethod
    def _select(combo: QComboBox, value: object) -> None:
        for i in range(combo.count()):
            if combo.itemData(i) == value:
                combo.setCurrentIndex(i)
                return

    def _browse(self) -> None:
        folder = open_folder(self, "Data folder", self.data_dir.text())
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
        if self.model_to_activate and not confirm(
            self,
            "Activate model",
            f"Recognise with {chosen_model} from now on? The gallery is re-embedded "
            "with it first and recognition pauses until that is done; the current model stays installed, so "
            "you can switch back here.",
            "Activate",
        ):
            return
        try:
            new.save()
        except OSError as exc:
            show_error(self, f"Could not save the settings ({exc}). Check that the folder is writable.")
            return
        self.pin_changed = new.security.admin_pin_hash != old.security.admin_pin_hash
        self.engine.apply_settings(new)
        super().accept()
