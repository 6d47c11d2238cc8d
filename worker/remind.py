"""The lead-reminder job: load the plan, decide who is due what (pure rules), render, put the
messages in the outbox, and deliver. The clock and the mail backend are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.headerregistry import Address
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import jinja2
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, sessionmaker

from worker.contacts import Directory
from worker.contacts_store import sync_directory
from worker.mail.backends import Mailer
from worker.mail.render import (
    TemplateError,
    build_message,
    make_address,
    make_environment,
    message_id_for,
    render_digest,
)
from worker.models import Action, Message, Notification, Plan, WorkStream
from worker.outbox import (
    DeliveryReport,
    LedgerRace,
    Planned,
    RetryPolicy,
    deliver,
    existing_keys,
    record,
)
from worker.plan.dates import MonthDay, Recurrence
from worker.plan.store import reread_dates, roles_by_action
from worker.rules.digest import Digest, Item, Kind, Recipient
from worker.rules.escalation import EscalationPolicy, escalation_items
from worker.rules.rag import RagPolicy
from worker.rules.reminders import (
    CLOSED,
    ActionFacts,
    PlanFacts,
    Refusal,
    digests,
    due_items,
    undelivered_items,
)
from worker.rules.stages import ReminderPolicy
from worker.rules.workdays import WorkingDays
from worker.status_store import Note, dependency_risks, latest_notes

JOB = "remind"
DEFAULT_RAG = RagPolicy()
DEFAULT_ESCALATION = EscalationPolicy()
# How far past the largest "days before" an upcoming reminder can fire early: a threshold
# day on a bank-holiday weekend moves to the working day before it.
SLACK_DAYS = 10
PLAN_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class MailIdentity:
    sender: Address
    reply_to: Address | None


@dataclass(frozen=True, slots=True)
class RemindConfig:
    """Everything the job needs besides the database, the clock and the mail backend."""

    directory: Directory
    policy: ReminderPolicy
    days: WorkingDays
    month_day: MonthDay
    templates: Sequence[Path]  # folders, an admin's first
    identity: MailIdentity
    retry: RetryPolicy
    rag: RagPolicy = DEFAULT_RAG
    escalation: EscalationPolicy = DEFAULT_ESCALATION


@dataclass(slots=True)
class RemindResult:
    as_of: date
    working_day: bool
    planned: list[Digest] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    render_errors: list[str] = field(default_factory=list)
    dates_reread: int = 0
    delivery: DeliveryReport | None = None

    def extend(self, other: RemindResult) -> None:
        self.planned += other.planned
        self.message_ids += other.message_ids
        self.subjects += other.subjects
        self.render_errors += other.render_errors


def _open_actions(plan_id: int, as_of: date, policy: ReminderPolicy) -> ColumnElement[bool]:
    window = as_of + timedelta(days=max(policy.upcoming, default=0) + SLACK_DAYS)
    return (
        (Action.plan_id == plan_id)
        & Action.archived.is_(False)
        & Action.state.not_in(sorted(CLOSED))
        & or_(Action.recurrence != "", Action.due_date <= window)
    )


def load_facts(
    session: Session, condition: ColumnElement[bool], plan_id: int, as_of: date
) -> list[ActionFacts]:
    """The actions matching `condition`, as the rules see them: one query for the actions,
    one each for their leads, latest notes and risky dependencies."""
    leads = roles_by_action(session, condition)
    notes = latest_notes(session, condition)
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
        )
        .join(WorkStream, WorkStream.id == Action.work_stream_id)
        .where(condition)
        .order_by(Action.position, Action.id)
    )
    rows = session.execute(query).all()
    risks = dependency_risks(session, plan_id, condition, {r.id: r.ref for r in rows}, as_of)
    return [
        ActionFacts(
            id=r.id,
            ref=r.ref,
            work_stream_number=r.number,
            work_stream_title=r.title,
            strategic_lead=r.strategic_lead,
            key_deliverable=r.key_deliverable,
            action_text=r.action_text,
            description=r.description,
            target_text=r.target_text,
            due=r.due_date,
            precision=r.due_precision,
            start=r.start_date,
            recurrence=Recurrence.parse(r.recurrence),
            dependencies_text=r.dependencies_text,
            leads=tuple(leads.get(r.id, ())),
            rag=r.rag,
            state=r.state,
            phase=r.phase,
            at_risk_from=risks.get(r.id, ()),
            **_note_fields(notes.get(r.id)),
        )
        for r in rows
    ]


def _note_fields(note: Note | None) -> dict[str, Any]:
    if note is None:
        return {}
    return {"latest_note": note.text, "latest_note_by": note.by, "latest_note_at": note.at}


Pairs = list[tuple[Recipient, Item]]


def reminder_pairs(session: Session, plan: Plan, config: RemindConfig, as_of: date) -> Pairs:
    """Level 1: the leads' reminders due on `as_of`."""
    facts = load_facts(session, _open_actions(plan.id, as_of, config.policy), plan.id, as_of)
    return list(due_items(facts, config.directory, config.policy, config.days, as_of, config.rag))


def escalation_pairs(session: Session, plan: Plan, config: RemindConfig, as_of: date) -> Pairs:
    """Levels 2 and 3: strategic leads' escalations and Red alerts due on `as_of`."""
    condition = (
        (Action.plan_id == plan.id)
        & Action.archived.is_(False)
        & Action.state.not_in(sorted(CLOSED))
    )
    facts = load_facts(session, condition, plan.id, as_of)
    return list(
        escalation_items(
            facts,
            config.directory,
            config.escalation,
            config.policy,
            config.rag,
            config.days,
            as_of,
        )
    )


