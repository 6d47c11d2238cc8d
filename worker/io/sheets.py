"""Reading a CSV or XLSX table: one reader for plan tables and status returns alike.

The same decoding, the same heading rule, the same cell-size limit and the same limits on
rows and columns serve every table planworker reads. What the rows mean is left to the
caller (worker/io/tables.py for plans, worker/status_return.py for status returns).
Row numbers are spreadsheet rows: the heading row is row 1.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from worker.errors import InputError, Problem
from worker.io.cells import unguard_formula
from worker.io.xlsx import Limits, column_letter, sheet_rows
from worker.plan.dates import MonthDay, read_date_cell

# Excel's own limit for one cell; anything longer is not a table cell.
MAX_CELL = 32_767

# One cell as read: text from CSV; openpyxl's value (or a `Formula`) from XLSX.
Value = object
Record = tuple[int, Sequence[Value]]


@dataclass(frozen=True, slots=True)
class Formula:
    """A spreadsheet cell holding a formula: refused, never evaluated."""

    coordinate: str


# --- CSV -----------------------------------------------------------------------------------


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        reason = f"cannot read the file: {exc.strerror}"
        raise InputError(str(path), [Problem("", reason)]) from None


def decode(raw: bytes, source: str) -> tuple[str, list[str]]:
    """The text of a CSV file saved as UTF-8 (with or without a BOM) or as Windows-1252,
    and a note when it was the latter."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        reason = "the file is UTF-16 text (Excel's 'Unicode Text'); save it as CSV UTF-8"
        raise InputError(source, [Problem("", reason)])
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        reason = "the file is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8"
        raise InputError(source, [Problem(f"byte {exc.start}", reason)]) from None
    return text, ["the file is not UTF-8; it was read as Windows-1252 (Excel's CSV)"]


def csv_text(path: Path) -> tuple[str, list[str]]:
    """The decoded text of a CSV file, and notes for the person who sent it."""
    source = str(path)
    text, notes = decode(read_bytes(path), source)
    if "\x00" in text:
        reason = "the file holds NUL bytes; it is not a CSV text file"
        raise InputError(source, [Problem("", reason)])
    return text, notes


def csv_encoding(path: Path) -> tuple[str, list[str]]:
    """How to read a CSV file without holding it: its encoding (UTF-8, with or without a
    BOM, else Windows-1252) and a note when it was the latter. The bytes are checked in
    blocks, with the same refusals as `decode` and `csv_text`."""
    source = str(path)
    try:
        with path.open("rb") as handle:
            if handle.read(2) in (b"\xff\xfe", b"\xfe\xff"):
                reason = "the file is UTF-16 text (Excel's 'Unicode Text'); save it as CSV UTF-8"
                raise InputError(source, [Problem("", reason)])
            handle.seek(0)
            encoding, notes = "utf-8-sig", []
            nul = _scan(handle, "utf-8", source)
            if nul is None:
                handle.seek(0)
                nul = _scan(handle, "cp1252", source)
                encoding = "cp1252"
                notes = ["the file is not UTF-8; it was read as Windows-1252 (Excel's CSV)"]
    except OSError as exc:
        reason = f"cannot read the file: {exc.strerror}"
        raise InputError(source, [Problem("", reason)]) from None
    if nul:
        reason = "the file holds NUL bytes; it is not a CSV text file"
        raise InputError(source, [Problem("", reason)])
    return encoding, notes


_BLOCK = 1 << 20


def _scan(handle: BinaryIO, encoding: str, source: str) -> bool | None:
    """Whether the bytes hold a NUL, decoding them as `encoding` block by block; None if
    they are not UTF-8; a Windows-1252 byte with no character is refused where it is."""
    decoder = codecs.getincrementaldecoder(encoding)()
    nul, offset = False, 0
    while block := handle.read(_BLOCK):
        nul = nul or b"\x00" in block
        try:
            decoder.decode(block)
        except UnicodeDecodeError as exc:
            if encoding == "utf-8":
                return None
            reason = "the file is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8"
            raise InputError(source, [Problem(f"byte {offset + exc.start}", reason)]) from None
        offset += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    return nul


@contextmanager
def csv_file_records(
    path: Path, encoding: str, limits: Limits
) -> Iterator[Iterator[tuple[int, list[str]]]]:
    """`csv_records` of a file read as it goes (the encoding from `csv_encoding`)."""
    source = str(path)
    try:
        handle = path.open(encoding=encoding, newline="")
    except OSError as exc:
        reason = f"cannot read the file: {exc.strerror}"
        raise InputError(source, [Problem("", reason)]) from None
    with handle:
        yield _csv_rows(handle, source, limits)


def csv_records(text: str, source: str, limits: Limits) -> Iterator[tuple[int, list[str]]]:
    """(row number, cell texts) of CSV text, stopping at the first row past `limits`."""
    return _csv_rows(io.StringIO(text, newline=""), source, limits)


def _csv_rows(lines: Iterable[str], source: str, limits: Limits) -> Iterator[tuple[int, list[str]]]:
    # Set on every read, so that no reader depends on which one ran first.
    csv.field_size_limit(MAX_CELL * 4 + 16)
    # strict: an unclosed quote is an error, not a cell running to the end of the file
    reader = csv.reader(lines, strict=True)
    try:
        for number, values in enumerate(reader, start=1):
            _check_size(number, values, source, limits)
            # Only a cell starting with an apostrophe can carry the formula guard.
            yield number, [unguard_formula(v) if v[:1] == "'" else v for v in values]
    except csv.Error as exc:
        reason = f"not valid CSV: {exc}"
        raise InputError(source, [Problem(f"row {reader.line_num}", reason)]) from None


def _check_size(number: int, values: Sequence[str], source: str, limits: Limits) -> None:
    # A workbook's sheet is checked as it is read (worker/io/xlsx.py), with its own words.
    if number > limits.rows:
        reason = f"the file has more than {limits.rows:,} rows (limit)"
        raise InputError(source, [Problem(f"row {number}", reason)])
    if any(v.strip() for v in values[limits.columns :]):
        reason = f"a row may have at most {limits.columns} columns (limit)"
        raise InputError(source, [Problem(f"row {number}", reason)])


# --- XLSX ----------------------------------------------------------------------------------


@contextmanager
def xlsx_records(path: Path, prefer: str | None, limits: Limits) -> Iterator[Iterator[Record]]:
    """(row number, cell values) of the sheet named `prefer`, else the first: openpyxl's
    values, and a `Formula` for each formula cell."""
    with sheet_rows(path, prefer, limits) as rows:
        yield ((number, [_value(cell) for cell in cells]) for number, cells in rows)


def _value(cell: object) -> Value:
    if getattr(cell, "data_type", None) == "f":
        return Formula(str(getattr(cell, "coordinate", "?")))
    return getattr(cell, "value", None)


def cell_text(value: Value, month_day: MonthDay = "end") -> str:
    """A cell as text: numbers and dates as a person writes them ("12", "30 September
    2012"); a formula as nothing (its reader reports it)."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, Formula):
        return ""
    if isinstance(value, datetime | date):
        read = read_date_cell(value, month_day=month_day)
        return f"{read.due.day} {read.due:%B %Y}" if read.due else str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- headings and cells --------------------------------------------------------------------


def heading_key(text: str) -> str:
    """Headings are matched ignoring case, spaces and underscores: "Updated By",
    "updated_by" and "UPDATEDBY" are one heading."""
    return re.sub(r"[\s_]+", "", text).casefold()


@dataclass
class Columns:
    """A table's heading row: the headings as written, and the column of each field."""

    headings: list[str]
    fields: dict[str, int]  # field -> column index
    unknown: list[str]  # headings no field has

    def name(self, index: int) -> str:
        """A column as messages name it: its heading, else its letter."""
        heading = self.headings[index] if index < len(self.headings) else ""
        return repr(heading) if heading else column_letter(index + 1)

    def place(self, number: int, index: int) -> str:
        return f"row {number}, column {self.name(index)}"

    def headed(self, index: int) -> bool:
        return index < len(self.headings) and bool(self.headings[index])


def read_headings(
    number: int,
    texts: Sequence[str],
    known: Mapping[str, str],
    required: Mapping[str, str],
    problems: list[Problem],
) -> Columns:
    """Match a heading row against `known` (heading key -> field; "" for a heading that
    is accepted and ignored). `required` maps each field that must be there to the heading
    that a message names."""
    columns = Columns([t.strip() for t in texts], {}, [])
    for index, heading in enumerate(columns.headings):
        key = heading_key(heading)
        if not key:
            continue
        field = known.get(key)
        if field is None:
            columns.unknown.append(heading)
        elif field in columns.fields:
            problems.append(Problem(columns.place(number, index), "heading appears twice"))
        elif field:
            columns.fields[field] = index
    for field, heading in required.items():
        if field not in columns.fields:
            problems.append(Problem(f"row {number}", f"missing the {heading!r} column"))
    return columns


def oversized(text: str) -> str | None:
    """Why a cell is too long to be read; None if it is not."""
    if len(text) <= MAX_CELL:
        return None
    return f"cell holds {len(text):,} characters (limit {MAX_CELL:,})"
