"""ERPNext and Odoo as they really run (issue 32, items 1-13): the test servers keep the real rules (log types,
geolocation, the server's zone, translated messages, last_sync_of_checkin, ERPNext 13; Odoo's one open attendance,
field groups, auto-check-out, JSON-2), and Rollcall meets them. Each test fails on the code before the issue."""

from __future__ import annotations

from datetime import time

import pytest

from core.base.records import EventKind
from core.integrations.targets import Target, TargetKind
from tests.kits.fake_erpnext import STRICT, FakeErpnext, ShiftType
from tests.kits.fake_odoo import FakeOdoo
from tests.kits.integration_kit import add_erpnext, add_odoo, at, make_engine, people, sight, status


@pytest.fixture
def engine(rollcall_home):
    engine = make_engine()
    yield engine
    engine.close()


def checkins(erp: FakeErpnext) -> list[tuple[str, str | None]]:
    return [(c["time"].strftime("%Y-%m-%d %H:%M"), c["log_type"]) for c in erp.checkins]


def spans(odoo: FakeOdoo, employee: int) -> list[tuple[str, str | bool]]:
    return [(a["check_in"], a["check_out"]) for a in odoo.attendances(employee)]


# ---- ERPNext ----


def test_1_a_strict_log_type_shift_gets_in_and_out(engine, erp):
    ada = erp.add_employee("Ada", attendance_device_id="E000")
    erp.add_shift_type(ShiftType("Day", time(8), time(17), STRICT), ada)
    add_erpnext(engine, erp)
    (person,) = people(engine, 1)
    sight(engine, person, at(12, 8, 0))
    sight(engine, person, at(12, 17, 0), EventKind.CHECK_OUT)
    assert engine.deliver_integrations_now().dead == 0
    assert checkins(erp) == [("2026-10-12 08:00", "IN"), ("2026-10-12 17:00", "OUT")]


def test_2_geolocation_tracking_gets_the_stations_fixed_place(engine, erp):
    erp.allow_geolocation_tracking = True
    erp.add_employee("Ada", attendance_device_id="E000")
    target = Target("erp", TargetKind.ERPNEXT, erp.url, latitude=52.52, longitude=13.405)
    engine.add_integration(target, erp.token.removeprefix("token "))
    (person,) = people(engine, 1)
    sight(engine, person, at(12, 8, 0))
    assert engine.deliver_integrations_now().dead == 0
    assert (erp.checkins[0]["latitude"], erp.checkins[0]["longitude"]) == (52.52, 13.405)
    assert engine.integration_target("erp").latitude == 52.52  # kept with the target


def test_3_times_are_sent_in_the_servers_zone(engine, erp):
    erp.time_zone = "Asia/Kolkata"  # System Settings; the site is in Berlin (UTC+2 in October)
    erp.add_employee("Ada", attendance_device_id="E000")
    add_erpnext(engine, erp)
    (person,) = people(engine, 1)
    sight(engine, person, at(12, 8, 0))
    engine.deliver_integrations_now()
    assert checkins(erp) == [("2026-10-12 11:30", "IN")]
    assert "Asia/Kolkata" in engine.test_integration("erp")


def test_4_a_resend_to_a_german_language_user_is_delivered_not_dead(engine, erp):
    erp.language = "de"
    erp.add_employee("Ada", attendance_device_id="E000")
    add_erpnext(engine, erp)
    (person,) = people(engine, 1)
    sight(engine, person, at(12, 8, 0))
    erp.drop_next = 1  # stored, but the reply is lost: the resend is refused in German
    for _ in range(3):
        engine.deliver_integrations_now()
    assert status(engine)["erp"] == (0, 1, 0)
    assert len(erp.checkins) == 1


def test_5_last_sync_of_checkin_moves_on_so_auto_attendance_runs(engine, erp):
    ada = erp.add_employee("Ada", attendance_device_id="E000")
    erp.add_shift_type(ShiftType("Day", time(8), time(17)), ada)
    engine.add_integration(
        Target("erp", TargetKind.ERPNEXT, erp.url, shift_types=("Day",)), erp.token.removeprefix("token ")
    )
    (person,) = people(engine, 1)
    sight(engine, person, at(12, 8, 0))
    sight(engine, person, at(12, 17, 0), EventKind.CHECK_OUT)
    assert erp.process_auto_attendance("Day") == []  # nothing synced yet: ERPNext waits
    assert engine.deliver_integrations_now().errors == []
    assert erp.shift_types["Day"].last_sync_of_checkin is not None
    (attendance,) = erp.process_auto_attendance("Day")
    assert attendance["hours"] == 9.0


