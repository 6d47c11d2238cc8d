"""Writing a plan as a CSV or XLSX table, in the headings the table reader accepts.

Every cell is written as text: one that starts like a formula gets the guard apostrophe
(`csv_safe`) in a CSV file and the string type in a workbook, so no spreadsheet runs it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

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


def write_csv(rows: Iterable[list[str]], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([csv_safe(v) for v in row])


@dataclass
class Written:
    """What a workbook was given: rows, and the cells that are not empty."""

    rows: int = 0
    cells: int = 0


def write_xlsx(rows: Iterable[list[str]], out: Path | BinaryIO) -> Written:
    """The rows as the one sheet of a workbook, written as they come (openpyxl's write-only
    mode keeps no cells in memory): every cell text, wrapped, the headings bold and frozen."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import Cell
    from openpyxl.styles import Alignment, Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Actions")
    sheet.freeze_panes = "A2"
    wrapped = Alignment(wrap_text=True, vertical="top")
    bold = Font(bold=True)

    def cell(value: str, heading: bool) -> Cell:
        # Stored before control characters were refused at import: never a failed export.
        made = WriteOnlyCell(sheet, value=writable(value))
        made.data_type = "s"  # never a formula, whatever the text starts with
        made.alignment = wrapped
        if heading:
            made.font = bold
        return made

    written = Written()
    for row in rows:
        sheet.append([cell(value, written.rows == 0) for value in row])
        written.rows += 1
        written.cells += sum(1 for value in row if value)
    book.save(out)
    return written
