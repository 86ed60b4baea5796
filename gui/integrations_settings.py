"""Settings → Integrations: the targets that receive attendance (ERPNext, Odoo, signed webhooks), their outbox
counts and last error; add, remove, test, deliver now and retry the dead letters, as `rollcall integrations` does.

Secrets are typed into password fields and handed to the Engine, which keeps them in its 0600 file; they are
never shown back. Test and delivery talk to the network, so they run off the GUI thread."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.app.engine import Engine
from core.base.errors import InvalidInputError, RollcallError
from core.integrations.backfill import BackfillReport
from core.integrations.delivery import DeliveryReport
from core.integrations.targets import DEFAULT_ERPNEXT_FIELD, DEFAULT_ODOO_FIELD, Target, TargetKind

from .dialogs import confirm, show_error
from .text import plural
from .widgets import hbox
from .workers import Job

COLUMNS = ["Name", "Kind", "Address", "Queued", "Delivered", "Dead", "Last error"]
STRETCHED = (COLUMNS.index("Last error"),)  # the address is shown whole (a cut one reads "http:/…5/hook")
COUNTS = range(COLUMNS.index("Queued"), COLUMNS.index("Dead") + 1)
KIND_LABELS = {
    TargetKind.WEBHOOK: "Webhook (signed JSON POST)",
    TargetKind.ERPNEXT: "ERPNext (Employee Checkin)",
    TargetKind.ODOO: "Odoo (hr.attendance)",
}
SECRET_LABELS = {
    TargetKind.WEBHOOK: "Signing secret",
    TargetKind.ERPNEXT: "API key:secret",
    TargetKind.ODOO: "Password or API key",
}
URL_HINTS = {
    TargetKind.WEBHOOK: "https://receiver.example/rollcall (the full address)",
    TargetKind.ERPNEXT: "https://erp.example (the site's base address)",
    TargetKind.ODOO: "https://odoo.example (the base address)",
}
DEFAULT_FIELDS = {TargetKind.ERPNEXT: DEFAULT_ERPNEXT_FIELD, TargetKind.ODOO: DEFAULT_ODOO_FIELD}


class AddTargetDialog(QDialog):
    """A target's kind and the fields that kind needs; OK saves it through the Engine (a wrong field is said
    here and the dialog stays open)."""

    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Add integration target")
        self.engine = engine
        self.added: Target | None = None
        self.kind = QComboBox()
        for kind, label in KIND_LABELS.items():
            self.kind.addItem(label, kind)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. payroll (lower-case letters, digits, . _ -)")
        self.url = QLineEdit()
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret_label = QLabel()
        self.employee_field = QLineEdit()
        self.database = QLineEdit()
        self.user = QLineEdit()
        self.place = QLineEdit()
        self.place.setPlaceholderText("latitude, longitude (HR Settings' geolocation tracking; optional)")
        self.shift_types = QLineEdit()
        self.shift_types.setPlaceholderText("Shift Types whose last sync of check-in moves on, comma-separated")
        self.verify_tls = QCheckBox("Check the server's certificate (https)")
        self.verify_tls.setChecked(True)
        self.verify_tls.setToolTip("Turn off only for a test server with a self-signed certificate.")
        self.form = QFormLayout()
        self.form.addRow("Kind", self.kind)
        self.form.addRow("Name", self.name)
        self.form.addRow("Address", self.url)
        self.form.addRow(self.secret_label, self.secret)
        self.form.addRow("Employee field", self.employee_field)
        self.form.addRow("Database", self.database)
        self.form.addRow("Login", self.user)
        self.form.addRow("Station's place", self.place)
        self.form.addRow("Shift types", self.shift_types)
        self.form.addRow(self.verify_tls)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(buttons)
        self.kind.currentIndexChanged.connect(self._show_fields)
        self._show_fields()

    def chosen_kind(self) -> TargetKind:
        return TargetKind(self.kind.currentData())

    def _show_fields(self) -> None:
        kind = self.chosen_kind()
        self.secret_label.setText(SECRET_LABELS[kind])
        self.url.setPlaceholderText(URL_HINTS[kind])
        self.employee_field.setPlaceholderText(DEFAULT_FIELDS.get(kind, ""))
        self.form.setRowVisible(self.employee_field, kind is not TargetKind.WEBHOOK)
        for widget in (self.database, self.user):
            self.form.setRowVisible(widget, kind is TargetKind.ODOO)
        for widget in (self.place, self.shift_types):
            self.form.setRowVisible(widget, kind is TargetKind.ERPNEXT)

    def target(self) -> Target:
        """The target as typed; InvalidInputError for a place that is not two numbers."""
        kind = self.chosen_kind()
        odoo, erpnext = kind is TargetKind.ODOO, kind is TargetKind.ERPNEXT
        place = [part.strip() for part in self.place.text().split(",")] if erpnext and self.place.text().strip() else []
        try:
            latitude, longitude = (float(place[0]), float(place[1])) if place else (None, None)
        except (ValueError, IndexError):
            raise InvalidInputError("Type the station's place as two numbers: latitude, longitude.") from None
        return Target(
            self.name.text().strip(),
            kind,
            self.url.text().strip(),
            self.employee_field.text().strip() if kind is not TargetKind.WEBHOOK else "",
            self.database.text().strip() if odoo else "",
            self.user.text().strip() if odoo else "",
            self.verify_tls.isChecked(),
            latitude=latitude,
            longitude=longitude,
            shift_types=tuple(self.shift_types.text().split(",")) if erpnext else (),
        )

    def accept(self) -> None:
        if not self.secret.text().strip():
            show_error(self, f"Type the {SECRET_LABELS[self.chosen_kind()].lower()}.")
            return
        try:
            self.added = self.engine.add_integration(self.target(), self.secret.text()).value
        except RollcallError as exc:
            show_error(self, str(exc))
            return
        self.secret.clear()
        super().accept()


class BackfillDialog(QDialog):
    """The period (site days) to send to one target."""

    def __init__(self, name: str, today: date, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Backfill {name}")
        self.first = QDateEdit(QDate(today.year, today.month, 1))
        self.last = QDateEdit(QDate(today.year, today.month, today.day))
        for edit in (self.first, self.last):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        form = QFormLayout()
        form.addRow("From", self.first)
        form.addRow("To", self.last)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(f"Queue the sightings and corrections of these days for {name}; nothing is sent twice.")
        )
        layout.addLayout(form)
        layout.addWidget(buttons)

    def period(self) -> tuple[date, date]:
        return self.first.date().toPython(), self.last.date().toPython()  # type: ignore[return-value]


class IntegrationsPage(QWidget):
    """The targets' table and its buttons; `job` is the test or delivery running, if any."""

    def __init__(self, engine: Engine, note: Callable[[str], QLabel], parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.job: Job | None = None
        self.added_here: list[str] = []  # targets added since the Settings dialog opened (Cancel removes them)
        self._message = ""  # the last outcome, shown below the buttons
        self._outcome = ""  # what the running job ended with
        self._details: dict[str, str] = {}  # per target, its address and last error: the selected one's in full
        self._errors: dict[str, str] = {}
        self.state = note("")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        for column in STRETCHED:  # takes what is left, cut at its end; in full in the tip and below for the selected
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(False)
        self.add_button = QPushButton("Add…")
        self.remove_button = QPushButton("Remove…")
        self.test_button = QPushButton("Test")
        self.deliver_button = QPushButton("Deliver now")
        self.retry_button = QPushButton("Retry dead")
        self.backfill_button = QPushButton("Backfill…")
        self.backfill_button.setToolTip("Send an existing period to the selected target (nothing twice)")
        self.backfill_button.clicked.connect(self.backfill)
        self.add_button.clicked.connect(self.add)
        self.remove_button.clicked.connect(self.remove)
        self.test_button.clicked.connect(self.test)
        self.deliver_button.clicked.connect(self.deliver)
        self.retry_button.clicked.connect(self.retry_dead)
        self.table.itemSelectionChanged.connect(self._enable)
        layout = QVBoxLayout(self)
        layout.addWidget(
            note(
                "Every sighting and correction is queued for each target and delivered in the background "
                "while the app runs; a target that is away keeps its queue."
            )
        )
        layout.addWidget(self.table, 1)
        layout.addLayout(hbox(self.add_button, self.remove_button, self.test_button, None))
        layout.addLayout(hbox(self.deliver_button, self.retry_button, self.backfill_button, None))
        layout.addWidget(self.state)
        self.refresh()

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).text() if rows else None

    def refresh(self, message: str = "") -> None:
        """The table from the Engine's targets and outbox counts (local reads); the selection is kept."""
        selected = self.selected_name()
        try:
            targets = {target.name: target for target in self.engine.integration_targets()}
            rows = self.engine.integration_status()
        except RollcallError as exc:
            targets, rows, message = {}, [], str(exc)
        self.table.setRowCount(0)
        for row in rows:
            target = targets.get(row.target)
            values = [
                row.target,
                target.kind.value if target else "",
                target.shown_url if target else "",
                str(row.queued),
                str(row.delivered),
                str(row.dead),
                row.last_error or "",
            ]
            index = self.table.rowCount()
            self.table.insertRow(index)
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                if column in COUNTS:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(index, column, item)
            if row.target == selected:
                self.table.selectRow(index)
        self._details = {
            row.target: f"{row.target}: {targets[row.target].shown_url}" if row.target in targets else row.target
            for row in rows
        }
        self._errors = {row.target: row.last_error for row in rows if row.last_error}
        if not rows and not message:
            message = "No targets yet: Add… one to send attendance to ERPNext, Odoo or a webhook."
        self._message = message
        self._enable()

    def _enable(self) -> None:
        """The buttons for what is selected and whether a job runs; the note below the buttons says the last
        outcome, and the selected target's last error in full."""
        name = self.selected_name() or ""
        error = self._errors.get(name)
        lines = (self._message, self._details.get(name, ""), f"Last error: {error}" if error else "")
        self.state.setText("\n".join(line for line in lines if line))
        idle = self.job is None
        chosen = self.selected_name() is not None
        self.add_button.setEnabled(idle)
        for button in (self.remove_button, self.test_button, self.backfill_button):
            button.setEnabled(idle and chosen)
        for button in (self.deliver_button, self.retry_button):
            button.setEnabled(idle and self.table.rowCount() > 0)

    def add(self) -> None:
        dialog = AddTargetDialog(self.engine, self)
        if dialog.exec() == QDialog.DialogCode.Accepted and dialog.added is not None:
            self.added_here.append(dialog.added.name)
            self.engine.start_integration_delivery()  # the first target: background rounds start now, as at launch
            self.refresh(f"Added {dialog.added.name}; events and corrections from now on are queued for it.")

    def remove(self) -> None:
        name = self.selected_name()
        if name is None or not confirm(
            self,
            "Remove integration target",
            f"Remove {name}? Its queue is dropped: what has not been delivered to it yet is never sent, "
            "and its secret is forgotten.",
            "Remove",
        ):
            return
        try:
            self.engine.remove_integration(name)
        except RollcallError as exc:
            show_error(self, str(exc))
            return
        self.refresh(f"Removed {name} and its queue.")

    def undo_added(self) -> list[str]:
        """Cancel on the Settings dialog: the targets added in it removed again (their queues and secrets)."""
        removed = []
        for name in self.added_here:
            try:
                if self.engine.remove_integration(name).value:
                    removed.append(name)
            except RollcallError as exc:
                show_error(self, str(exc))
        self.added_here = []
        if not self.engine.integration_targets():
            self.engine.stop_integration_delivery()
        return removed

    def backfill(self) -> None:
        name = self.selected_name()
        if name is None or self.job is not None:
            return
        dialog = BackfillDialog(name, self.engine.site_today(), self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        first, last = dialog.period()
        self._run(self.engine.backfill_integration, name, first, last, done=self._backfilled)
        assert self.job is not None
        self.job.yielded.connect(
            lambda step: self.state.setText(
                f"Backfill {step.target}: {step.done} of {step.total} looked at, {step.queued} queued"
            )
        )

    def _backfilled(self, report: BackfillReport) -> str:
        return (
            f"Backfill {report.target}: {report.queued} of {report.total} queued ({report.already} it already had); "
            "Deliver now sends them."
        )

    def test(self) -> None:
        name = self.selected_name()
        if name is not None:
            self._run(self.engine.test_integration, name, done=lambda answer: f"{name}: {answer}")

    def deliver(self) -> None:
        self._run(self.engine.deliver_integrations, done=self._delivered)

    def retry_dead(self) -> None:
        try:
            count = self.engine.retry_integration().value
        except RollcallError as exc:
            show_error(self, str(exc))
            return
        self.refresh(f"{plural(count, 'dead letter')} queued again.")
        self.deliver()

    @staticmethod
    def _delivered(report: DeliveryReport) -> str:
        stopped = "; ".join(report.errors)
        return f"Delivered {report.delivered}, {report.dead} dead." + (f" Stopped: {stopped}" if stopped else "")

    def _run(self, operation: Callable[..., object], *args: object, done: Callable[[Any], str]) -> None:
        if self.job is not None:
            return
        self.job = Job(operation, *args, name="integrations")
        self.job.returned.connect(lambda result: setattr(self, "_outcome", done(result)))
        self.job.failed.connect(lambda message: setattr(self, "_outcome", message))
        self.job.finished.connect(self._finished)
        self._outcome = ""
        self._message = "Working…"
        self._enable()
        self.job.start()

    def _finished(self) -> None:
        self.job = None
        self.refresh(self._outcome)

    def stop(self) -> None:
        if self.job is not None:
            self.job.stop()
