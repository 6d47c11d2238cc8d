"""Choosing a plan in the database and reading it back as plain data."""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from worker.errors import PlanworkerError
from worker.models import Action, Plan, WorkStream
from worker.plan.data import ActionData, DependencyRef, PlanDoc, PlanInfo, Rag, State
from worker.plan.data import Outcome as OutcomeData
from worker.plan.data import WorkStream as WorkStreamData
from worker.store.action_links import chunks, deps_by_action, roles_by_action
from worker.store.rows import plain_rows
from worker.store.value_list import in_values

# A plan's and a work stream's fields stored under the names the plan's data gives them:
# an import writes them (worker/store/plan_import.py) and reading back copies them.
PLAN_TEXTS = ("title", "organisation", "source", "timezone")
STREAM_FIELDS = ("number", "title", "heading", "phase", "strategic_lead", "key_aim")
# The RAG legend's colours, each stored in a column `legend_<colour>`.
RAG_COLOURS = ("green", "amber", "red")
# Actions read per statement when the plan is read back.
READ_CHUNK = 2000


def find_plan(session: Session, slug: str | None) -> Plan:
    """The plan named, or the only plan; a clear error when that is not one plan."""
    if slug:
        plan = session.scalars(select(Plan).where(Plan.slug == slug)).one_or_none()
        if plan is None:
            known = ", ".join(session.scalars(select(Plan.slug).order_by(Plan.slug))) or "none"
            raise PlanworkerError(f"no plan named {slug!r} (plans in the database: {known})")
        return plan
    plans = session.scalars(select(Plan).order_by(Plan.slug).limit(2)).all()
    if not plans:
        raise PlanworkerError(
            "no plan in the database yet: import one with "
            "'planworker plan import seed/cbc-action-plan-2012-13.yaml'"
        )
    if len(plans) > 1:
        known = ", ".join(session.scalars(select(Plan.slug).order_by(Plan.slug)))
        raise PlanworkerError(f"the database holds several plans ({known}): choose one with --plan")
    return plans[0]


def plan_info(plan: Plan) -> PlanInfo:
    legend = {colour: getattr(plan, f"legend_{colour}") for colour in RAG_COLOURS}
    return PlanInfo(
        slug=plan.slug,
        **{name: getattr(plan, name) for name in PLAN_TEXTS},
        rag_legend={k: v for k, v in legend.items() if v},
        phases={p.number: p.title for p in plan.phases},
    )


def _stream(ws: WorkStream) -> WorkStreamData:
    outcomes = tuple(OutcomeData(o.number, o.text) for o in ws.outcomes)
    return WorkStreamData(**{name: getattr(ws, name) for name in STREAM_FIELDS}, outcomes=outcomes)


def load_plan(session: Session, plan: Plan) -> PlanDoc:
    """The plan as plain data, actions in plan order."""
    return PlanDoc(plan_info(plan), plan_streams(plan), tuple(plan_actions(session, plan)))


def plan_streams(plan: Plan) -> tuple[WorkStreamData, ...]:
    return tuple(_stream(ws) for ws in plan.work_streams)


def plan_actions(
    session: Session, plan: Plan, work_stream: WorkStream | None = None
) -> Iterator[ActionData]:
    """The plan's current actions (or one work stream's) in plan order, read READ_CHUNK at
    a time: an export of a million actions holds one chunk, not the plan."""
    wanted = (Action.plan_id == plan.id) & Action.archived.is_(False)
    if work_stream is not None:
        wanted &= Action.work_stream_id == work_stream.id
    ordered = select(Action.id).where(wanted).order_by(Action.position, Action.id)
    # 8 bytes an id: 8 MB for a million actions.
    ids = array("q", (id_ for (id_,) in plain_rows(session, ordered)))
    for part in chunks(ids, READ_CHUNK):
        yield from _actions(session, part)


def _actions(session: Session, ids: Sequence[int]) -> list[ActionData]:
    roles = roles_by_action(session, ids)
    deps = deps_by_action(session, ids)
    query = select(
        Action.id,
        Action.ref,
        Action.row_ref,
        WorkStream.number,
        Action.key_deliverable,
        Action.action_text,
        Action.description,
        Action.lead_text,
        Action.dependencies_text,
        Action.start_text,
        Action.target_text,
        Action.rag,
        Action.state,
    ).join(WorkStream, WorkStream.id == Action.work_stream_id)
    query = query.where(in_values(Action.id, list(ids)))
    rows = {row[0]: row for row in plain_rows(session, query)}
    return [_action(rows[id_], roles.get(id_, ()), deps.get(id_, ())) for id_ in ids]


def _action(
    row: Row[*tuple[Any, ...]], roles: Sequence[str], deps: Sequence[DependencyRef]
) -> ActionData:
    return ActionData(
        ref=row.ref,
        row_ref=row.row_ref,
        work_stream=row.number,
        key_deliverable=row.key_deliverable,
        action=row.action_text,
        description=row.description,
        lead=row.lead_text,
        lead_roles=tuple(roles),
        dependencies=row.dependencies_text,
        depends_on=tuple(deps),
        start=row.start_text,
        target=row.target_text,
        rag=Rag(row.rag) if row.rag else None,
        state=State(row.state),
    )
