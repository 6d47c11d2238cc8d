"""Choosing a plan in the database and reading it back as plain data."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.errors import PlanworkerError
from worker.models import Action, Plan, WorkStream
from worker.plan.data import ActionData, PlanDoc, PlanInfo, Rag, State
from worker.plan.data import Outcome as OutcomeData
from worker.plan.data import WorkStream as WorkStreamData
from worker.store.action_links import deps_by_action, roles_by_action

# A plan's and a work stream's fields stored under the names the plan's data gives them:
# an import writes them (worker/store/plan_import.py) and reading back copies them.
PLAN_TEXTS = ("title", "organisation", "source", "timezone")
STREAM_FIELDS = ("number", "title", "heading", "phase", "strategic_lead", "key_aim")
# The RAG legend's colours, each stored in a column `legend_<colour>`.
RAG_COLOURS = ("green", "amber", "red")


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
    roles = roles_by_action(session, Action.plan_id == plan.id)
    deps = deps_by_action(session, Action.plan_id == plan.id)
    numbers = {ws.id: ws.number for ws in plan.work_streams}
    query = (
        select(Action)
        .where(Action.plan_id == plan.id, Action.archived.is_(False))
        .order_by(Action.position, Action.id)
    )
    actions = tuple(
        ActionData(
            ref=a.ref,
            row_ref=a.row_ref,
            work_stream=numbers[a.work_stream_id],
            key_deliverable=a.key_deliverable,
            action=a.action_text,
            description=a.description,
            lead=a.lead_text,
            lead_roles=tuple(roles.get(a.id, ())),
            dependencies=a.dependencies_text,
            depends_on=tuple(deps.get(a.id, ())),
            start=a.start_text,
            target=a.target_text,
            rag=Rag(a.rag) if a.rag else None,
            state=State(a.state),
        )
        for a in session.scalars(query)
    )
    return PlanDoc(plan_info(plan), tuple(_stream(ws) for ws in plan.work_streams), actions)
