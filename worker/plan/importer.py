"""`plan import`: read a file and write it in one transaction, a chunk at a time, all or
nothing."""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.contacts import Directory
from worker.db import refresh_statistics
from worker.errors import InputError, Problem
from worker.io.tables import Table, open_table, read_csv, read_xlsx
from worker.models import Plan
from worker.plan.data import PlanDoc, PlanInfo, WorkStream
from worker.plan.dates import MonthDay
from worker.plan.yaml_io import read_yaml
from worker.store.contacts import sync_directory
from worker.store.import_result import Changer, ImportResult, Progress
from worker.store.plan import find_plan, plan_info
from worker.store.plan_import import ActionSource, DocActions, import_actions

TABLE_SUFFIXES = {".csv", ".xlsx"}
YAML_SUFFIXES = {".yaml", ".yml"}
# An import that would archive, or give unrelated texts to, more than this share of a
# plan's live actions looks like a different plan: it needs --replace.
REPLACE_SHARE = 0.5


class _Diff(Exception):
    """Rolls a `--diff` import back once its changes are known."""

    def __init__(self, result: ImportResult) -> None:
        self.result = result


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:64] or "plan"


def _unknown_type(path: Path) -> InputError:
    suffix = path.suffix.lower()
    hint = " (save it as .xlsx)" if suffix in (".xls", ".ods") else ""
    return InputError(
        str(path), [Problem("", f"unknown file type {suffix!r}{hint}; use .yaml, .csv or .xlsx")]
    )


def read_file(path: Path, month_day: MonthDay) -> PlanDoc | Table:
    """The whole file in memory (a plan import streams tables instead: `import_file`)."""
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES:
        return read_yaml(path)
    if suffix == ".csv":
        return read_csv(path)
    if suffix == ".xlsx":
        return read_xlsx(path, month_day)
    raise _unknown_type(path)


def _table_info(session: Session, slug: str | None, path: Path) -> PlanInfo:
    """A table holds only actions: it updates the plan named (or the only one), else starts one."""
    if slug:
        plan = session.scalars(select(Plan).where(Plan.slug == slug)).one_or_none()
    else:
        has_plans = session.scalar(select(func.count(Plan.id))) or 0
        plan = find_plan(session, None) if has_plans else None
    return (
        plan_info(plan)
        if plan
        else PlanInfo(slug=_slug(slug or path.stem), title=slug or path.stem)
    )


def replacing(result: ImportResult) -> str | None:
    """Why an import looks like a different plan replacing the stored one; None if not."""
    lost = result.archived + result.rewritten
    if not result.live_before or lost <= result.live_before * REPLACE_SHARE:
        return None
    what = []
    if result.archived:
        what.append(f"archive {result.archived:,}")
    if result.rewritten:
        what.append(f"rewrite {result.rewritten:,} (new texts with few words of the old)")
    return (
        f"of the {result.live_before:,} actions in plan {result.plan!r}, this import would "
        f"{' and '.join(what)}: it looks like a different plan (a file without an ID column "
        "numbers its actions by row order). See what it would do with --diff; if it is meant "
        "to replace the plan, import it with --replace"
    )


def import_file(
    session: Session,
    path: Path,
    slug: str | None,
    by: str,
    month_day: MonthDay,
    directory: Directory | None = None,
    now: datetime | None = None,
    *,
    replace_plan: bool = False,
    diff: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import `path` into the plan `slug` (YAML: renames the file's plan). All or nothing.

    An import that looks like a different plan replacing the stored one is refused unless
    `replace_plan`. With `diff`, nothing is written: the result lists what would change.
    """
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES | YAML_SUFFIXES:
        raise _unknown_type(path)
    who = Changer(
        by=by,
        at=now or datetime.now(UTC),
        source=f"import {path.name}",
        note=f"imported from {path.name}",
    )
    with ExitStack() as stack:
        # A table is read as it is written, a chunk at a time; its headings are checked
        # before the transaction starts. YAML plans are small and read whole.
        rows = (
            stack.enter_context(open_table(path, month_day)) if suffix in TABLE_SUFFIXES else None
        )
        doc = read_yaml(path) if rows is None else None
        try:
            with session.begin():
                streams: Sequence[WorkStream] = ()
                if rows is not None:
                    info = _table_info(session, slug, path)
                    source: ActionSource = rows
                else:
                    assert doc is not None
                    info, streams = doc.info, doc.work_streams
                    if slug:
                        info = replace(info, slug=slug)
                    source = DocActions(doc.actions)
                result = import_actions(
                    session,
                    info,
                    streams,
                    source,
                    month_day=month_day,
                    who=who,
                    list_changes=diff,
                    progress=progress,
                )
                warnings = list(rows.warnings) if rows is not None else []
                result.warnings = warnings + result.warnings
                if diff:
                    raise _Diff(result)
                problem = None if replace_plan else replacing(result)
                if problem:
                    raise InputError(str(path), [Problem("", problem)])
                if directory is not None:
                    sync_directory(session, directory)
        except _Diff as rolled_back:
            return rolled_back.result
    if result.changed:
        refresh_statistics(session)
    return result
