"""Reading an untrusted .xlsx workbook within limits.

An .xlsx file is a zip of XML. A few kilobytes can claim a sheet of a million rows by
16,384 columns, or unpack to gigabytes. So the zip's own table of sizes is checked before
openpyxl opens it (Python's zipfile never unpacks more than an entry declares), the sheet's
claimed size is ignored, and rows are read as they come, stopping at the first limit passed.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.errors import InputError, Problem


@dataclass(frozen=True, slots=True)
class Limits:
    """What a plan or status-return workbook may hold; far beyond any real one."""

    rows: int = 100_000  # a plan is hundreds of rows; bigger tables come as CSV
    columns: int = 256  # filled columns per row (a plan table has 17)
    cells: int = 5_000_000  # filled cells in the sheet
    unpacked_bytes: int = 64 * 1024 * 1024  # all parts of the zip, unpacked
    # The shared strings are held in memory whole, at several times their size in XML.
    shared_strings_bytes: int = 16 * 1024 * 1024
    ratio: int = 200  # how many times its packed size one large part may unpack to
    parts: int = 10_000


LIMITS = Limits()
# A part this small cannot hurt, whatever its ratio (empty sheets compress very well).
_SMALL_PART = 1024 * 1024


def check_zip(path: Path, limits: Limits = LIMITS) -> None:
    """Refuse a workbook whose zip declares more than the limits, before anything is unpacked."""
    source = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(source, [Problem("", f"not a readable .xlsx workbook: {exc}")]) from None
    if len(parts) > limits.parts:
        reason = f"the workbook has {len(parts):,} parts (limit {limits.parts:,})"
        raise InputError(source, [Problem("", reason)])
    total = sum(part.file_size for part in parts)
    if total > limits.unpacked_bytes:
        reason = (
            f"the workbook unpacks to {total:,} bytes (limit {limits.unpacked_bytes:,}); "
            "save a smaller workbook, or the table as CSV"
        )
        raise InputError(source, [Problem("", reason)])
    for part in parts:
        if part.filename.endswith("sharedStrings.xml") and (
            part.file_size > limits.shared_strings_bytes
        ):
            reason = (
                f"{part.filename} unpacks to {part.file_size:,} bytes of text "
                f"(limit {limits.shared_strings_bytes:,}); save the table as CSV"
            )
            raise InputError(source, [Problem("", reason)])
        if part.file_size > _SMALL_PART and part.file_size > limits.ratio * part.compress_size:
            reason = (
                f"{part.filename} unpacks to {part.file_size:,} bytes from "
                f"{part.compress_size:,}, more than {limits.ratio} times its packed size "
                "(limit): not a workbook a spreadsheet program saved"
            )
            raise InputError(source, [Problem("", reason)])


def import_refusal(path: Path, rows: int, cells: int, limits: Limits | None = None) -> str | None:
    """Why a workbook just written (`rows` rows, `cells` filled cells) would be refused when
    read back within `limits` (LIMITS), or None: an export says so at once, not at the next
    import."""
    limits = limits or LIMITS
    try:
        check_zip(path, limits)
    except InputError as exc:
        return "; ".join(problem.reason for problem in exc.problems)
    if rows > limits.rows:
        return f"the sheet has {rows:,} rows (limit {limits.rows:,})"
    if cells > limits.cells:
        return f"the sheet has {cells:,} filled cells (limit {limits.cells:,})"
    return None


def column_letter(number: int) -> str:
    """Spreadsheet column letters for a 1-based column number: 1 -> A, 27 -> AA."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _filled(cell: Any) -> bool:
    return getattr(cell, "value", None) is not None or getattr(cell, "data_type", None) == "f"


@dataclass
class _Counter:
    source: str
    limits: Limits
    cells: int = 0

    def row(self, number: int, cells: tuple[Any, ...]) -> tuple[Any, ...]:
        """The row's cells up to the column limit; an error at the first limit passed."""
        limits = self.limits
        if number > limits.rows:
            reason = f"the sheet has more than {limits.rows:,} rows (limit)"
            raise InputError(self.source, [Problem(f"row {number}", reason)])
        filled = [index for index, cell in enumerate(cells) if _filled(cell)]
        if filled and filled[-1] >= limits.columns:
            where = f"row {number}, cell {column_letter(filled[-1] + 1)}{number}"
            last = column_letter(limits.columns)
            reason = f"a sheet may use at most {limits.columns} columns (up to {last}) (limit)"
            raise InputError(self.source, [Problem(where, reason)])
        self.cells += len(filled)
        if self.cells > limits.cells:
            reason = f"the sheet has more than {limits.cells:,} filled cells (limit)"
            raise InputError(self.source, [Problem(f"row {number}", reason)])
        return cells[: filled[-1] + 1] if filled else ()


@contextmanager
def sheet_rows(
    path: Path, prefer: str | None = None, limits: Limits = LIMITS
) -> Iterator[Iterator[tuple[int, tuple[Any, ...]]]]:
    """(row number, cells) of the sheet named `prefer`, else the first, within `limits`.

    Cells are openpyxl's read-only cells (formulas not evaluated). Raises `InputError`
    naming the file for a workbook that is unreadable or passes a limit.
    """
    from openpyxl import load_workbook

    source = str(path)
    check_zip(path, limits)
    try:
        book = load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds of error for a broken file
        raise InputError(source, [Problem("", f"not a readable .xlsx workbook: {exc}")]) from None
    try:
        if not book.worksheets:
            raise InputError(source, [Problem("", "the workbook has no worksheet")])
        sheet = book[prefer] if prefer in book.sheetnames else book.worksheets[0]
        yield _rows(sheet, source, limits)
    finally:
        book.close()


def _rows(sheet: Any, source: str, limits: Limits) -> Iterator[tuple[int, tuple[Any, ...]]]:
    # The sheet's claimed size (its <dimension>) is not trusted: rows are padded to it.
    sheet.reset_dimensions()
    counter = _Counter(source, limits)
    rows = enumerate(sheet.iter_rows(), start=1)
    while True:
        try:
            number, cells = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # openpyxl parses a damaged sheet only now
            reason = f"not a readable .xlsx worksheet: {exc}"
            raise InputError(source, [Problem(f"sheet {sheet.title!r}", reason)]) from None
        yield number, counter.row(number, cells)
