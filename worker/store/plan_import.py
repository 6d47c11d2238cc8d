"""Writing a plan into the database.

An import is one transaction: it writes only what differs from what is stored, so the same
file twice changes nothing, and a failure leaves the database as it was. Actions a new file
no longer lists are archived, never deleted, so their status history stays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from worker.models import Action, LeadRole, Outcome, Phase, Plan, WorkStream
from worker.plan.data import ActionData, PlanDoc, PlanInfo
from worker.plan.data import Outcome as OutcomeData
from worker.plan.data import WorkStream as WorkStreamData
from worker.plan.dates import MonthDay
from worker.plan.leads import role_key
from worker.store.action_links import chunks
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


def _role_ids(session: Session, plan_id: int, actions: Sequence[ActionData]) -> dict[str, int]:
    names: dict[str, str] = {}
    for action in actions:
        for role in action.lead_roles:
            names.setdefault(role_key(role), role)
    stored = dict(
        session.execute(select(LeadRole.key, LeadRole.id).where(LeadRole.plan_id == plan_id)).all()
    )
    missing = [
        {"plan_id": plan_id, "key": k, "name": n} for k, n in names.items() if k not in stored
    ]
    if missing:
        session.execute(insert(LeadRole), missing)
        stored = dict(
            session.execute(
                select(LeadRole.key, LeadRole.id).where(LeadRole.plan_id == plan_id)
            ).all()
        )
    return stored


def _archive_missing(
    session: Session, plan_id: int, refs: set[str], changes: ImportChanges | None
) -> int:
    live = session.execute(
        select(Action.id, Action.ref).where(Action.plan_id == plan_id, Action.archived.is_(False))
    )
    gone = [(action_id, ref) for action_id, ref in live if ref not in refs]
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
    """Write the plan in `doc` (already validated) into the open transaction; with
    `list_changes`, the result names each action added, changed and archived. `progress` is
    told the actions written so far and the total, after each chunk."""
    result = ImportResult(plan=doc.info.slug, changes=ImportChanges() if list_changes else None)
    plan = _plan_row(session, doc.info, result)
    needed = {a.work_stream for a in doc.actions}
    ws_ids = _work_streams(session, plan, doc.work_streams, needed)
    role_ids = _role_ids(session, plan.id, doc.actions)
    numbered = list(enumerate(doc.actions))
    # The plan's actions as stored before this import: one query, not one per chunk.
    query = select(Action.ref, Action.id, Action.archived).where(Action.plan_id == plan.id)
    known: dict[str, int] = {}
    for ref, action_id, archived in session.execute(query):
        known[ref] = action_id
        result.live_before += not archived
    done = 0
    for chunk in chunks(numbered):
        sync_chunk(session, plan.id, chunk, ws_ids, role_ids, month_day, who, result, known)
        done += len(chunk)
        if progress is not None:
            progress(done, len(numbered))
    refs = {a.ref for a in doc.actions}
    result.archived = _archive_missing(session, plan.id, refs, result.changes)
    if plan.month_day != month_day:
        plan.month_day = month_day
    session.flush()
    return result
