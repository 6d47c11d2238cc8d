"""`plan export`: the plan in the seed YAML format, or as a CSV/XLSX table."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from sqlalchemy.orm import Session

from worker.errors import PlanworkerError
from worker.io.export import export_rows, write_csv, write_xlsx
from worker.io.files import write_file, write_text
from worker.models import Plan
from worker.plan.dates import MonthDay
from worker.plan.yaml_io import dump_yaml
from worker.store.plan import load_plan


def _write_text(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    write_text(output, text, newline="")


def export_plan(
    session: Session, plan: Plan, fmt: str, output: Path | None, month_day: MonthDay
) -> None:
    if fmt not in ("yaml", "csv", "xlsx"):
        raise PlanworkerError(f"unknown export format {fmt!r}")
    if fmt == "xlsx" and output is None:
        raise PlanworkerError("xlsx export needs a file: add -o FILE.xlsx")
    doc = load_plan(session, plan)
    if fmt == "yaml":
        _write_text(dump_yaml(doc), output)
    elif fmt == "csv":
        buffer = io.StringIO()
        write_csv(export_rows(doc.actions, month_day), buffer)
        text = buffer.getvalue()
        _write_text(("\ufeff" + text) if output else text, output)
    else:
        assert output is not None
        write_file(output, lambda handle: write_xlsx(export_rows(doc.actions, month_day), handle))
