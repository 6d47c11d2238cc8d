"""A plan's action table, as CSV or XLSX in the layout of the document's own tables.

Headings are matched as for every table (worker/io/sheets.py). Items within a cell are
paragraphs separated by a blank line (dates: one per line). Row numbers in errors are
spreadsheet rows: the heading row is row 1.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from worker.errors import InputError, Problem
from worker.io.sheets import (
    Columns,
    Formula,
    Value,
    cell_text,
    csv_encoding,
    csv_file_records,
    oversized,
    read_headings,
    xlsx_records,
)
from worker.io.xlsx import LIMITS, Limits
from worker.plan.data import ActionData, DependencyRef, Row, parse_rag, parse_state
from worker.plan.dates import MonthDay
from worker.plan.leads import split_roles
from worker.plan.limits import MAX_NUMBER, action_problems
from worker.plan.split import date_items, items, row_shape, split_row

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


@dataclass(frozen=True, slots=True)
class Table:
    """What a CSV/XLSX file held: its actions, and notes for the person importing it."""

    actions: tuple[ActionData, ...]
    warnings: tuple[str, ...]


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
    columns: Columns
    problems: list[Problem]
    last_key_deliverable: dict[int, str]
    generated: dict[int, int]

    def heading(self, field: str) -> str:
        """The file's heading for a field (roles split from the lead: the Lead column)."""
        fields = self.columns.fields
        if field == "lead_roles" and field not in fields:
            field = "lead"
        index = fields.get(field)
        return self.columns.headings[index] if index is not None else field

    def cell(self, values: Sequence[str], field: str) -> str:
        index = self.columns.fields.get(field)
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


class ActionRows:
    """A table's actions as they are read, one row at a time: (row number, action) pairs.

    A bad row does not stop the reading: its problems are collected (`failed` says so) and
    `finish` raises them all at the end, so that a caller writing as it reads can stop
    writing at the first one and still report every problem. Row numbers are spreadsheet
    rows. Duplicate IDs are for the caller to find (it keeps the IDs it has seen): it
    reports each with `duplicate`, in the same list, in row order.
    """

    def __init__(
        self,
        records: Iterator[tuple[int, list[str]]],
        source: str,
        notes: Sequence[str] = (),
        cell_problems: list[Problem] | None = None,
    ) -> None:
        self.source = source
        self.problems: list[Problem] = []
        # Problems of a cell's kind (XLSX formulas), reported only when the rows are good.
        self.cell_problems = cell_problems if cell_problems is not None else []
        header = next(records, None)
        if header is None:
            raise InputError(source, [Problem("", "the file is empty")])
        self.columns = read_headings(*header, HEADINGS, REQUIRED, self.problems)
        if self.problems:
            raise InputError(source, self.problems)
        unknown = [
            f"column {h!r} is not a plan column and was ignored" for h in self.columns.unknown
        ]
        self.warnings = (*notes, *unknown)
        self._records = records
        self.rows_read = 0
        self.actions = 0

    @property
    def failed(self) -> bool:
        return bool(self.problems or self.cell_problems)

    def __iter__(self) -> Iterator[tuple[int, ActionData]]:
        columns, problems = self.columns, self.problems
        reader = _Reader(columns, problems, {}, {})
        for number, values in self._records:
            self.rows_read += 1
            if not any(v.strip() for v in values):
                continue
            for index, value in enumerate(values):
                if (reason := oversized(value)) is not None:
                    problems.append(Problem(columns.place(number, index), reason))
            row = reader.row(number, values)
            if row is None:
                continue
            for action in split_row(row):
                for field, reason in action_problems(action):
                    place = f"row {number}, column {reader.heading(field)!r}"
                    problems.append(Problem(place, reason))
                self.actions += 1
                yield number, action

    def duplicate(self, number: int, ref: str, first: int) -> None:
        """Report that row `number` uses the ID `ref` that row `first` used already."""
        self.problems.append(
            Problem(f"row {number}, column 'ID'", f"{ref!r} is already used on row {first}")
        )

    def finish(self, *, need_rows: bool = True) -> None:
        """Once every row has been read: raise every problem found, or, with `need_rows`,
        that the file held no action (imported into a plan, it would archive every action)."""
        if self.problems:
            raise InputError(self.source, self.problems)
        if self.cell_problems:
            raise InputError(self.source, self.cell_problems)
        if need_rows and not self.actions:
            raise InputError(
                self.source, [Problem("", "no action rows: the file has headings only")]
            )


def _collect(rows: ActionRows, *, need_rows: bool = True) -> Table:
    """Every action of `rows`, in memory: for small tables and tests."""
    actions: list[ActionData] = []
    seen: dict[str, int] = {}
    for number, action in rows:
        if action.ref in seen:
            rows.duplicate(number, action.ref, seen[action.ref])
        seen[action.ref] = number
        actions.append(action)
    rows.finish(need_rows=need_rows)
    return Table(tuple(actions), tuple(rows.warnings))


def rows_to_actions(records: Iterable[tuple[int, list[str]]], source: str) -> Table:
    """Turn (row number, cell texts) records, headings first, into actions or an InputError."""
    return _collect(ActionRows(iter(records), source), need_rows=False)


@contextmanager
def open_table(
    path: Path,
    month_day: MonthDay = "end",
    *,
    csv_limits: Limits = CSV_LIMITS,
    xlsx_limits: Limits = LIMITS,
) -> Iterator[ActionRows]:
    """The actions of a CSV or XLSX file, read as they are iterated: the file is never held
    whole. The headings are read (and checked) on entry."""
    source = str(path)
    if path.suffix.lower() == ".csv":
        encoding, notes = csv_encoding(path)
        with csv_file_records(path, encoding, csv_limits) as records:
            yield ActionRows(records, source, notes)
        return
    cell_problems: list[Problem] = []

    def texts(number: int, values: Sequence[Value]) -> list[str]:
        for value in values:
            if isinstance(value, Formula):
                place = f"row {number}, cell {value.coordinate}"
                cell_problems.append(Problem(place, "formula cells are not imported; paste values"))
        return [cell_text(value, month_day) for value in values]

    with xlsx_records(path, "Actions", xlsx_limits) as sheet:
        rows: Iterator[tuple[int, list[str]]] = ((n, texts(n, v)) for n, v in sheet)
        yield ActionRows(rows, source, (), cell_problems)


def read_csv(path: Path, limits: Limits = CSV_LIMITS) -> Table:
    with open_table(path, csv_limits=limits) as rows:
        return _collect(rows)


def read_xlsx(path: Path, month_day: MonthDay = "end", limits: Limits = LIMITS) -> Table:
    """The first sheet (or one named "Actions"), within `limits`. Formula cells are refused,
    not evaluated."""
    with open_table(path, month_day, xlsx_limits=limits) as rows:
        return _collect(rows)
