"""CSV and XLSX in the layout of the document's own action tables.

Headings are matched ignoring case and spaces. Items within a cell are paragraphs separated
by a blank line (dates: one per line). Row numbers in errors are spreadsheet rows: the
heading row is row 1.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from worker.errors import InputError, Problem
from worker.io.cells import guard_formula, unguard_formula, unwritable_character, writable
from worker.io.xlsx import LIMITS, Limits, sheet_rows
from worker.plan.data import ActionData, DependencyRef, Row, parse_rag, parse_state
from worker.plan.dates import MonthDay, read_date_cell
from worker.plan.due import read_action_dates
from worker.plan.leads import role_key, split_roles
from worker.plan.split import date_items, items, row_shape, split_row

# Excel's own limit for one cell; anything longer is not a plan cell.
MAX_CELL = 32_767
# Sizes of the database columns (worker/models.py): a longer value cannot be stored.
MAX_REF = 64  # action IDs, row references, key deliverables
MAX_ROLE = 255  # lead role keys
# Work streams and key deliverables are numbered 1..9999.
MAX_NUMBER = 9999
# A CSV cannot unpack to more than its own size, so it may hold more rows than a workbook:
# the benchmarks import a million actions.
CSV_LIMITS = replace(LIMITS, rows=2_000_000)

# heading -> field; the document's long headings are accepted too.
HEADINGS = {
    "id": "id",
    "row": "row",
    "workstream": "work_stream",
    "keydel": "key_deliverable",
    "allkeydel": "key_deliverable",
    "keydeliverable": "key_deliverable",
    "actions": "action",
    "action": "action",
    "description": "description",
    "description(includingpis)": "description",
    "lead": "lead",
    "leadroles": "lead_roles",
    "dependencies": "dependencies",
    "dependenciesonotheractions/workstreams": "dependencies",
    "dependson": "depends_on",
    "startdate": "start",
    "targetenddate": "target",
    "rag": "rag",
    "status": "state",
    # Written by export for people to read; recomputed on import, so ignored.
    "due": "",
    "precision": "",
    "recurrence": "",
}
REQUIRED = {
    "work_stream": "Work Stream",
    "action": "Actions",
    "lead": "Lead",
    "target": "Target End Date",
}
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


@dataclass(frozen=True, slots=True)
class Table:
    """What a CSV/XLSX file held: its actions, and notes for the person importing it."""

    actions: tuple[ActionData, ...]
    warnings: tuple[str, ...]


def heading_key(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def _columns(headings: Sequence[str], problems: list[Problem]) -> tuple[dict[str, int], list[str]]:
    columns: dict[str, int] = {}
    unknown: list[str] = []
    for index, heading in enumerate(headings):
        key = heading_key(heading)
        if not key:
            continue
        field = HEADINGS.get(key)
        if field is None:
            unknown.append(heading)
        elif field in columns:
            problems.append(Problem(f"row 1, column {heading!r}", "heading appears twice"))
        elif field:
            columns[field] = index
    for field, heading in REQUIRED.items():
        if field not in columns:
            problems.append(Problem("row 1", f"missing the {heading!r} column"))
    return columns, unknown


def _work_stream(text: str) -> int:
    match = re.match(r"^\s*(?:work\s*stream|ws)?\s*(\d{1,4})\b", text, re.IGNORECASE)
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"{text!r} is not a work stream number")
    return int(match.group(1))


def _depends_on(text: str) -> tuple[DependencyRef, ...]:
    parts = [p.strip() for p in re.split(r"[;\n]", text) if p.strip()]
    refs = tuple(DependencyRef.parse(p) for p in parts)
    for ref in refs:
        numbers = (ref.work_stream, 1 if ref.key_deliverable is None else ref.key_deliverable)
        if not all(1 <= n <= MAX_NUMBER for n in numbers):
            raise ValueError(
                f"{ref} in 'Depends On' names no work stream: work streams and key "
                f"deliverables are numbered 1 to {MAX_NUMBER}"
            )
    return refs


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def action_problems(action: ActionData) -> list[tuple[str, str]]:
    """(field, reason) for each value of a read action that the database cannot hold;
    the CSV/XLSX and YAML readers name the place."""
    found: list[tuple[str, str]] = []
    # One item of a row split into one action per item: its ID is the row's ID plus ".n".
    split = action.ref.startswith(action.row_ref + ".")
    if "\n" in action.ref or "\r" in action.ref:
        found.append(("id", f"the ID {_shown(action.ref)} must be on one line"))
    if len(action.ref) > MAX_REF:
        hint = " (the row is split into one action per item: '.n' is added)" if split else ""
        reason = f"the ID {_shown(action.ref)} is longer than {MAX_REF} characters{hint}"
        found.append(("id", reason))
    # The row reference is reported only where it is not the ID itself.
    own_row = not split and action.row_ref != action.ref
    for field, value in (
        ("row", action.row_ref if own_row else ""),
        ("key_deliverable", action.key_deliverable),
    ):
        if len(value) > MAX_REF:
            found.append((field, f"{_shown(value)} is longer than {MAX_REF} characters"))
    for role in action.lead_roles:
        if len(role_key(role)) > MAX_ROLE:
            reason = f"the lead role {_shown(role)} is longer than {MAX_ROLE} characters"
            found.append(("lead_roles", reason))
    found += _control_problems(action)
    return found


def _control_problems(action: ActionData) -> list[tuple[str, str]]:
    # A control character cannot be exported to XLSX, and would reach terminals and emails.
    texts = {
        "id": action.ref,
        "row": action.row_ref,
        "key_deliverable": action.key_deliverable,
        "action": action.action,
        "description": action.description,
        "lead": action.lead,
        "lead_roles": "".join(action.lead_roles),
        "dependencies": action.dependencies,
        "start": action.start,
        "target": action.target,
    }
    found: list[tuple[str, str]] = []
    for field, text in texts.items():
        code = unwritable_character(text)
        if code is not None:
            found.append((field, f"holds the control character {code}; remove it"))
    return found


def _lead_roles(lead: tuple[str, ...], given: str, split: bool) -> tuple[tuple[str, ...], ...]:
    """The roles from the Lead Roles column (else split from the text): one group for the
    row, or, for a row that becomes one action per lead item, one group per item."""
    if not given.strip():
        return tuple(split_roles(item) for item in lead)
    roles = tuple(r.strip() for r in re.split(r"[;\n]", given) if r.strip())
    if not split or len(lead) <= 1:
        return (roles,)
    # Each item takes the listed roles its own text names; any other role goes to all.
    per_item = tuple(tuple(r for r in roles if r.casefold() in item.casefold()) for item in lead)
    named = {r for group in per_item for r in group}
    leftover = tuple(r for r in roles if r not in named)
    return tuple(group + leftover for group in per_item)


@dataclass
class _Reader:
    columns: dict[str, int]
    problems: list[Problem]
    last_key_deliverable: dict[int, str]
    generated: dict[int, int]
    headings: Sequence[str]

    def heading(self, field: str) -> str:
        """The file's heading for a field (roles split from the lead: the Lead column)."""
        if field == "lead_roles" and field not in self.columns:
            field = "lead"
        index = self.columns.get(field)
        return self.headings[index] if index is not None else field

    def cell(self, values: Sequence[str], field: str) -> str:
        index = self.columns.get(field)
        return values[index].strip() if index is not None and index < len(values) else ""

    def row(self, number: int, values: Sequence[str]) -> Row | None:
        place = f"row {number}"
        try:
            ws = _work_stream(self.cell(values, "work_stream"))
        except ValueError as exc:
            self.problems.append(Problem(f"{place}, column 'Work Stream'", str(exc)))
            return None
        key_del = self.cell(values, "key_deliverable") or self.last_key_deliverable.get(ws, "")
        self.last_key_deliverable[ws] = key_del
        ref = self.cell(values, "id")
        if not ref:
            self.generated[ws] = self.generated.get(ws, 0) + 1
            ref = f"WS{ws}-{self.generated[ws]:02d}"
        lead = items(self.cell(values, "lead"))
        try:
            rag = parse_rag(self.cell(values, "rag"))
            state = parse_state(self.cell(values, "state"))
            depends_on = _depends_on(self.cell(values, "depends_on"))
        except ValueError as exc:
            self.problems.append(Problem(place, str(exc)))
            return None
        row = Row(
            ref=ref,
            row_ref=self.cell(values, "row"),
            work_stream=ws,
            key_deliverable=key_del,
            action=items(self.cell(values, "action")),
            description=items(self.cell(values, "description")),
            lead=lead,
            lead_roles=(),
            dependencies=items(self.cell(values, "dependencies")),
            depends_on=depends_on,
            start=date_items(self.cell(values, "start")),
            target=date_items(self.cell(values, "target")),
            rag=rag,
            state=state,
        )
        roles = _lead_roles(lead, self.cell(values, "lead_roles"), row_shape(row).split)
        return replace(row, lead_roles=roles)


