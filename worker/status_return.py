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

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TypeVar

from worker.errors import InputError, Problem
from worker.io.cells import unguard_formula, unwritable_character
from worker.io.tables import MAX_CELL, _decode, _xlsx_text, heading_key
from worker.io.xlsx import LIMITS, sheet_rows
from worker.plan.data import Rag, State, parse_rag, parse_state
from worker.plan.dates import read_date_cell

__all__ = ["StatusReturn", "StatusUpdate", "read_status_return"]

KINDS = (".csv", ".xlsx")

# heading key (see `_key`) -> field
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


@dataclass(frozen=True, slots=True)
class _Formula:
    """A spreadsheet cell holding a formula: refused, never evaluated."""

    coordinate: str


# One cell as read: text from CSV; openpyxl's value (or a `_Formula`) from XLSX.
_Value = object
_Record = tuple[int, list[_Value]]
_T = TypeVar("_T")


def read_status_return(path: Path, *, today: date | None = None) -> StatusReturn:
    """Read and check a status return; raise `InputError` listing every problem in it.

    IDs are not looked up in the plan: the caller must do that.
    """
    source = str(path)
    kind = path.suffix.casefold()
    if kind == ".csv":
        records, notes = _csv_records(_read_bytes(path, source), source)
    elif kind == ".xlsx":
        records, notes = _xlsx_records(path), []
    else:
        accepted = " or ".join(KINDS)
        raise InputError(
            source, [Problem("", f"a status return must be a {accepted} file, not {kind!r}")]
        )
    updates, warnings = _read_records(records, source, today)
    return StatusReturn(source, updates, tuple(notes) + warnings)


# --- reading files -------------------------------------------------------------------------