def test_6_erpnext_13_gets_its_own_method_path(engine, erp):
    erp.version = 13
    erp.add_employee("Ada", attendance_device_id="E000")
    add_erpnext(engine, erp)
    (person,) = people(engine, 1)
    sight(engine, person, at(12, 8, 0))
    sight(engine, person, at(12, 9, 0), EventKind.CHECK_OUT)
    assert engine.deliver_integrations_now().dead == 0
    assert len(erp.checkins) == 2


def test_inactive_employees_and_missing_roles_are_said_clearly(engine, erp):
    erp.add_employee("Ada", status="Inactive", attendance_device_id="E000")
    add_erpnext(engine, erp)
    (person,) = people(engine, 1)
    sight(engine, person, at(12, 8, 0))
    assert engine.deliver_integrations_now().dead == 1
    assert "Inactive Employee" in engine.integration_dead_letters()[0].error
    erp.roles = {"Employee"}  # no HR User: ERPNext answers 403, the round stops, nothing more goes dead
    sight(engine, person, at(12, 9, 0))
    report = engine.deliver_integrations_now()
    assert report.dead == 0 and "roles" in report.errors[0]


# ---- Odoo ----


def test_7_a_check_out_whose_check_in_went_dead_does_not_stretch_yesterday(engine, odoo):
    employee = odoo.add_employee("Ada", barcode="E000")
    add_odoo(engine, odoo)
    (person,) = people(engine, 1)
    sight(engine, person, at(12, 8, 0))
    sight(engine, person, at(12, 17, 0), EventKind.CHECK_OUT)
    engine.deliver_integrations_now()
    odoo.models["hr.employee"][employee]["barcode"] = "moved"  # the 13th's check-in goes dead
    sight(engine, person, at(13, 8, 0))
    assert engine.deliver_integrations_now().dead == 1
    odoo.models["hr.employee"][employee]["barcode"] = "E000"
    sight(engine, person, at(13, 17, 0), EventKind.CHECK_OUT)
    engine.deliver_integrations_now()
    assert spans(odoo, employee) == [
        ("2026-10-12 06:00:00", "2026-10-12 15:00:00"),
        ("2026-10-13 06:00:00", "2026-10-13 15:00:00"),  # the day board's pair, not the 12th stretched
    ]


def test_8_rows_go_in_sighting_order_and_a_late_earlier_sighting_re_pairs(engine, odoo):
    employee = odoo.add_employee("Ada", barcode="E000")
    add_odoo(engine, odoo)
    (person,) = people(engine, 1)
    sight(engine, person, at(12, 17, 0), EventKind.CHECK_OUT)  # synced late from a kiosk: queued first
    sight(engine, person, at(12, 9, 0))
    assert engine.deliver_integrations_now().dead == 0
    assert spans(odoo, employee) == [("2026-10-12 07:00:00", "2026-10-12 15:00:00")]
    sight(engine, person, at(12, 7, 30))  # an imported log, after everything was delivered
    engine.deliver_integrations_now()
    assert spans(odoo, employee) == [("2026-10-12 05:30:00", "2026-10-12 15:00:00")]


def test_9_no_zero_hour_chains_and_a_refused_create_undoes_its_close(engine, odoo):
    employee = odoo.add_employee("Ada", barcode="E000")
    add_odoo(engine, odoo)
    (person,) = people(engine, 1)
    for hour in (8, 12, 17):  # no shift: every sighting reads as a check-in
        sight(engine, person, at(12, hour, 0))
    engine.deliver_integrations_now()
    assert spans(odoo, employee) == [("2026-10-12 06:00:00", "2026-10-12 15:00:00")]
    sight(engine, person, at(14, 8, 0))  # one sighting on the 14th: open
    engine.deliver_integrations_now()
    odoo.add_attendance(employee, "2026-10-15 05:00:00", "2026-10-15 07:00:00")  # entered in Odoo; overlaps ours
    sight(engine, person, at(15, 8, 0))
    assert engine.deliver_integrations_now().dead == 1
    assert odoo.attendances(employee)[1]["check_out"] is False  # the 14th's close was undone with the refusal


def test_10_manual_punches_after_close_and_before_the_start_move_the_ends(engine, odoo):
    employee = odoo.add_employee("Ada", barcode="E000")
    add_odoo(engine, odoo)
    (person,) = people(engine, 1)
    sight(engine, person, at(12, 8, 0))
    sight(engine, person, at(12, 17, 0), EventKind.CHECK_OUT)
    sight(engine, person, at(13, 9, 0))
    engine.deliver_integrations_now()
    engine.punch(person.id, at(12, 18, 30), "real leave time", actor="admin")
    engine.punch(person.id, at(13, 7, 45), "badge forgotten", actor="admin")
    assert engine.deliver_integrations_now().dead == 0
    assert spans(odoo, employee) == [
        ("2026-10-12 06:00:00", "2026-10-12 16:30:00"),
        ("2026-10-13 05:45:00", "2026-10-13 07:00:00"),
    ]


