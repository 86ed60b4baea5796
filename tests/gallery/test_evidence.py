"""Evidence photos: a marked event's face photo is kept for attendance.evidence_days, apart from the event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.app.engine import Engine
from core.base.records import AttendanceEvent, EventKind
from core.base.settings import Settings
from core.gallery.store import GalleryStore


def test_evidence_photos_expire_on_their_own_retention_and_the_events_and_chain_stay(tmp_path):
    settings = Settings()
    settings.storage.data_dir = str(tmp_path / "data")
    settings.attendance.evidence_days = 62
    now = datetime.now(UTC)
    with GalleryStore(settings.database_path) as store:
        person = store.add_person("Ada").id
        old, recent = (
            store.record_event(AttendanceEvent(None, person, None, EventKind.CHECK_IN, now - timedelta(days=days),
                                               "door", 0.9, snapshot_jpeg=b"\xff\xd8face-" + bytes([days])))
            for days in (63, 61)
        )  # fmt: skip
        assert store.event_snapshot(old.id) is not None
    engine = Engine(settings)  # housekeeping at start enforces the retention
    try:
        assert len(engine.store.events()) == 2  # the events stay (storage.retention_days is 0: kept)
        assert engine.store.event_snapshot(old.id) is None and engine.evidence_photo(old.id) is None
        assert engine.evidence_photo(recent.id) == b"\xff\xd8face-" + bytes([61])
        assert engine.verify_chain().clean  # the photo is not chained: dropping it changes no row's hash
        engine.settings.attendance.evidence_days = 60  # a shorter retention hides a photo before the purge runs
        assert engine.evidence_photo(recent.id) is None
    finally:
        engine.close()
