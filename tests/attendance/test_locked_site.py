"""Issue 30 and issue 31 defect 2, on the real PostgreSQL: an honest kiosk that was offline for weeks syncs a
sighting dated in a month the admin station has locked. It is held (audited, listed for HR), not in the
locked timesheet, and not queued for integrations until HR unlocks and counts it."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from core.attendance.schedule import month_key
from core.base.records import AttendanceEvent, EventKind
from core.base.timekeeping import AuditAction
from core.integrations.targets import Target, TargetKind
from tests.kits.site_kit import enroll
from tests.site.test_site_attendance import ZONE, make_engine


def test_a_late_kiosk_sync_into_a_locked_month_is_held_audited_and_not_delivered(pg, tmp_path):
    cluster, url = pg
    admin = make_engine(tmp_path / "admin")
    kiosk = make_engine(tmp_path / "kiosk")
    try:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(ZONE)
        this_month = datetime.now(zone).replace(day=1, hour=12, minute=0, second=0, microsecond=0)
        last_month = (this_month - timedelta(days=20)).replace(day=10)
        enroll(admin.store, "Ada Lovelace", seed=1)
        admin.site_init(url)
        kiosk.site_join(url, "door")
        with psycopg.connect(url) as conn:  # the kiosk has been part of the site for months
            conn.execute("UPDATE kiosks SET joined_at = now() - interval '90 days'")
        group = admin.add_group("Office", "09:00", "17:00", 0, "mon-sun").value
        ada = admin.find_person("Ada Lovelace")
        admin.set_working_life(ada.id, start=last_month.date().replace(day=1) - timedelta(days=31))
        admin.assign_group(ada.id, group.id, from_day=last_month.date().replace(day=1) - timedelta(days=31))
        admin.add_integration(Target("hook", TargetKind.WEBHOOK, "http://127.0.0.1:9/hook"), "secret")
        kiosk_ada = kiosk.find_person("Ada Lovelace").id
        worked = last_month.replace(day=11)  # a day the kiosk reported in time, before the lock
        kiosk.store.record_event(
            AttendanceEvent(None, kiosk_ada, None, EventKind.CHECK_IN, worked.replace(hour=9), "door", 0.9)
        )
        leaving = kiosk.store.record_event(
            AttendanceEvent(None, kiosk_ada, None, EventKind.CHECK_IN, worked.replace(hour=17), "door", 0.9)
        )
        kiosk.sync_site_now()
        admin.sync_site_now()
        month = month_key(last_month.date())
        admin.lock_month(month, actor="payroll", reason="paid")
        queued = admin.integration_status()[0].queued  # the day reported in time
        before = [(r.totals.attended, r.totals.hours) for r in admin.timesheet(month).rows]

        # the kiosk was offline: its sightings of last month reach the server only now
        for hour in (9, 17):
            kiosk.store.record_event(
                AttendanceEvent(None, kiosk_ada, None, EventKind.CHECK_IN, last_month.replace(hour=hour), "door", 0.9)
            )
        kiosk.sync_site_now()
        admin.sync_site_now()
        admin.sync_site_now()  # a second round (the look-back) holds nothing twice

        held = admin.held_sightings()
        assert [(h.month, h.station) for h in held] == [(month, "door"), (month, "door")]
        assert [(r.totals.attended, r.totals.hours) for r in admin.timesheet(month).rows] == before
        assert admin.verify_locked_month(month).verified
        audit = next(a for a in admin.audit_log() if a.action is AuditAction.EVENTS_HELD)
        assert audit.details["held"] == 2 and audit.subject == month
        assert admin.integration_status()[0].queued == queued  # nothing is delivered while held

        assert kiosk.held_sightings() == []  # a kiosk holds nothing: HR decides on the admin station

        # the kiosk moves an event of the locked month (a new revision): the admin station does not apply it
        kiosk.store.update_event_time(leaving.id, worked.replace(hour=12))
        kiosk.sync_site_now()
        admin.sync_site_now()
        assert admin.verify_locked_month(month).verified
        assert [(r.totals.attended, r.totals.hours) for r in admin.timesheet(month).rows] == before
        not_applied = next(a for a in admin.audit_log() if "updates_not_applied" in a.details)
        assert not_applied.details["updates_not_applied"] == [kiosk.store.outbox(0, 100)[-1].uuid]

        admin.count_held([h.id for h in held], "the door was offline", actor="hr")
        assert admin.timesheet(month).rows[0].totals.attended == 2
        assert admin.integration_status()[0].queued == queued + 2  # queued once they count
    finally:
        admin.close()
        kiosk.close()
