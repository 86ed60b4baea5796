"""Exports that can be checked: a timesheet (XLSX, CSV) and an event export write a signed manifest beside them,
and `rollcall verify-export` fails a file edited by one cell."""

from __future__ import annotations

import csv

import openpyxl

from tests.kits.cli import run
from tests.kits.hr import DAY, at


def test_an_export_edited_by_one_cell_fails_verify_export(hr, tmp_path, capsys):
    engine, (ada, _, _) = hr
    engine.punch(ada.id, at(DAY, 9, 0), "badge", actor="hr")
    engine.punch(ada.id, at(DAY, 17, 0), "badge", actor="hr")
    sheet_csv = engine.export_timesheet("2026-10", tmp_path / "october.csv")
    sheet_xlsx = engine.export_timesheet("2026-10", tmp_path / "october.xlsx")
    events = tmp_path / "events.csv"
    engine.export_csv(events, DAY, DAY)
    for path in (sheet_csv, sheet_xlsx, events):
        code, out, _ = run(capsys, "verify-export", str(path))
        assert code == 0 and "verified: exactly as" in out, out

    rows = list(csv.reader(sheet_csv.open(newline="")))
    row = next(i for i, r in enumerate(rows) if r and r[0] == "Ada")
    column = rows[0].index(DAY.isoformat())
    rows[row][column] = "A"  # one cell: present becomes absent
    with sheet_csv.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    code, out, _ = run(capsys, "verify-export", str(sheet_csv))
    assert code == 1 and "changed after Rollcall wrote it" in out

    book = openpyxl.load_workbook(sheet_xlsx)
    book.active["A2"] = "Mallory"
    book.save(sheet_xlsx)
    code, out, _ = run(capsys, "verify-export", str(sheet_xlsx))
    assert code == 1 and "changed after Rollcall wrote it" in out

    manifest = events.with_name(events.name + ".manifest.json")
    manifest.write_text(manifest.read_text().replace('"sha256": "', '"sha256": "0'))  # re-pointed without the key
    code, out, _ = run(capsys, "verify-export", str(events))
    assert code == 1 and "signature fails" in out
