"""`plan export`: the plan in the seed YAML format, or as a CSV/XLSX table, written as it is
read a chunk of actions at a time (store/plan.plan_actions), so a plan of any size is
exported in about the same memory. A file is written whole or not at all (io/files.py)."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from sqlalchemy.orm import Session

from worker.errors import PlanworkerError
from worker.io.export import Written, export_rows, write_csv, write_xlsx
from worker.io.files import write_file
from worker.io.xlsx import import_refusal
from worker.models import Plan
from worker.plan.dates import MonthDay
from worker.plan.yaml_io import yaml_parts, yaml_refusal
from worker.store.plan import plan_actions, plan_info, plan_streams


def _write_text(write: Callable[[TextIO], None], output: Path | None) -> None:
    """Text written by `write` to standard output, or as UTF-8 to the file `output`,
    line ends as they are written."""
    if output is None:
        write(sys.stdout)
        return

    def fill(handle: BinaryIO) -> None:
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="")
        write(text)
        text.flush()
        text.detach()  # the file is write_file's to close

    write_file(output, fill)


def _write_all(parts: Iterable[str]) -> Callable[[TextIO], None]:
    def write(out: TextIO) -> None:
        for part in parts:
            out.write(part)

    return write


def export_plan(
    session: Session, plan: Plan, fmt: str, output: Path | None, month_day: MonthDay
) -> list[str]:
    """Write the plan in `fmt` to `output` (else standard output); the warnings to show."""
    if fmt not in ("yaml", "csv", "xlsx"):
        raise PlanworkerError(f"unknown export format {fmt!r}")
    if fmt == "xlsx" and output is None:
        raise PlanworkerError("xlsx export needs a file: add -o FILE.xlsx")
    if fmt == "yaml":
        streams = {ws.number: ws for ws in plan.work_streams}
        parts = yaml_parts(
            plan_info(plan),
            plan_streams(plan),
            lambda ws: plan_actions(session, plan, streams[ws.number]),
        )
        size = 0

        def counted() -> Iterator[str]:
            nonlocal size
            for part in parts:
                size += len(part.encode("utf-8"))
                yield part

        _write_text(_write_all(counted()), output)
        refusal = yaml_refusal(size)
        if refusal is None:
            return []
        return [f"{output or 'the output'} is written, but 'planworker plan import' would "
                f"refuse it: {refusal}."]  # fmt: skip
    rows = export_rows(plan_actions(session, plan), month_day)
    if fmt == "csv":

        def write(out: TextIO) -> None:
            if output is not None:
                out.write("\ufeff")  # so a spreadsheet program reads the file as UTF-8
            write_csv(rows, out)

        _write_text(write, output)
        return []
    assert output is not None
    written = Written()

    def fill(handle: BinaryIO) -> None:
        nonlocal written
        written = write_xlsx(rows, handle)

    write_file(output, fill)
    refusal = import_refusal(output, written.rows, written.cells)
    if refusal is None:
        return []
    return [
        f"{output} is written, but 'planworker plan import' would refuse it: {refusal}. "
        "To edit the plan and import it again, export it with --format csv."
    ]