def refusal_pairs(session: Session, plan: Plan, config: RemindConfig, as_of: date) -> Pairs:
    """The administrator's notice of messages the mail server refused."""
    refusals = load_refusals(session, plan.id)
    if not refusals:
        return []
    ids = sorted({r.action_id for r in refusals})
    refused = {a.id: a for a in load_facts(session, Action.id.in_(ids), plan.id, as_of)}
    return list(
        undelivered_items(refusals, refused, config.directory, config.policy, as_of, config.rag)
    )


def alert_pairs(session: Session, plan: Plan, config: RemindConfig, as_of: date) -> Pairs:
    """Only the Red alerts (sent straight after a status change turns an action Red)."""
    return [
        (r, i) for r, i in escalation_pairs(session, plan, config, as_of) if i.kind == "red_alert"
    ]


# The jobs that send per-action messages, by name: what each one decides.
JOBS: dict[str, Callable[[Session, Plan, RemindConfig, date], Pairs]] = {
    "remind": reminder_pairs,
    "escalate": escalation_pairs,
    "alert": alert_pairs,
}


def decide(
    session: Session,
    plan: Plan,
    config: RemindConfig,
    as_of: date,
    job: str = JOB,
    only: Collection[str] | None = None,
) -> list[Digest]:
    """The digests due on `as_of` that the ledger does not hold yet: the job's items, and
    the administrator's notice of any messages the mail server refused. `only` limits the
    job's items to these action refs."""
    pairs = JOBS[job](session, plan, config, as_of)
    if only is not None:
        pairs = [(r, i) for r, i in pairs if i.ref in only]
    pairs += refusal_pairs(session, plan, config, as_of)
    already = existing_keys(session, (item.key for _, item in pairs))
    return digests(pairs, already, PlanFacts(plan.title, plan.organisation), as_of)


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


def mail_domain(address: Address) -> str:
    return address.domain or "planworker.invalid"


@lru_cache(maxsize=8)
def template_environment(folders: tuple[Path, ...]) -> jinja2.Environment:
    # One environment per folder list, so templates are compiled once, not on every run
    # (Jinja still reloads a template whose file has changed).
    return make_environment(folders)


def render(
    found: Sequence[Digest], config: RemindConfig, now: datetime, job: str = JOB
) -> tuple[list[Planned], list[str]]:
    """Render each digest; one that fails is reported and left for the next run."""
    env = template_environment(tuple(config.templates))
    domain = mail_domain(config.identity.sender)
    planned, errors = [], []
    for digest in found:
        try:
            rendered = render_digest(env, digest, prodid_domain=domain)
        except TemplateError as exc:
            errors.append(f"{digest.recipient.email}: {exc}")
            continue
        key = "\n".join(sorted(item.key for item in digest.items))
        message_id = message_id_for(key, domain)
        to = make_address(digest.recipient.name, digest.recipient.email)
        message = build_message(
            rendered,
            sender=config.identity.sender,
            to=to,
            reply_to=config.identity.reply_to,
            message_id=message_id,
            date=now,
            headers={"X-Planworker-Job": f"{job} {digest.as_of.isoformat()}"},
        )
        planned.append(Planned(digest, message, message_id, rendered.subject))
    return planned, errors


def plan_messages(
    sessions: sessionmaker[Session],
    plan_id: int,
    config: RemindConfig,
    as_of: date,
    now: datetime,
    *,
    dry_run: bool = False,
    job: str = JOB,
    only: Collection[str] | None = None,
) -> RemindResult:
    """Decide, render and (unless a dry run) record a job's messages in one transaction."""
    result = RemindResult(as_of, config.days.is_working(as_of))
    for attempt in range(PLAN_ATTEMPTS):
        with sessions() as session:
            plan = session.get_one(Plan, plan_id)
            sync_directory(session, config.directory)
            result.dates_reread = reread_dates(session, plan, config.month_day)
            found = decide(session, plan, config, as_of, job, only)
            planned, result.render_errors = render(found, config, now, job)
            result.planned = [p.digest for p in planned]
            result.message_ids = [p.message_id for p in planned]
            result.subjects = [p.subject for p in planned]
            if dry_run:
                session.rollback()
                return result
            try:
                record(session, planned, plan_id=plan_id, job=job, as_of=as_of, now=now)
            except LedgerRace:
                session.rollback()
                if attempt == PLAN_ATTEMPTS - 1:
                    raise
                continue
            session.commit()
            return result
    raise AssertionError("unreachable")


def run_reminders(
    sessions: sessionmaker[Session],
    plan_id: int,
    config: RemindConfig,
    as_of: date,
    *,
    clock: Callable[[], datetime],
    mailer: Mailer | None,
    dry_run: bool = False,
    job: str = JOB,
    only: Collection[str] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> RemindResult:
    """The whole job: plan today's messages, then deliver everything due in the outbox."""
    result = plan_messages(
        sessions, plan_id, config, as_of, clock(), dry_run=dry_run, job=job, only=only
    )
    if dry_run or mailer is None:
        return result
    result.delivery = deliver(
        sessions,
        mailer,
        clock=clock,
        policy=config.retry,
        plan_id=plan_id,
        should_stop=should_stop,
    )
    if result.delivery.failed:
        # Tell the administrator now which reminders the server refused, not tomorrow.
        notice = plan_messages(sessions, plan_id, config, as_of, clock(), job=job)
        result.extend(notice)
        more = deliver(
            sessions,
            mailer,
            clock=clock,
            policy=config.retry,
            plan_id=plan_id,
            should_stop=should_stop,
        )
        result.delivery.add(more)
    return result
