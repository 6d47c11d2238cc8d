"""Writing a plan as a CSV or XLSX table, in the headings the table reader accepts.

Every cell is written as text: one that starts like a formula gets the guard apostrophe
(`csv_safe`) in a CSV file and the string type in a workbook, so no spreadsheet runs it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from worker.io.cells import csv_safe, writable
from worker.plan.data import ActionData
from worker.plan.dates import MonthDay
from worker.plan.due import read_action_dates

EXPORT_HEADINGS = (
    "ID",
    "Row",
    "Work Stream",
    "Key Del",
    "Actions",
    "Description",
    "Lead",
    "Lead Roles",
    "Dependencies",
    "Depends On",
    "Start Date",
    "Target End Date",
    "Due",
    "Precision",
    "Recurrence",
    "RAG",
    "Status",
)


def export_rows(actions: Iterable[ActionData], month_day: MonthDay) -> Iterator[list[str]]:
    yield list(EXPORT_HEADINGS)
    for a in actions:
        dates = read_action_dates(a.start, a.target, month_day)
        yield [
            a.ref,
            a.row_ref if a.row_ref != a.ref else "",
            str(a.work_stream),
            a.key_deliverable,
            a.action,
            a.description,
            a.lead,
            "; ".join(a.lead_roles),
            a.dependencies,
            "; ".join(str(d) for d in a.depends_on),
            a.start,
            a.target,
            dates.due.isoformat() if dates.due else "",
            dates.precision,
            str(dates.recurrence) if dates.recurrence else "",
            a.rag.value.title() if a.rag else "",
            a.state.value.capitalize() if a.state else "",
        ]


def write_csv(rows: Iterable[list[str]], out: io.TextIOBase | io.StringIO) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([csv_safe(v) for v in row])


def write_xlsx(rows: Iterable[list[str]], out: Path | BinaryIO) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Actions"
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c)
            # Stored before control characters were refused at import: never a failed export.
            cell.value = writable(value)
            cell.data_type = "s"  # never a formula, whatever the text starts with
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            if r == 1:
                cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    book.save(out)
