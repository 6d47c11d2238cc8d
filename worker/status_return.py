"""Read a lead's monthly status return: a CSV or XLSX file of progress updates.

Columns (headings matched ignoring case, spaces and underscores): ``ID``, ``RAG``,
``Status``, ``Note``, ``Updated By`` and, optionally, ``Date``. Row numbers are spreadsheet
rows: the heading row is row 1.

The file is read whole or not at all: every problem found is collected into one
`InputError`, naming the row and column. Pure apart from reading the one file: no database
and no clock (pass ``today`` to refuse dates in the future).

Not checked here: whether each ID names an action in the plan. The caller knows the plan
(it is in the database) and must check the IDs before applying the updates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

from worker.errors import InputError, Problem
from worker.io import sheets
from worker.io.cells import unwritable_character
from worker.io.sheets import Columns, Formula, Record, Value
from worker.io.xlsx import LIMITS, column_letter
from worker.plan.data import Rag, State, parse_rag, parse_state
from worker.plan.dates import read_date_cell

__all__ = ["StatusReturn", "StatusUpdate", "read_status_return"]

KINDS = (".csv", ".xlsx")

# heading key (see worker.io.sheets.heading_key) -> field
_FIELDS = {
    "id": "id",
    "rag": "rag",
    "status": "state",
    "note": "note",
    "updatedby": "by",
    "date": "on",
}
_REQUIRED = {"id": "ID", "rag": "RAG", "state": "Status", "note": "Note", "by": "Updated By"}
_DATE_EXAMPLE = "write the day it happened, like 30/09/2012"


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One row of a status return. ``rag``/``state`` None: leave the action's value as is."""

    row: int
    ref: str
    rag: Rag | None
    state: State | None
    note: str
    by: str
    on: date | None


@dataclass(frozen=True)
class StatusReturn:
    """A whole status return: its updates in file order, and notes for the person sending it."""

    source: str
    updates: tuple[StatusUpdate, ...]
    warnings: tuple[str, ...]


_T = TypeVar("_T")


def read_status_return(path: Path, *, today: date | None = None) -> StatusReturn:
    """Read and check a status return; raise `InputError` listing every problem in it.

    IDs are not looked up in the plan: the caller must do that.
    """
    source = str(path)
    kind = path.suffix.casefold()
    if kind == ".csv":
        text, notes = sheets.csv_text(path)
        records: list[Record] = list(sheets.csv_records(text, source, LIMITS))
    elif kind == ".xlsx":
        with sheets.xlsx_records(path, None, LIMITS) as rows:
            records, notes = list(rows), []
    else:
        accepted = " or ".join(KINDS)
        raise InputError(
            source, [Problem("", f"a status return must be a {accepted} file, not {kind!r}")]
        )
    updates, warnings = _read_records(records, source, today)
    return StatusReturn(source, updates, tuple(notes) + warnings)


# --- checking rows -------------------------------------------------------------------------


def _read_records(
    records: Sequence[Record], source: str, today: date | None
) -> tuple[tuple[StatusUpdate, ...], tuple[str, ...]]:
    if not records:
        raise InputError(source, [Problem("", "the file is empty: no headings, no status rows")])
    problems: list[Problem] = []
    columns = _read_headings(*records[0], problems)
    if problems:
        # Without the right headings no cell can be read for what it is.
        raise InputError(source, problems)
    reader = _RowReader(columns, today, problems)
    updates: list[StatusUpdate] = []
    rows = [(number, values) for number, values in records[1:] if not _is_blank(values)]
    for number, values in rows:
        update = reader.read(number, values)
        if update is not None:
            updates.append(update)
    if not rows:
        problems.append(Problem("", "no status rows: the file has headings only"))
    if problems:
        raise InputError(source, problems)
    return tuple(updates), _warnings(columns, reader.unheaded)


def _is_blank(values: Sequence[Value]) -> bool:
    return not any(isinstance(v, Formula) or sheets.cell_text(v).strip() for v in values)


def _warnings(columns: Columns, unheaded: dict[int, list[int]]) -> tuple[str, ...]:
    warnings = [
        f"column {heading!r} is not a status-return column and was ignored"
        for heading in columns.unknown
    ]
    for index, rows in sorted(unheaded.items()):
        shown = ", ".join(str(row) for row in rows[:5]) + (", …" if len(rows) > 5 else "")
        warnings.append(
            f"column {column_letter(index + 1)} has no heading; its text was ignored (rows {shown})"
        )
    return tuple(warnings)


def _read_headings(number: int, values: Sequence[Value], problems: list[Problem]) -> Columns:
    for index, value in enumerate(values):
        if isinstance(value, Formula):
            place = f"row {number}, column {column_letter(index + 1)}"
            problems.append(_formula_problem(place, value))
    texts = [sheets.cell_text(v) for v in values]
    return sheets.read_headings(number, texts, _FIELDS, _REQUIRED, problems)


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _formula_problem(place: str, formula: Formula) -> Problem:
    return Problem(
        place, f"cell {formula.coordinate} holds a formula; status returns take values only"
    )


