"""Writing a plan into the database.

An import is one transaction: it writes only what differs from what is stored, so the same
file twice changes nothing, and a failure leaves the database as it was. Actions a new file
no longer lists are archived, never deleted, so their status history stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from worker.errors import InputError, Problem
from worker.models import Action, LeadRole, Outcome, Phase, Plan, WorkStream
from worker.plan.data import ActionData, PlanDoc, PlanInfo
from worker.plan.data import Outcome as OutcomeData
from worker.plan.data import WorkStream as WorkStreamData
from worker.plan.dates import MonthDay
from worker.plan.leads import role_key
from worker.store.action_links import CHUNK, chunks
from worker.store.action_sync import sync_chunk
from worker.store.import_result import Changer, ImportChanges, ImportResult, Progress
from worker.store.plan import PLAN_TEXTS, RAG_COLOURS, STREAM_FIELDS


def _plan_row(session: Session, info: PlanInfo, result: ImportResult) -> Plan:
    plan = session.scalars(select(Plan).where(Plan.slug == info.slug)).one_or_none()
    if plan is None:
        plan = Plan(slug=info.slug, title=info.title)
        session.add(plan)
        result.created_plan = True
    values: dict[str, Any] = {name: getattr(info, name) for name in PLAN_TEXTS}
    values |= {f"legend_{c}": info.rag_legend.get(c, "") for c in RAG_COLOURS}
    for name, value in values.items():
        if getattr(plan, name) != value:
            setattr(plan, name, value)
    wanted = sorted(info.phases.items())
    if [(p.number, p.title) for p in plan.phases] != wanted:
        plan.phases = [Phase(number=n, title=t) for n, t in wanted]
    session.flush()
    return plan


def _work_streams(
    session: Session, plan: Plan, streams: Iterable[WorkStreamData], needed: set[int]
) -> dict[int, int]:
    """Upsert the file's work streams; create a placeholder for any other number used."""
    by_number = {ws.number: ws for ws in plan.work_streams}
    for data in streams:
        row = by_number.get(data.number)
        if row is None:
            row = WorkStream(number=data.number, title=data.title)
            plan.work_streams.append(row)
            by_number[data.number] = row
        for name in STREAM_FIELDS:
            if getattr(row, name) != getattr(data, name):
                setattr(row, name, getattr(data, name))
        _outcomes(row, data.outcomes)
    for number in sorted(needed - set(by_number)):
        row = WorkStream(number=number, title=f"Work Stream {number}", phase=1)
        plan.work_streams.append(row)
        by_number[number] = row
    session.flush()
    return {number: row.id for number, row in by_number.items()}


def _outcomes(row: WorkStream, outcomes: Sequence[OutcomeData]) -> None:
    if [(o.number, o.text) for o in row.outcomes] != [(o.number, o.text) for o in outcomes]:
        row.outcomes = [
            Outcome(position=i, number=o.number, text=o.text) for i, o in enumerate(outcomes)
        ]


class ActionSource(Protocol):
    """Actions as they are read, with the row each came from (worker/io/tables.py's
    `ActionRows`): bad rows are collected, not raised, until `finish`."""

    @property
    def failed(self) -> bool: ...

    def __iter__(self) -> Iterator[tuple[int, ActionData]]: ...

    def duplicate(self, number: int, ref: str, first: int) -> None: ...

    def finish(self) -> None: ...


class DocActions:
    """A plan document's actions (already read and checked whole) as an `ActionSource`."""

    def __init__(self, actions: Sequence[ActionData]) -> None:
        self._actions = actions
        self.problems: list[Problem] = []

    @property
    def failed(self) -> bool:
        return bool(self.problems)

    def __iter__(self) -> Iterator[tuple[int, ActionData]]:
        return enumerate(self._actions, start=1)

    def duplicate(self, number: int, ref: str, first: int) -> None:
        self.problems.append(Problem(f"action {number}", f"{ref!r} is already action {first}"))

    def finish(self) -> None:
        if self.problems:
            raise InputError("plan", self.problems)


class _Refs:
    """The plan's action IDs, one entry each, in one dict: a stored action's row id until
    the file names it, then the (negated) row number that named it. A million-action import
    holds this and one chunk, never the file's parsed rows."""

    def __init__(self, session: Session, plan_id: int) -> None:
        self.ids: dict[str, int] = {}
        self.archived: set[int] = set()
        self.live_before = 0
        query = select(Action.ref, Action.id, Action.archived).where(Action.plan_id == plan_id)
        # Streamed in batches: the ORM would otherwise buffer a row object for every action.
        rows = session.execute(query.execution_options(yield_per=10 * CHUNK))
        for ref, action_id, archived in rows:
            self.ids[ref] = action_id
            if archived:
                self.archived.add(action_id)
            else:
                self.live_before += 1

    def take(self, ref: str, number: int) -> tuple[int | None, int | None]:
        """Row `number` names `ref`: its stored row id (None if new), and the row that
        named it before (None if none did)."""
        value = self.ids.get(ref)
        self.ids[ref] = -number
        if value is None:
            return None, None
        if value < 0:
            return None, -value
        return value, None

    def untouched_live(self) -> list[tuple[int, str]]:
        """(id, ref) of the live stored actions the file did not name."""
        return [
            (value, ref)
            for ref, value in self.ids.items()
            if value > 0 and value not in self.archived
        ]


