"""Timesheet exports payroll accepts: CSV (UTF-8 with BOM) and XLSX, formula injection neutralised in both.

Both hold the grid (one row per person, one column per day, then the totals). The XLSX also has a
legend, and on request a "Days" sheet with one row per person per day. openpyxl is imported only here.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from core.base.errors import InvalidInputError

from .timesheet import STATUS_CODES, Timesheet, cell_text

FORMULA_STARTS = ("=", "@", "\t", "\r")  # a formula whatever follows
SIGNS = ("+", "-")  # a formula only when something follows the sign: a lone "-" (a day off) is plain text
TOTAL_COLUMNS = [
    "Days attended",
    "Days late",
    "Days absent",
    "Days on leave",
    "Holidays",
    "Hours",
    "Late minutes",
    "Early leave minutes",
    "Half days",
]
DAY_COLUMNS = [
    "Date",
    "Name",
    "External ID",
    "Group",
    "Shift",
    "Status",
    "First seen",
    "Last seen",
    "Hours",
    "Late minutes",
    "Early leave minutes",
    "Half day",
    "Outside any window",
    "Final",
]


def formula_like(text: str) -> bool:
    """Whether a spreadsheet could read the text as a formula: '=1', '@x', '+1', '-1+2', '-A1'; not '-' or '- off'."""
    if text.startswith(FORMULA_STARTS):
        return True
    return text.startswith(SIGNS) and len(text) > 1 and not text[1].isspace()


def safe_text(value: object) -> str:
    """Text a spreadsheet will not run as a formula (names, ids and group names are user input)."""
    text = "" if value is None else str(value)
    return "'" + text if formula_like(text) else text


def grid_header(sheet: Timesheet) -> list[str]:
    return ["Name", "External ID", "Group", *(day.isoformat() for day in sheet.days), *TOTAL_COLUMNS]


def grid_rows(sheet: Timesheet) -> list[list[object]]:
    rows: list[list[object]] = []
    for row in sheet.rows:
        t = row.totals
        rows.append(
            [
                row.name,
                row.external_id or "",
                row.group or "",
                *(cell_text(d) for d in row.days),
                t.attended,
                t.late,
                t.absent,
                t.on_leave,
                t.holidays,
                t.hours,
                t.late_minutes,
                t.early_leave_minutes,
                t.half_days,
            ]
        )
    return rows


def day_rows(sheet: Timesheet) -> list[list[object]]:
    rows: list[list[object]] = []
    for row in sheet.rows:
        for d in row.days:
            rows.append(
                [
                    d.day.isoformat(),
                    d.name,
                    d.external_id or "",
                    d.group or "",
                    d.shift or "",
                    d.status.value,
                    d.first_seen.strftime("%H:%M:%S") if d.first_seen else "",
                    d.last_seen.strftime("%H:%M:%S") if d.last_seen else "",
                    round(d.hours, 2),
                    d.late_minutes,
                    d.early_leave_minutes,
                    "yes" if d.half_day else "no",
                    " ".join(f"{m:%H:%M:%S}" for m in d.outside_window),
                    "yes" if d.final else "no",
                ]
            )
    return rows


def legend() -> list[list[object]]:
    return [[code or "(blank)", status.value] for status, code in STATUS_CODES.items()]


def _replace_atomically(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)  # a half-written file never replaces a good one
    finally:
        tmp.unlink(missing_ok=True)


def write_csv(sheet: Timesheet, path: Path) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(grid_header(sheet))
            for row in grid_rows(sheet):
                writer.writerow([safe_text(v) if isinstance(v, str) else v for v in row])

    _replace_atomically(path, write)


def write_xlsx(sheet: Timesheet, path: Path, with_days: bool = False) -> None:
    """The grid and a legend; with_days adds a "Days" sheet, one row per person per day (10x the cells)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)  # streams rows: a month of 1,000 people writes in about a second
    bold = Font(bold=True)

    def text_cell(worksheet, value: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(worksheet, value=value)
        cell.data_type = "s"  # never a formula, whatever the text starts with
        if formula_like(value):
            cell.quotePrefix = True  # and Excel keeps it text when the cell is edited
        return cell

    sheets = [(f"Timesheet {sheet.title}", grid_header(sheet), grid_rows(sheet))]
    if with_days:
        sheets.append(("Days", DAY_COLUMNS, day_rows(sheet)))
    sheets.append(("Legend", ["Code", "Status"], legend()))
    for title, header, rows in sheets:
        worksheet = workbook.create_sheet(title)
        worksheet.freeze_panes = "B2"
        heading = []
        for name in header:
            cell = text_cell(worksheet, name)
            cell.font = bold
            heading.append(cell)
        worksheet.append(heading)
        for values in rows:
            worksheet.append([text_cell(worksheet, v) if isinstance(v, str) and formula_like(v) else v for v in values])
        if title == "Legend" and sheet.locked:
            worksheet.append(["", f"{sheet.title} is locked: this timesheet is final."])
    _replace_atomically(path, workbook.save)


def export_timesheet(sheet: Timesheet, path: Path | str, with_days: bool = False) -> Path:
    """Write the timesheet as .csv or .xlsx (by the file's suffix); with_days: see write_xlsx."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        write_csv(sheet, path)
    elif suffix == ".xlsx":
        write_xlsx(sheet, path, with_days)
    else:
        raise InvalidInputError(f"Cannot write {path.name}: a timesheet is saved as .xlsx or .csv.")
    return path
