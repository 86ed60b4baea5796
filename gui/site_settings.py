"""Settings → Site: join as a kiosk, make this the admin station, sync now, leave (network work off the GUI thread).

The server address is shown as typed; only the password has its own hidden field. Errors are said in the
dialog's words (its buttons), never as command lines."""

from __future__ import annotations

import re
from collections.abc import Callable

import psycopg
from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QPushButton, QWidget

from core.app.engine import Engine
from core.base.errors import RollcallError
from core.site.connection import SiteError, SiteProblem

from .dialogs import show_error
from .text import plural
from .widgets import hbox
from .workers import Job

# CLI commands in core's messages, as this page's buttons
BUTTON_FOR_COMMAND = {
    "init": "Make this the admin station",
    "join": "Join as kiosk",
    "leave": "Leave the site",
    "sync": "Sync now",
}
_COMMAND = re.compile(r"(?:run |use )?`rollcall site (\w+)[^`]*`", re.IGNORECASE)
NOT_JOINED_YET = (
    "Nothing was changed and this station is still standalone. Check the server address, the "
    "password and that the server is running, then try again."
)


def in_dialog_words(message: str, joining: bool = False) -> str:
    """A core site message with its `rollcall site …` commands said as this page's buttons; a failed join
    or init no longer promises that attendance is sent later (the station is not part of a site yet)."""
    text = _COMMAND.sub(
        lambda m: f"press \u201c{BUTTON_FOR_COMMAND.get(m.group(1).lower(), m.group(1))}\u201d", message
    )
    if joining:
        text = re.sub(r"Attendance is kept on this station and sent when the server is back\.", NOT_JOINED_YET, text)
    return text


def with_password(address: str, password: str) -> str:
    """The address with the password put in (an address that already holds one is left as it is)."""
    if not password:
        return address
    try:
        parts = psycopg.conninfo.conninfo_to_dict(address)
    except psycopg.ProgrammingError:
        return address  # core says why it cannot be read
    if parts.get("password"):
        return address
    return psycopg.conninfo.make_conninfo(address, password=password)


class SitePage(QWidget):
    def __init__(self, engine: Engine, note: Callable[[str], QLabel], parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.job: Job | None = None
        self._joining = False
        self.state = note("")
        self.url = QLineEdit()
        self.url.setPlaceholderText("postgresql://owner@server:5432/site?sslmode=verify-full")
        self.url.setToolTip(
            "The site server's address. The owner's password goes in the next field; it is used "
            "once, and only the station's own login is kept, in a file only this user can read."
        )
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("The owner's password (used once)")
        self.kiosk_name = QLineEdit()
        self.kiosk_name.setPlaceholderText("e.g. north-door")
        self.join_button = QPushButton(BUTTON_FOR_COMMAND["join"])
        self.init_button = QPushButton(BUTTON_FOR_COMMAND["init"])
        self.sync_button = QPushButton(BUTTON_FOR_COMMAND["sync"])
        self.leave_button = QPushButton(BUTTON_FOR_COMMAND["leave"])
        self.join_button.clicked.connect(
            lambda: self.run(self.engine.site_join, self.address(), self.kiosk_name.text().strip(), joining=True)
        )
        self.init_button.clicked.connect(lambda: self.run(self.engine.site_init, self.address(), joining=True))
        self.sync_button.clicked.connect(lambda: self.run(self.engine.site_sync))
        self.leave_button.clicked.connect(lambda: self.run(self.engine.site_leave))
        form = QFormLayout(self)
        form.addRow(self.state)
        form.addRow("Server address", self.url)
        form.addRow("Password", self.password)
        form.addRow("Kiosk name", self.kiosk_name)
        form.addRow(hbox(self.join_button, self.init_button, None))
        form.addRow(hbox(self.sync_button, self.leave_button, None))
        self.show_state()

    def address(self) -> str:
        return with_password(self.url.text().strip(), self.password.text())

    def show_state(self, message: str = "") -> None:
        try:
            status = self.engine.site_status(check_server=False)
        except RollcallError as exc:
            status, message = None, in_dialog_words(str(exc))
        joined = status is not None and status.role != "standalone"
        if status is None or not joined:
            text = "Standalone: this station keeps everything in its own database."
        else:
            last = status.last_sync.astimezone().strftime("%Y-%m-%d %H:%M:%S") if status.last_sync else "never"
            text = (
                f"{status.role.capitalize()} {status.station!r} of {status.server}. Last sync: {last}. "
                f"Queue: {plural(status.queue, 'event')}."
                + (f" Last problem: {in_dialog_words(status.error)}" if status.error else "")
            )
            if status.refused_total:
                latest = status.refused[-1]
                text += (
                    f"\nThe server refused {plural(status.refused_total, 'event')} of this station (kept here); "
                    f"the latest: {latest.why}."
                )
            if status.skipped_total:
                latest = status.skipped[-1]
                text += (
                    f"\nSkipped {plural(status.skipped_total, 'row')} of other stations that cannot be used; the "
                    f"latest: station {latest.station!r}, row {latest.row}: {latest.why}."
                )
        self.state.setText(f"{text}\n{message}".strip())
        busy = self.job is not None
        for widget in (self.url, self.password, self.kiosk_name, self.join_button, self.init_button):
            widget.setEnabled(not joined and not busy)
        for widget in (self.sync_button, self.leave_button):
            widget.setEnabled(joined and not busy)

    def run(self, operation: Callable[..., object], *args: object, joining: bool = False) -> None:
        if self.job is not None:
            return
        self._joining = joining
        self.job = Job(operation, *args, name="site")
        self.job.returned.connect(self._succeeded)
        self.job.errored.connect(self._failed)
        self.job.finished.connect(self._finished)
        self.show_state("Working…")
        self.job.start()

    def _succeeded(self, _result: object) -> None:
        self.url.clear()  # joined: the owner's address and password are not needed again
        self.password.clear()
        self._last_message = "Done."

    def _failed(self, exc: BaseException) -> None:
        message = str(exc) if isinstance(exc, RollcallError) else f"The site operation failed ({type(exc).__name__})."
        joining = self._joining and (not isinstance(exc, SiteError) or exc.problem is not SiteProblem.ALREADY_JOINED)
        self._last_message = ""
        show_error(self, in_dialog_words(message, joining=joining))  # the address stays, to be corrected

    def _finished(self) -> None:
        self.job = None
        self.show_state(getattr(self, "_last_message", ""))

    def stop(self) -> None:
        if self.job is not None:
            self.job.stop()