@dataclass
class _RowReader:
    columns: Columns
    today: date | None
    problems: list[Problem]
    seen: dict[str, tuple[str, int]] = field(default_factory=dict)  # casefolded ID -> (ID, row)
    unheaded: dict[int, list[int]] = field(default_factory=dict)  # column index -> rows

    def read(self, number: int, values: Sequence[Value]) -> StatusUpdate | None:
        before = len(self.problems)
        bad = self._check_cells(number, values)
        cells = _Cells(self, number, values, bad)
        ref = self._ref(cells)
        rag = cells.parse("rag", parse_rag)
        state = cells.parse("state", parse_state)
        if cells.blank("rag") and cells.blank("state"):
            place = f"row {number}, columns {self.columns.name(self.columns.fields['rag'])}"
            place += f" and {self.columns.name(self.columns.fields['state'])}"
            self.problems.append(Problem(place, "give a RAG rating or a Status (or both)"))
        note = cells.required("note", "a note saying what has been done is required")
        by = self._by(cells)
        on = self._on(cells)
        if len(self.problems) > before or ref is None or note is None or by is None:
            return None
        return StatusUpdate(number, ref, rag, state, note, by, on)

    def _check_cells(self, number: int, values: Sequence[Value]) -> set[int]:
        """Report formula and over-long cells; their columns are not read any further."""
        bad: set[int] = set()
        for index, value in enumerate(values):
            place = self.columns.place(number, index)
            text = sheets.cell_text(value)
            if isinstance(value, Formula):
                self.problems.append(_formula_problem(place, value))
                bad.add(index)
            elif (reason := sheets.oversized(text)) is not None:
                self.problems.append(Problem(place, reason))
                bad.add(index)
            elif (code := unwritable_character(text)) is not None:
                reason = f"holds the control character {code}; remove it"
                self.problems.append(Problem(place, reason))
                bad.add(index)
            elif text.strip() and not self.columns.headed(index):
                self.unheaded.setdefault(index, []).append(number)
        return bad

    def _ref(self, cells: _Cells) -> str | None:
        ref = cells.required("id", "the action's ID (like WS1-01) is required")
        if ref is None:
            return None
        if len(ref.splitlines()) > 1:
            cells.problem("id", "the ID must be on one line")
            return None
        key = ref.casefold()
        if key in self.seen:
            first, row = self.seen[key]
            cells.problem("id", f"{first} already given in row {row}")
            return None
        self.seen[key] = (ref, cells.number)
        return ref

    def _by(self, cells: _Cells) -> str | None:
        by = cells.required("by", "say who updated it")
        if by is not None and len(by.splitlines()) > 1:
            cells.problem("by", "must be on one line")
            return None
        return by

    def _on(self, cells: _Cells) -> date | None:
        value = cells.value("on")
        read = read_date_cell(value)
        if read.is_empty:
            return None
        shown = sheets.cell_text(value).strip()
        if len(shown) > 60:  # the message quotes the cell; keep it readable
            shown = shown[:60] + "…"
        if not read.readable:
            cells.problem("on", f"{shown!r} is not a date; {_DATE_EXAMPLE}")
        elif read.due is None or read.precision != "day":
            cells.problem("on", f"{shown!r} is not a single day; {_DATE_EXAMPLE}")
        elif read.recurrence is not None or read.remark:
            cells.problem("on", f"{shown!r} holds more than a date; {_DATE_EXAMPLE}")
        elif self.today is not None and read.due > self.today:
            cells.problem("on", f"{_day(read.due)} is in the future (today is {_day(self.today)})")
        else:
            return read.due
        return None


@dataclass
class _Cells:
    """The cells of one row, by field."""

    reader: _RowReader
    number: int
    values: Sequence[Value]
    bad: set[int]

    def _index(self, field_name: str) -> int | None:
        index = self.reader.columns.fields.get(field_name)
        return index if index is not None and index < len(self.values) else None

    def value(self, field_name: str) -> Value:
        """The cell as read; None when missing or already reported."""
        index = self._index(field_name)
        return None if index is None or index in self.bad else self.values[index]

    def text(self, field_name: str) -> str:
        # Excel writes "\r\n" inside CSV cells; keep line breaks as plain "\n".
        text = sheets.cell_text(self.value(field_name)).strip()
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def blank(self, field_name: str) -> bool:
        index = self._index(field_name)
        return not self.text(field_name) and (index is None or index not in self.bad)

    def problem(self, field_name: str, reason: str) -> None:
        index = self.reader.columns.fields[field_name]
        self.reader.problems.append(Problem(self.reader.columns.place(self.number, index), reason))

    def required(self, field_name: str, reason: str) -> str | None:
        text = self.text(field_name)
        if not text:
            if self.blank(field_name):
                self.problem(field_name, reason)
            return None
        return text

    def parse(self, field_name: str, parse: Callable[[str], _T]) -> _T | None:
        try:
            return parse(self.text(field_name))
        except ValueError as exc:
            self.problem(field_name, str(exc))
            return None
