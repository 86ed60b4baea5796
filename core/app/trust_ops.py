"""Engine operations for the tamper-evident record: the station's signing key, signed checkpoints of the
chain's head, `verify`, and the evidence photos' retention (core.gallery.chain_store has the chain itself).

A station signs its chain's head after every sync and at least every `storage.checkpoint_minutes`. The secret
key stays in the station's data folder (owner-only); its public key is what an auditor checks against.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.app.engine_state import EngineState
from core.base import signing
from core.base.errors import InvalidInputError
from core.gallery.chain_store import ChainProblem, checkpoint_message

KEY_FILE = Path("keys") / "station-ed25519.key"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckpointProblem:
    checkpoint_id: int
    seq: int
    what: str  # 'signature' (not signed by the key) or 'link' (the chain changed under it)

    def text(self) -> str:
        if self.what == "signature":
            return f"checkpoint {self.checkpoint_id} (ledger entry {self.seq}): its signature fails for the key"
        return (
            f"checkpoint {self.checkpoint_id} (ledger entry {self.seq}): the chain no longer has the head it "
            "signed; the ledger was rewritten after it was signed"
        )


@dataclass(frozen=True)
class VerifyReport:
    station: str
    entries: int
    rows: int
    checkpoints: int
    public_key: bytes
    problems: tuple[ChainProblem, ...]
    checkpoint_problems: tuple[CheckpointProblem, ...]

    @property
    def clean(self) -> bool:
        return not self.problems and not self.checkpoint_problems

    def lines(self) -> list[str]:
        head = (
            f"{self.station}: {self.entries} ledger entries, {self.rows} rows, {self.checkpoints} signed "
            f"checkpoints, key {self.public_key.hex()[:16]}…"
        )
        if self.clean:
            return [head, "verified: every row matches its chain, and every checkpoint's signature holds"]
        found = [p.text() for p in self.problems] + [p.text() for p in self.checkpoint_problems]
        return [head, f"NOT verified: {found[0]}", *(f"  also: {line}" for line in found[1:20])]


class TrustOperations(EngineState):
    """Mixed into Engine: uses its store, settings and site."""

    def _station_secret(self) -> bytes:
        return signing.load_or_create_key(self.settings.data_path / KEY_FILE)

    def station_public_key(self) -> bytes:
        return signing.public_key(self._station_secret())

    def station_label(self) -> str:
        """This station's name in signatures: its site name, else the machine's."""
        return self.site.station or socket.gethostname()

    def checkpoint(self) -> int:
        """Sign the chain's head now; returns the ledger entry signed."""
        store = self.store
        seq, link = store.chain_head()
        if link is None:
            return 0
        signed_at = datetime.now(UTC).isoformat(timespec="seconds")
        secret = self._station_secret()
        signature = signing.sign(secret, checkpoint_message(self.station_label(), seq, link, signed_at))
        store.add_checkpoint(seq, link, signed_at, signing.public_key(secret), signature)
        return seq

    def checkpoint_if_due(self, force: bool = False) -> int | None:
        """Sign when the head moved and the last checkpoint is older than storage.checkpoint_minutes (or
        `force`, after a sync); None when nothing was signed."""
        store = self.store
        last = store.last_checkpoint()
        seq, _ = store.chain_head()
        if last is not None and last.seq == seq:
            return None
        every = timedelta(minutes=self.settings.storage.checkpoint_minutes)
        if not force and last is not None and datetime.now(UTC) - datetime.fromisoformat(last.signed_at_utc) < every:
            return None
        return self.checkpoint()

    def _checkpoint_quietly(self, force: bool = False) -> None:
        """Sign the chain's head when due; a failure is logged, never stops attendance."""
        try:
            self.checkpoint_if_due(force)
        except Exception as exc:  # noqa: BLE001 - the change is committed; a signature can wait
            log.warning("Cannot sign a checkpoint of the chain: %s", exc)

    def verify_chain(self, public_key: bytes | None = None) -> VerifyReport:
        """Walk this station's chain and check every checkpoint against `public_key` (default this station's
        own; give the one the admin keeps to trust nothing on this machine)."""
        store = self.store
        key = public_key or self.station_public_key()
        walk = store.walk_chain()
        station = self.station_label()
        bad: list[CheckpointProblem] = []
        kept = store.checkpoints()
        for point in kept:
            message = checkpoint_message(station, point.seq, point.link, point.signed_at_utc)
            if point.public_key != key or not signing.verify(key, message, point.signature):
                bad.append(CheckpointProblem(point.id, point.seq, "signature"))
            elif walk.links.get(point.seq) != point.link:
                bad.append(CheckpointProblem(point.id, point.seq, "link"))
        return VerifyReport(station, walk.entries, walk.rows, len(kept), key, walk.problems, tuple(bad))

    def purge_evidence(self) -> int:
        """Drop marked events' photos older than attendance.evidence_days (0 keeps them)."""
        days = self.settings.attendance.evidence_days
        if days <= 0:
            return 0
        return self.store.purge_evidence(datetime.now(UTC) - timedelta(days=days))

    def evidence_photo(self, event_id: int) -> bytes | None:
        """An event's face photo while its retention keeps it (None: none kept, or past attendance.evidence_days)."""
        event = self.store.get_event(event_id)
        days = self.settings.attendance.evidence_days
        if days > 0 and event.time < datetime.now(UTC) - timedelta(days=days):
            return None
        return self.store.event_snapshot(event_id)

    def evidence_at(self, person_id: int, moment: datetime) -> bytes | None:
        """The evidence photo of the person's sighting at `moment` (to the second), while retention keeps it."""
        second = timedelta(seconds=1)
        found = [e for e in self.store.events_between(moment - second, moment + second) if e.person_id == person_id]
        nearest = min(found, key=lambda e: abs(e.time - moment), default=None)
        return self.evidence_photo(nearest.id) if nearest is not None and nearest.id is not None else None

    # ---- exports that can be checked ----

    def write_manifest(self, path: Path) -> Path:
        """Beside an export: its sha256, the chain head it was written at, and this station's signature."""
        seq, link = self.store.chain_head()
        body = {
            "file": path.name,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "bytes": path.stat().st_size,
            "written_at_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "station": self.station_label(),
            "chain_head": {"seq": seq, "link": link.hex() if link else None},
        }
        secret = self._station_secret()
        signed = {**body, "public_key": signing.public_key(secret).hex()}
        signed["signature"] = signing.sign(secret, _canonical(signed)).hex()
        manifest = manifest_path(path)
        manifest.write_text(json.dumps(signed, indent=2) + "\n")
        return manifest

    def verify_export(self, path: Path | str, public_key: bytes | None = None) -> ExportCheck:
        """Whether a file is exactly what Rollcall wrote: its manifest's sha256 and signature."""
        path = Path(path)
        manifest = manifest_path(path)
        if not path.exists():
            raise InvalidInputError(f"There is no file {path}.")
        if not manifest.exists():
            return ExportCheck(path, False, f"no manifest {manifest.name} beside it: Rollcall did not write it")
        try:
            signed = json.loads(manifest.read_text())
            signature = bytes.fromhex(signed.pop("signature"))
            key = bytes.fromhex(signed["public_key"])
        except (ValueError, KeyError, TypeError) as exc:
            return ExportCheck(path, False, f"the manifest {manifest.name} is unreadable ({exc})")
        trusted = public_key or self.station_public_key()
        if key != trusted or not signing.verify(key, _canonical(signed), signature):
            return ExportCheck(path, False, "the manifest's signature fails for the station's key")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != signed.get("sha256"):
            return ExportCheck(path, False, "the file was changed after Rollcall wrote it (its sha256 differs)")
        head = signed.get("chain_head", {})
        return ExportCheck(path, True, f"exactly as {signed['station']} wrote it on {signed['written_at_utc']} "
                           f"(chain entry {head.get('seq')})")  # fmt: skip


MANIFEST_SUFFIX = ".manifest.json"


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def _canonical(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class ExportCheck:
    path: Path
    ok: bool
    reason: str