def test_11_a_genuine_check_out_replaces_odoos_auto_check_out(engine, odoo):
    employee = odoo.add_employee("Ada", barcode="E000")
    add_odoo(engine, odoo)
    (person,) = people(engine, 1)
    sight(engine, person, at(12, 8, 0))
    engine.deliver_integrations_now()
    assert odoo.auto_check_out("2026-10-12 20:00:00", expected_hours=8, tolerance_hours=1)
    assert spans(odoo, employee) == [("2026-10-12 06:00:00", "2026-10-12 15:00:00")]
    sight(engine, person, at(12, 16, 30), EventKind.CHECK_OUT)  # came in late from a kiosk
    engine.deliver_integrations_now()
    assert spans(odoo, employee) == [("2026-10-12 06:00:00", "2026-10-12 14:30:00")]


def test_12_a_user_without_hr_officer_stops_the_round_naming_the_groups(engine, odoo):
    odoo.add_employee("Ada", barcode="E000")
    odoo.groups = {"hr_attendance.group_hr_attendance_manager"}
    add_odoo(engine, odoo)
    (person,) = people(engine, 1)
    for hour in (8, 9, 10):
        sight(engine, person, at(12, hour, 0))
    report = engine.deliver_integrations_now()
    assert report.dead == 0 and "hr.group_hr_user" in report.errors[0]
    assert status(engine)["odoo"] == (3, 0, 0)


def test_13_odoo_19_is_spoken_to_through_json_2(engine):
    with FakeOdoo(version=19) as odoo:
        employee = odoo.add_employee("Ada", barcode="E000")
        engine.add_integration(
            Target("odoo", TargetKind.ODOO, odoo.url, database=odoo.db, user=odoo.login), odoo.api_key
        )
        (person,) = people(engine, 1)
        sight(engine, person, at(12, 8, 0))
        sight(engine, person, at(12, 17, 0), EventKind.CHECK_OUT)
        assert engine.deliver_integrations_now().dead == 0
        assert "JSON-2" in engine.test_integration("odoo")
        assert spans(odoo, employee) == [("2026-10-12 06:00:00", "2026-10-12 15:00:00")]
        assert odoo.deprecation_warnings == 0  # /jsonrpc was never called


def test_sightings_with_fractions_of_a_second_pair_as_the_board_does(engine, odoo):
    employee = odoo.add_employee("Ada", barcode="E000")
    add_odoo(engine, odoo)
    (person,) = people(engine, 1)
    sight(engine, person, at(12, 8, 0).replace(microsecond=400_000))  # a camera's frame time
    sight(engine, person, at(12, 17, 0).replace(microsecond=900_000), EventKind.CHECK_OUT)
    engine.deliver_integrations_now()
    assert spans(odoo, employee) == [("2026-10-12 06:00:00", "2026-10-12 15:00:00")]


def test_3_a_server_zone_rollcall_does_not_know_stops_the_round_clearly(engine, erp):
    erp.time_zone = "Mars/Olympus_Mons"
    erp.add_employee("Ada", attendance_device_id="E000")
    add_erpnext(engine, erp)
    (person,) = people(engine, 1)
    sight(engine, person, at(12, 8, 0))
    report = engine.deliver_integrations_now()
    assert "names no time zone Rollcall knows ('Mars/Olympus_Mons')" in report.errors[0]
    assert status(engine)["erp"] == (1, 0, 0) and erp.checkins == []


def test_an_archived_odoo_employee_is_a_dead_letter_naming_the_person(engine, odoo):
    odoo.add_employee("Ada", barcode="E000", active=False)
    add_odoo(engine, odoo)
    (person,) = people(engine, 1)
    sight(engine, person, at(12, 8, 0))
    assert engine.deliver_integrations_now().dead == 1
    assert "Odoo has no employee for Person 0" in engine.integration_dead_letters()[0].error


def test_9_an_attendance_opened_at_odoos_kiosk_is_not_closed_at_its_start(engine, odoo):
    employee = odoo.add_employee("Ada", barcode="E000")
    odoo.add_attendance(employee, "2026-10-11 06:00:00", in_mode="kiosk")  # checked in at Odoo's kiosk, still open
    add_odoo(engine, odoo)
    (person,) = people(engine, 1)
    sight(engine, person, at(12, 8, 0))
    assert engine.deliver_integrations_now().dead == 1  # Odoo's own refusal, said in the dead letter
    assert "hasn't checked out since" in engine.integration_dead_letters()[0].error
    assert spans(odoo, employee) == [("2026-10-11 06:00:00", False)]  # left to Odoo, not made a 0-hour attendance