def _check_size(number: int, values: Sequence[str], source: str, limits: Limits) -> None:
    """Stop at the first row past the limits (an XLSX sheet is checked as it is read too)."""
    if number > limits.rows:
        reason = f"the file has more than {limits.rows:,} rows (limit)"
        raise InputError(source, [Problem(f"row {number}", reason)])
    if len(values) > limits.columns and any(v.strip() for v in values[limits.columns :]):
        reason = f"a row may have at most {limits.columns} columns (limit)"
        raise InputError(source, [Problem(f"row {number}", reason)])


def _check_cells(
    number: int, headings: Sequence[str], values: Sequence[str], problems: list[Problem]
) -> None:
    for index, value in enumerate(values):
        if len(value) > MAX_CELL:
            name = headings[index] if index < len(headings) else f"#{index + 1}"
            problems.append(
                Problem(
                    f"row {number}, column {name!r}",
                    f"cell holds {len(value):,} characters (limit {MAX_CELL:,})",
                )
            )


def rows_to_actions(
    records: Iterable[tuple[int, list[str]]], source: str, limits: Limits = LIMITS
) -> Table:
    """Turn (row number, cell texts) records, headings first, into actions or an InputError."""
    problems: list[Problem] = []
    iterator = iter(records)
    header = next(iterator, None)
    if header is None:
        raise InputError(source, [Problem("", "the file is empty")])
    _check_size(*header, source, limits)
    headings = [h.strip() for h in header[1]]
    columns, unknown = _columns(headings, problems)
    if problems:
        raise InputError(source, problems)
    reader = _Reader(columns, problems, {}, {}, headings)
    actions: list[ActionData] = []
    seen: dict[str, int] = {}
    for number, values in iterator:
        _check_size(number, values, source, limits)
        if not any(v.strip() for v in values):
            continue
        _check_cells(number, headings, values, problems)
        row = reader.row(number, values)
        if row is None:
            continue
        for action in split_row(row):
            for field, reason in action_problems(action):
                problems.append(Problem(f"row {number}, column {reader.heading(field)!r}", reason))
            if action.ref in seen:
                problems.append(
                    Problem(
                        f"row {number}, column 'ID'",
                        f"{action.ref!r} is already used on row {seen[action.ref]}",
                    )
                )
            seen[action.ref] = number
            actions.append(action)
    if problems:
        raise InputError(source, problems)
    warnings = [f"column {h!r} is not a plan column and was ignored" for h in unknown]
    return Table(tuple(actions), tuple(warnings))