def _read_bytes(path: Path, source: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(source, [Problem("", f"cannot read the file: {exc.strerror}")]) from None


def _csv_records(raw: bytes, source: str) -> tuple[list[_Record], list[str]]:
    text, notes = _decode(raw, source)
    if "\x00" in text:
        raise InputError(
            source, [Problem("", "the file holds NUL bytes; it is not a CSV text file")]
        )
    # The same limit the plan reader sets, so neither depends on which ran first.
    csv.field_size_limit(MAX_CELL * 4 + 16)
    # strict: an unclosed quote is an error, not a note running to the end of the file
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[_Record] = []
    try:
        for number, values in enumerate(reader, start=1):
            if number > LIMITS.rows:
                reason = f"the file has more than {LIMITS.rows:,} rows (limit)"
                raise InputError(source, [Problem(f"row {number}", reason)])
            if any(v.strip() for v in values[LIMITS.columns :]):
                reason = f"a row may have at most {LIMITS.columns} columns (limit)"
                raise InputError(source, [Problem(f"row {number}", reason)])
            records.append((number, [unguard_formula(v) for v in values]))
    except csv.Error as exc:
        raise InputError(
            source, [Problem(f"row {reader.line_num}", f"not valid CSV: {exc}")]
        ) from None
    return records, notes


def _xlsx_records(path: Path) -> list[_Record]:
    with sheet_rows(path) as rows:
        return [(number, [_xlsx_value(cell) for cell in cells]) for number, cells in rows]


def _xlsx_value(cell: object) -> _Value:
    if getattr(cell, "data_type", None) == "f":
        return _Formula(str(getattr(cell, "coordinate", "?")))
    return getattr(cell, "value", None)


# --- checking rows -------------------------------------------------------------------------


def _text(value: _Value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, _Formula):
        return ""
    # Numbers and dates as the plan reader shows them ("12", "30 September 2012").
    return _xlsx_text(value, "end")


def _key(heading: str) -> str:
    # "Updated By", "updated by", "Updated_By" and "UpdatedBy" are one heading.
    return heading_key(heading).replace("_", "")


def _letter(index: int) -> str:
    """Spreadsheet column letters for a 0-based index: 0 -> A, 26 -> AA."""
    letters = ""
    number = index + 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _read_records(
    records: Sequence[_Record], source: str, today: date | None
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


def _is_blank(values: Sequence[_Value]) -> bool:
    return not any(isinstance(v, _Formula) or _text(v).strip() for v in values)


def _warnings(columns: _Columns, unheaded: dict[int, list[int]]) -> tuple[str, ...]:
    warnings = [
        f"column {heading!r} is not a status-return column and was ignored"
        for heading in columns.unknown
    ]
    for index, rows in sorted(unheaded.items()):
        shown = ", ".join(str(row) for row in rows[:5]) + (", …" if len(rows) > 5 else "")
        warnings.append(
            f"column {_letter(index)} has no heading; its text was ignored (rows {shown})"
        )
    return tuple(warnings)


@dataclass
class _Columns:
    headings: list[str]
    fields: dict[str, int]  # field -> column index
    unknown: list[str]

    def name(self, index: int) -> str:
        heading = self.headings[index] if index < len(self.headings) else ""
        return repr(heading) if heading else _letter(index)

    def place(self, number: int, index: int) -> str:
        return f"row {number}, column {self.name(index)}"


def _read_headings(number: int, values: Sequence[_Value], problems: list[Problem]) -> _Columns:
    headings = [_text(v).strip() for v in values]
    columns = _Columns(headings, {}, [])
    for index, heading in enumerate(headings):
        value = values[index]
        if isinstance(value, _Formula):
            problems.append(_formula_problem(columns.place(number, index), value))
            continue
        if not heading:
            continue
        field_name = _FIELDS.get(_key(heading))
        if field_name is None:
            columns.unknown.append(heading)
        elif field_name in columns.fields:
            problems.append(Problem(columns.place(number, index), "heading appears twice"))
        else:
            columns.fields[field_name] = index
    for field_name, heading in _REQUIRED.items():
        if field_name not in columns.fields:
            problems.append(Problem(f"row {number}", f"missing the {heading!r} column"))
    return columns


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _formula_problem(place: str, formula: _Formula) -> Problem:
    return Problem(
        place, f"cell {formula.coordinate} holds a formula; status returns take values only"
    )


@dataclass
class _RowReader:
    columns: _Columns
    today: date | None
    problems: list[Problem]
    seen: dict[str, tuple[str, int]] = field(default_factory=dict)  # casefolded ID -> (ID, row)
    unheaded: dict[int, list[int]] = field(default_factory=dict)  # column index -> rows

    def read(self, number: int, values: Sequence[_Value]) -> StatusUpdate | None:
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

    def _check_cells(self, number: int, values: Sequence[_Value]) -> set[int]:
        """Report formula and over-long cells; their columns are not read any further."""
        bad: set[int] = set()
        for index, value in enumerate(values):
            place = self.columns.place(number, index)
            text = _text(value)
            if isinstance(value, _Formula):
                self.problems.append(_formula_problem(place, value))
                bad.add(index)
            elif len(text) > MAX_CELL:
                reason = f"cell holds {len(text):,} characters (limit {MAX_CELL:,})"
                self.problems.append(Problem(place, reason))
                bad.add(index)
            elif (code := unwritable_character(text)) is not None:
                reason = f"holds the control character {code}; remove it"
                self.problems.append(Problem(place, reason))
                bad.add(index)
            elif text.strip() and not self._headed(index):
                self.unheaded.setdefault(index, []).append(number)
        return bad

    def _headed(self, index: int) -> bool:
        headings = self.columns.headings
        return index < len(headings) and bool(headings[index])

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
        shown = _text(value).strip()
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
    values: Sequence[_Value]
    bad: set[int]

    def _index(self, field_name: str) -> int | None:
        index = self.reader.columns.fields.get(field_name)
        return index if index is not None and index < len(self.values) else None

    def value(self, field_name: str) -> _Value:
        """The cell as read; None when missing or already reported."""
        index = self._index(field_name)
        return None if index is None or index in self.bad else self.values[index]

    def text(self, field_name: str) -> str:
        # Excel writes "\r\n" inside CSV cells; keep line breaks as plain "\n".
        text = _text(self.value(field_name)).strip()
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
