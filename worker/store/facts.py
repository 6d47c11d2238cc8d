"""The actions as the rules see them: which of a plan's actions a job reads (its scope), and
their facts, loaded set-wise a chunk of ids at a time. The rules get plain data from here and
never see SQLAlchemy."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import Session

from worker.models import Action, Message, Notification, Plan, WorkStream
from worker.plan.dates import Recurrence
from worker.plan.due import Milestone, target_milestones
from worker.rules.digest import Kind
from worker.rules.reminders import NOT_REMINDED, ActionFacts, Schedule
from worker.rules.stages import START_LATE_DAYS
from worker.rules.undelivered import Refusal
from worker.store.acknowledgements import acknowledgements
from worker.store.action_links import as_above_texts, of_actions, roles_by_action
from worker.store.rows import plain_rows
from worker.store.status import (
    GroupKey,
    Note,
    RiskIndex,
    dependency_risks,
    held_back,
    is_risky,
    kd_number,
    latest_notes,
    plan_risks,
    risk_groups,
)
from worker.store.value_list import in_values

# The job whose messages are a lead's own reminders (worker/jobs/remind.py).
LEAD_JOB = "remind"
# How far past the largest "days before" an upcoming reminder can fire early: a threshold
# day on a bank-holiday weekend moves to the working day before it.
SLACK_DAYS = 10


@dataclass(frozen=True, slots=True)
class Scope:
    """Which open actions of a plan a job reads: all of them, or (`within_days`) only those
    with a recurrence or a target date no later than that many days after the run's date,
    with no target date (the weekly summary), or starting about now (the start notice)."""

    within_days: int | None = None

    def condition(self, plan_id: int, as_of: date) -> ColumnElement[bool]:
        found = (
            (Action.plan_id == plan_id)
            & Action.archived.is_(False)
            & Action.state.not_in(sorted(NOT_REMINDED))
        )
        if self.within_days is None:
            return found
        window = as_of + timedelta(days=self.within_days + SLACK_DAYS)
        started = as_of - timedelta(days=START_LATE_DAYS)
        # An action with milestones is selected by its first too: each is reminded. One
        # with no target is read for the weekly summary, one starting soon for its notice.
        return found & or_(
            Action.recurrence != "",
            Action.due_date <= window,
            Action.first_due_date <= window,
            Action.due_date.is_(None),
            Action.start_date.between(started, window),
        )


def of_ids(ids: Collection[int]) -> ColumnElement[bool]:
    return in_values(Action.id, sorted(ids))


def plan_actions(plan_id: int) -> ColumnElement[bool]:
    """Every current action of the plan, open or closed (the board's view)."""
    return (Action.plan_id == plan_id) & Action.archived.is_(False)


# The stored recurrence texts are few ("", "ongoing", "every 2 months"...): read each once.
_recurrence = lru_cache(maxsize=64)(Recurrence.parse)


def _milestone_columns() -> tuple[ColumnElement[Any], ...]:
    """The target text of the actions with milestones only (the others need not be read),
    the month_day their dates were read with, and whether they are held back."""
    has = Action.first_due_date.is_not(None)
    text = case((has, Action.target_text), else_="")
    plan_month_day = select(Plan.month_day).where(Plan.id == Action.plan_id).scalar_subquery()
    month_day = case((has, plan_month_day), else_="end")
    return text.label("milestone_text"), month_day.label("month_day"), held_back().label("held")


@lru_cache(maxsize=1024)
def _milestones(text: str, month_day: str) -> tuple[Milestone, ...]:
    if not text:
        return ()
    return target_milestones(text, "start" if month_day == "start" else "end")


def load_facts(
    session: Session,
    condition: ColumnElement[bool],
    plan_id: int,
    as_of: date,
    risks: RiskIndex | None = None,
    *,
    told: bool = False,
    acknowledged: bool = False,
) -> list[ActionFacts]:
    """The actions matching `condition`, as the rules see them: one query for the actions,
    one each for their leads, latest notes and risky dependencies. A run that loads the plan
    in chunks passes the plan's `risks` (plan_risks), read once. `told`: when each was first
    reminded; `acknowledged`: who acknowledged it (escalations and the digest read these)."""
    query = (
        select(
            Action.id,
            Action.ref,
            WorkStream.number,
            WorkStream.title,
            WorkStream.strategic_lead,
            Action.key_deliverable,
            Action.action_text,
            Action.description,
            Action.target_text,
            Action.due_date,
            Action.due_precision,
            Action.start_date,
            Action.recurrence,
            Action.dependencies_text,
            Action.rag,
            Action.state,
            WorkStream.phase,
            is_risky(as_of).label("risky"),
            *_milestone_columns(),
        )
        .join(WorkStream, WorkStream.id == Action.work_stream_id)
        .where(condition)
        .order_by(Action.position, Action.id)
    )
    rows = plain_rows(session, query).all()
    ids = [r[0] for r in rows]
    leads = roles_by_action(session, ids)
    notes = latest_notes(session, ids)
    # "As above" means nothing in a message read on its own: name the row it refers to.
    deps = as_above_texts(session, {r[0]: r[13] or "" for r in rows})
    # Only escalation asks when a lead was first reminded: a query the others need not pay.
    told_on = first_told(session, ids) if told else {}
    alerts = red_alerts(session, ids, as_of) if told else {}
    acks = acknowledgements(session, ids) if acknowledged else {}
    if risks is None:
        risks = plan_risks(session, plan_id, as_of)
    at_risk = dependency_risks(session, {r[0]: _own(r[1], r[2], r[5], r[17]) for r in rows}, risks)
    # One copy of each text many actions share (their work stream's, their state...): a
    # run holds a large recipient's items, and each row would otherwise bring its own.
    shared: dict[str, str] = {}
    one = shared.setdefault
    # Rows unpacked by position: a plan's chunk is thousands of rows, read twice a run.
    return [
        ActionFacts(
            id=id_,
            ref=ref,
            work_stream_number=number,
            work_stream_title=one(stream_title, stream_title),
            strategic_lead=one(strategic_lead, strategic_lead),
            key_deliverable=one(key_deliverable, key_deliverable),
            action_text=action_text,
            description=description,
            target_text=one(target_text, target_text),
            due=due,
            precision=one(precision, precision),
            start=start,
            recurrence=_recurrence(recurrence),
            dependencies_text=deps.get(id_, dependencies_text or ""),
            leads=tuple(leads.get(id_, ())),
            rag=rag,
            state=one(state, state),
            phase=phase,
            at_risk_from=at_risk.get(id_, ()),
            first_told=told_on.get(id_),
            red_alerts=alerts.get(id_, ()),
            acknowledged=acks.get(id_, ()),
            milestones=_milestones(milestone_text, month_day),
            held=bool(held),
            **_note_fields(notes.get(id_)),
        )
        for (
            id_,
            ref,
            number,
            stream_title,
            strategic_lead,
            key_deliverable,
            action_text,
            description,
            target_text,
            due,
            precision,
            start,
            recurrence,
            dependencies_text,
            rag,
            state,
            phase,
            risky,
            milestone_text,
            month_day,
            held,
        ) in rows
    ]


def first_told(session: Session, ids: Sequence[int]) -> dict[int, date]:
    """The date of the first lead reminder sent about each of these actions (to a lead, or
    to the administrator when no lead could be reached): escalation waits for it."""
    told: dict[int, date] = {}
    for condition in of_actions(Notification.action_id, ids):
        query = (
            select(Notification.action_id, func.min(Message.as_of))
            .join(Message, Message.id == Notification.message_id)
            .where(condition, Message.job == LEAD_JOB, Message.state == "sent")
            .group_by(Notification.action_id)
        )
        told.update({action_id: day for action_id, day in session.execute(query)})
    return told


def red_alerts(
    session: Session, ids: Sequence[int], as_of: date
) -> dict[int, tuple[tuple[date, date], ...]]:
    """Each action's Red alerts in the ledger: (target date, the day of the latest run up to
    `as_of` that queued one), whether sent yet or not. A failed one stands for nothing, and
    one queued by a run dated after `as_of` (rules/as_of.py) does not count yet."""
    found: dict[int, tuple[tuple[date, date], ...]] = {}
    for condition in of_actions(Notification.action_id, ids):
        query = (
            select(Notification.action_id, Notification.due_date, func.max(Message.as_of))
            .join(Message, Message.id == Notification.message_id)
            .where(
                condition,
                Notification.kind == "red_alert",
                Message.state != "failed",
                Message.as_of <= as_of,
            )
            .group_by(Notification.action_id, Notification.due_date)
        )
        for action_id, due, day in session.execute(query):
            found[action_id] = (*found.get(action_id, ()), (due, day))
    return found


def _own(
    ref: str, number: int, key_deliverable: str, risky: Any
) -> tuple[str, tuple[GroupKey, ...]]:
    # An action that is risky itself is in its own groups, but never counts as its own risk.
    groups = risk_groups(number, kd_number(key_deliverable)) if risky else ()
    return ref, groups


def _note_fields(note: Note | None) -> dict[str, Any]:
    if note is None:
        return {}
    return {"latest_note": note.text, "latest_note_by": note.by, "latest_note_at": note.at}


def load_schedule(session: Session, condition: ColumnElement[bool]) -> list[Schedule]:
    """The actions matching `condition` with only what says whether, and to whom, a
    reminder is due (dates, progress state and leads), and what the ledger records of an
    entry a message counts but does not list. Two queries."""
    query = (
        select(
            Action.id,
            Action.ref,
            Action.due_date,
            Action.start_date,
            Action.recurrence,
            Action.state,
            WorkStream.strategic_lead,
            WorkStream.number,
            Action.target_text,
            Action.due_precision,
            Action.rag,
            *_milestone_columns(),
        )
        .join(WorkStream, WorkStream.id == Action.work_stream_id)
        .where(condition)
    )
    rows = plain_rows(session, query).all()
    leads = roles_by_action(session, [r[0] for r in rows])
    shared: dict[str, str] = {}  # one copy of each repeated text, as in load_facts
    one = shared.setdefault
    return [
        Schedule(
            id=id_,
            ref=ref,
            due=due,
            start=start,
            recurrence=_recurrence(recurrence),
            state=state,
            leads=tuple(leads.get(id_, ())),
            milestones=_milestones(milestone_text, month_day),
            held=bool(held),
            strategic_lead=one(strategic_lead, strategic_lead),
            work_stream_number=number,
            target_text=one(target_text, target_text),
            precision=one(precision, precision),
            rag=rag,
        )
        for (
            id_,
            ref,
            due,
            start,
            recurrence,
            state,
            strategic_lead,
            number,
            target_text,
            precision,
            rag,
            milestone_text,
            month_day,
            held,
        ) in rows
    ]


def chunk_bounds(
    session: Session, condition: ColumnElement[bool], size: int
) -> Iterator[ColumnElement[bool]]:
    """The actions matching `condition` as consecutive id ranges of `size` actions each, so a
    run holds one chunk of the plan in memory, not all of it (keyset paging: no OFFSET)."""
    last = 0
    while True:
        ids = session.scalars(
            select(Action.id)
            .where(condition, Action.id > last)
            .order_by(Action.id)
            .offset(size - 1)
            .limit(1)
        ).first()
        if ids is None:
            yield condition & (Action.id > last)
            return
        yield condition & (Action.id > last) & (Action.id <= ids)
        last = ids


def refs_of(session: Session, ids: Collection[int]) -> set[str]:
    return set(session.scalars(select(Action.ref).where(of_ids(ids))))


def load_refusals(session: Session, plan_id: int) -> list[Refusal]:
    """Every reminder of this plan in a message that failed for good."""
    query = (
        select(
            Notification.action_id,
            Notification.kind,
            Notification.threshold,
            Notification.due_date,
            Message.recipient_email,
            Notification.via,
            Message.last_error,
        )
        .join(Message, Message.id == Notification.message_id)
        .where(Message.plan_id == plan_id, Message.state == "failed")
        .order_by(Notification.id)
    )
    return [
        Refusal(action_id, cast(Kind, kind), threshold, due, to, via, reason)
        for action_id, kind, threshold, due, to, via, reason in session.execute(query)
    ]