class _Roles:
    """The plan's lead roles by key; a chunk's new ones are added as they come, in the
    order they are first named."""

    def __init__(self, session: Session, plan_id: int) -> None:
        self.session, self.plan_id = session, plan_id
        query = select(LeadRole.key, LeadRole.id).where(LeadRole.plan_id == plan_id)
        self.ids: dict[str, int] = {key: role_id for key, role_id in session.execute(query)}

    def add(self, actions: Iterable[ActionData]) -> dict[str, int]:
        names: dict[str, str] = {}
        for action in actions:
            for role in action.lead_roles:
                key = role_key(role)
                if key not in self.ids:
                    names.setdefault(key, role)
        if names:
            rows = [{"plan_id": self.plan_id, "key": k, "name": n} for k, n in names.items()]
            self.session.execute(insert(LeadRole), rows)
            query = select(LeadRole.key, LeadRole.id).where(
                LeadRole.plan_id == self.plan_id, LeadRole.key.in_(list(names))
            )
            self.ids.update({key: role_id for key, role_id in self.session.execute(query)})
        return self.ids


def _archive(
    session: Session, gone: Sequence[tuple[int, str]], changes: ImportChanges | None
) -> int:
    for part in chunks(gone):
        ids = [action_id for action_id, _ in part]
        session.execute(update(Action).where(Action.id.in_(ids)).values(archived=True))
    if changes is not None:
        changes.archived += [ref for _, ref in gone]
    return len(gone)


def import_plan(
    session: Session,
    doc: PlanDoc,
    *,
    month_day: MonthDay,
    who: Changer,
    list_changes: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Write the plan in `doc` (already validated) into the open transaction; see
    `import_actions`."""
    return import_actions(
        session,
        doc.info,
        doc.work_streams,
        DocActions(doc.actions),
        month_day=month_day,
        who=who,
        list_changes=list_changes,
        progress=progress,
    )


def import_actions(
    session: Session,
    info: PlanInfo,
    work_streams: Sequence[WorkStreamData],
    actions: ActionSource,
    *,
    month_day: MonthDay,
    who: Changer,
    list_changes: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Write the plan `info` with `actions` into the open transaction, CHUNK actions at a
    time as they are read, so that memory holds one chunk, not the file. A bad row stops the
    writing (the rest is still read, for its problems) and `actions.finish()` raises them:
    the caller's transaction then rolls back what was written. With `list_changes`, the
    result names each action added, changed and archived. `progress` is told the actions
    read and written so far after each chunk, and once more at the end with `done`."""
    result = ImportResult(plan=info.slug, changes=ImportChanges() if list_changes else None)
    plan = _plan_row(session, info, result)
    ws_ids = _work_streams(session, plan, work_streams, set())
    roles = _Roles(session, plan.id)
    # The plan's actions as stored before this import: one query, not one per chunk.
    refs = _Refs(session, plan.id)
    result.live_before = refs.live_before
    chunk: list[tuple[int, ActionData, int | None]] = []
    read = written = 0

    def write() -> None:
        nonlocal written
        needed = {a.work_stream for _, a, _ in chunk} - set(ws_ids)
        if needed:
            ws_ids.update(_work_streams(session, plan, (), needed))
        role_ids = roles.add(a for _, a, _ in chunk)
        sync_chunk(session, plan.id, chunk, ws_ids, role_ids, month_day, who, result)
        written += len(chunk)
        chunk.clear()

    for number, action in actions:
        stored_id, first = refs.take(action.ref, number)
        if first is not None:
            actions.duplicate(number, action.ref, first)
        position, read = read, read + 1
        if actions.failed:
            chunk.clear()  # nothing more is written: the import will be refused
        else:
            chunk.append((position, action, stored_id))
            if len(chunk) >= CHUNK:
                write()
        if progress is not None and read % CHUNK == 0:
            progress(read, written, False)
    actions.finish()
    if chunk:
        write()
    result.archived = _archive(session, refs.untouched_live(), result.changes)
    if plan.month_day != month_day:
        plan.month_day = month_day
    session.flush()
    if progress is not None:
        progress(read, written, True)
    return result
