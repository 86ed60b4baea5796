"""Audit: the log of every HR change, newest first, with what changed (the punched time, the group, the reason)."""

from __future__ import annotations

from datetime import datetime, tzinfo

from PySide6.QtWidgets import QLabel, QTableWidgetItem, QVBoxLayout, QWidget

from core.app.engine import Engine
from core.base.timekeeping import AuditAction, AuditEntry

from .common import read_only_table

HIDDEN_DETAILS = frozenset(
    {
        "correction_id",
        "confusion_id",
        "assignment_id",
        "rotation_id",
        "sha256",
        "correction_ids",
        "sample_ids",
        "event_ids",
    }
)
ACTION_WORDS = {
    AuditAction.UNKNOWN_ENROLL: "visitor enrolled",
    AuditAction.UNKNOWN_ASSIGN: "visitor added to person",
    AuditAction.UNKNOWN_UNASSIGN: "visitor taken back from person",
    AuditAction.UNKNOWN_DISMISS: "visitor dismissed",
    AuditAction.UNKNOWN_RESTORE: "visitor restored to review",
}
PERSON_DETAILS = {"was_person_id": "was", "now_person_id": "now"}
DETAIL_WORDS = {
    "time": "time",
    "event_time": "event at",
    "group": "group",
    "shift": "shift",
    "from": "from",
    "to": "to",
    "start": "start",
    "end": "end",
    "days": "days",
    "name": "name",
}


def detail_value(value: object, zone: tzinfo) -> str:
    """A stored time (ISO, with its offset) in the site's zone; anything else as it is."""
    if isinstance(value, str) and len(value) > 16 and value[4] == "-" and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
    if value is None:
        return "none"
    return str(value)


def subject_text(subject: str, names: dict[int, str]) -> str:
    """'person 3' as the person's name (the log keeps ids only, for erasure); other subjects as they are."""
    kind, _, number = subject.partition(" ")
    if kind == "person" and number.isdigit():
        return names.get(int(number), "(erased person)")
    return subject


def details_text(entry: AuditEntry, zone: tzinfo, names: dict[int, str], groups: dict[int, str] | None = None) -> str:
    """What changed, in words: 'time 2026-11-03 09:00:00', 'group Night', 'was Ada · now Bob', 'for the whole
    site', 'no group'."""
    parts = []
    for key, value in entry.details.items():
        if key in HIDDEN_DETAILS:
            continue
        if key == "group_id":  # a holiday's: a group's, or the whole site's
            shown = (groups or {}).get(value, "a removed group") if isinstance(value, int) else None
            parts.append(f"for group {shown}" if shown else "for the whole site")
            continue
        if key == "group" and value is None:
            parts.append("no group")
            continue
        if key in PERSON_DETAILS:
            who = names.get(value, "(deleted)") if isinstance(value, int) else "nobody"
            parts.append(f"{PERSON_DETAILS[key]} {who}")
            continue
        parts.append(f"{DETAIL_WORDS.get(key, key.replace('_', ' '))} {detail_value(value, zone)}")
    return " · ".join(parts)


class AuditView(QWidget):
    """The audit log, newest first; read-only (there is no way to edit it from the app)."""

    COLUMNS = ["When", "Who", "Action", "Subject", "Person", "Reason", "What changed"]

    def __init__(self, engine: Engine, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.table = read_only_table(self.COLUMNS, stretch=6)
        note = QLabel(
            "Every correction, lock and unlock, rename and delete, with who made it and why. The log cannot be edited."
        )
        note.setObjectName("muted")
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.table, 1)

    def refresh(self) -> None:
        names = {o.person.id: o.person.name for o in self.engine.people(include_inactive=True)}
        groups = {g.id: g.name for g in self.engine.groups()}
        zone = self.engine.site_zone()
        entries = self.engine.audit_log(self.engine.settings.attendance.audit_rows_shown)
        self.table.setRowCount(len(entries))
        for r, e in enumerate(entries):
            person = names.get(e.person_id, "(deleted)") if e.person_id is not None else ""
            cells = [
                e.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                e.actor,
                ACTION_WORDS.get(e.action, e.action.value.replace("_", " ")),
                subject_text(e.subject, names),
                person,
                e.reason,
                details_text(e, zone, names, groups),
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == len(cells) - 1:
                    item.setToolTip(text)
                self.table.setItem(r, c, item)