def _with_rows(table: Table, source: str) -> Table:
    # Imported into a plan, a file of no actions would archive every action it has.
    if not table.actions:
        raise InputError(source, [Problem("", "no action rows: the file has headings only")])
    return table


# --- reading files -------------------------------------------------------------------------


def _decode(raw: bytes, source: str) -> tuple[str, list[str]]:
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
        raise InputError(
            source,
            [
                Problem(
                    f"byte {exc.start}",
                    "the file is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8",
                )
            ],
        ) from None
    return text, ["the file is not UTF-8; it was read as Windows-1252 (Excel's CSV)"]


def read_csv(path: Path, limits: Limits = CSV_LIMITS) -> Table:
    source = str(path)
    text, notes = _decode(path.read_bytes(), source)
    if "\x00" in text:
        raise InputError(
            source, [Problem("", "the file holds NUL bytes; it is not a CSV text file")]
        )

    def records() -> Iterator[tuple[int, list[str]]]:
        # strict: an unclosed quote is an error, not a cell running to the end of the file
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        try:
            for number, values in enumerate(reader, start=1):
                yield number, [unguard_formula(v) for v in values]
        except csv.Error as exc:
            raise InputError(
                source, [Problem(f"row {reader.line_num}", f"not valid CSV: {exc}")]
            ) from None

    csv.field_size_limit(MAX_CELL * 4 + 16)
    table = _with_rows(rows_to_actions(records(), source, limits), source)
    return Table(table.actions, tuple(notes) + table.warnings)


def _xlsx_text(value: object, month_day: MonthDay) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        read = read_date_cell(value, month_day=month_day)
        return f"{read.due.day} {read.due:%B %Y}" if read.due else str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_xlsx(path: Path, month_day: MonthDay = "end", limits: Limits = LIMITS) -> Table:
    """The first sheet (or one named "Actions"), within `limits`. Formula cells are refused,
    not evaluated."""
    source = str(path)
    problems: list[Problem] = []
    with sheet_rows(path, "Actions", limits) as rows:

        def records() -> Iterator[tuple[int, list[str]]]:
            for number, cells in rows:
                values = []
                for cell in cells:
                    if getattr(cell, "data_type", None) == "f":
                        problems.append(
                            Problem(
                                f"row {number}, cell {cell.coordinate}",
                                "formula cells are not imported; paste values",
                            )
                        )
                        values.append("")
                    else:
                        values.append(_xlsx_text(cell.value, month_day))
                yield number, values

        table = rows_to_actions(records(), source, limits)
    if problems:
        raise InputError(source, problems)
    return _with_rows(table, source)


# --- writing files -------------------------------------------------------------------------


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
        writer.writerow([guard_formula(v) for v in row])


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
