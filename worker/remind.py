"""The lead-reminder job: load the plan, decide who is due what (pure rules), render, put the
messages in the outbox, and deliver. The clock and the mail backend are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from email.headerregistry import Address
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import jinja2
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, sessionmaker

from worker.contacts import Directory
from worker.mail.backends import Mailer
from worker.mail.parts import Encoder, split_to_fit
from worker.mail.render import (
    Rendered,
    TemplateError,
    make_address,
    make_environment,
    message_bytes,
    message_id_for,
    render_digest,
)
from worker.models import Action, Message, Notification, Plan, WorkStream
from worker.plan.dates import MonthDay, Recurrence
from worker.rules.as_of import key_suffix
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
    due_keys,
    undelivered_items,
)
from worker.rules.stages import ReminderPolicy
from worker.rules.workdays import WorkingDays
from worker.store.contacts import sync_directory
from worker.store.outbox import (
    DeliveryReport,
    LedgerRace,
    Planned,
    RetryPolicy,
    existing_keys,
    record,
)
from worker.store.plan import chunks, reread_dates, roles_by_action
from worker.store.status import (
    GroupKey,
    Note,
    RiskIndex,
    dependency_risks,
    is_risky,
    kd_number,
    latest_notes,
    plan_risks,
    risk_groups,
)

JOB = "remind"
DEFAULT_RAG = RagPolicy()
DEFAULT_ESCALATION = EscalationPolicy()
# How far past the largest "days before" an upcoming reminder can fire early: a threshold
# day on a bank-holiday weekend moves to the working day before it.
SLACK_DAYS = 10
PLAN_ATTEMPTS = 3
# Actions read and assessed at a time, and items rendered and recorded per transaction: what
# bounds a run's memory, whatever the size of the plan.
FACTS_CHUNK = 5000
BATCH_ITEMS = 2000


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
    digest_on_holidays: bool = False  # send the board digest on non-working days too
    # The largest message sent: a digest over it goes in parts (mail.max_message_kb, or
    # less when the mail server's SIZE says so).
    max_message_bytes: int = 10 * 1024 * 1024


@dataclass(slots=True)
class RemindResult:
    as_of: date
    working_day: bool
    # Each recorded message's digest (its items without their long texts), subject and
    # Message-ID, unless the caller asked for counts only (the service: a large plan's run
    # would otherwise hold every item to the end).
    planned: list[Digest] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    messages: int = 0
    items: int = 0
    render_errors: list[str] = field(default_factory=list)
    dates_reread: int = 0
    delivery: DeliveryReport | None = None

    def extend(self, other: RemindResult) -> None:
        self.planned += other.planned
        self.message_ids += other.message_ids
        self.subjects += other.subjects
        self.messages += other.messages
        self.items += other.items
        self.render_errors += other.render_errors

    @property
    def failures(self) -> int:
        """Messages that could not be made or were refused for good: a run with any failed."""
        refused = self.delivery.failed if self.delivery is not None else 0
        return len(self.render_errors) + refused

    def note(self, planned: Sequence[Planned], keep_digests: bool) -> None:
        self.messages += len(planned)
        self.items += sum(len(p.digest.items) for p in planned)
        if keep_digests:
            self.planned += [_slim(p.digest) for p in planned]
            self.message_ids += [p.message_id for p in planned]
            self.subjects += [p.subject for p in planned]


def _slim(digest: Digest) -> Digest:
    # What a run reports about an item: the long texts are in the message already.
    items = tuple(
        replace(i, action_text="", description="", dependencies_text="", latest_note="")
        for i in digest.items
    )
    return replace(digest, items=items)


# The stored recurrence texts are few ("", "ongoing", "every 2 months"...): read each once.
_recurrence = lru_cache(maxsize=64)(Recurrence.parse)


def _open_actions(plan_id: int, as_of: date, policy: ReminderPolicy) -> ColumnElement[bool]:
    window = as_of + timedelta(days=max(policy.upcoming, default=0) + SLACK_DAYS)
    return (
        (Action.plan_id == plan_id)
        & Action.archived.is_(False)
        & Action.state.not_in(sorted(CLOSED))
        & or_(Action.recurrence != "", Action.due_date <= window)
    )


def load_facts(
    session: Session,
    condition: ColumnElement[bool],
    plan_id: int,
    as_of: date,
    risks: RiskIndex | None = None,
) -> list[ActionFacts]:
    """The actions matching `condition`, as the rules see them: one query for the actions,
    one each for their leads, latest notes and risky dependencies. A run that loads the plan
    in chunks passes the plan's `risks` (risk_index), read once."""
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
        )
        .join(WorkStream, WorkStream.id == Action.work_stream_id)
        .where(condition)
        .order_by(Action.position, Action.id)
    )
    rows = session.execute(query).all()
    ids = [r.id for r in rows]
    leads = roles_by_action(session, ids)
    notes = latest_notes(session, ids)
    if risks is None:
        risks = plan_risks(session, plan_id, as_of)
    at_risk = dependency_risks(session, {r.id: _own(r) for r in rows}, risks)
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
            recurrence=_recurrence(r.recurrence),
            dependencies_text=r.dependencies_text,
            leads=tuple(leads.get(r.id, ())),
            rag=r.rag,
            state=r.state,
            phase=r.phase,
            at_risk_from=at_risk.get(r.id, ()),
            **_note_fields(notes.get(r.id)),
        )
        for r in rows
    ]


def _own(row: Any) -> tuple[str, tuple[GroupKey, ...]]:
    # An action that is risky itself is in its own groups, but never counts as its own risk.
    groups = risk_groups(row.number, kd_number(row.key_deliverable)) if row.risky else ()
    return row.ref, groups


def _note_fields(note: Note | None) -> dict[str, Any]:
    if note is None:
        return {}
    return {"latest_note": note.text, "latest_note_by": note.by, "latest_note_at": note.at}


def load_schedule(session: Session, condition: ColumnElement[bool]) -> list[ActionFacts]:
    """The actions matching `condition` with only what says whether, and to whom, a
    reminder is due: dates, progress state and leads (texts left empty). Two queries."""
    query = select(
        Action.id,
        Action.ref,
        Action.due_date,
        Action.start_date,
        Action.recurrence,
        Action.state,
    ).where(condition)
    rows = session.execute(query).all()
    leads = roles_by_action(session, [r.id for r in rows])
    return [
        ActionFacts(
            id=r.id,
            ref=r.ref,
            work_stream_number=0,
            work_stream_title="",
            strategic_lead="",
            key_deliverable="",
            action_text="",
            description="",
            target_text="",
            due=r.due_date,
            precision="",
            start=r.start_date,
            recurrence=_recurrence(r.recurrence),
            dependencies_text="",
            leads=tuple(leads.get(r.id, ())),
            rag=None,
            state=r.state,
        )
        for r in rows
    ]


Pairs = list[tuple[Recipient, Item]]
# A job's rules: the items due on a date, to everyone or (when given) only to these
# lower-case addresses.
ItemRules = Callable[
    [Sequence[ActionFacts], RemindConfig, date, Collection[str] | None],
    Iterable[tuple[Recipient, Item]],
]
KeyRules = Callable[
    [Sequence[ActionFacts], RemindConfig, date], Iterable[tuple[Recipient, int, str]]
]


def _open(plan_id: int, as_of: date, policy: ReminderPolicy) -> ColumnElement[bool]:
    del as_of, policy  # escalations look at every open action, whatever its date
    return (
        (Action.plan_id == plan_id)
        & Action.archived.is_(False)
        & Action.state.not_in(sorted(CLOSED))
    )


def _reminders(
    facts: Sequence[ActionFacts], config: RemindConfig, as_of: date, to: Collection[str] | None
) -> Iterable[tuple[Recipient, Item]]:
    """Level 1: the leads' reminders due on `as_of`."""
    c = config
    return due_items(facts, c.directory, c.policy, c.days, as_of, c.rag, to)


def _reminder_keys(
    facts: Sequence[ActionFacts], config: RemindConfig, as_of: date
) -> Iterable[tuple[Recipient, int, str]]:
    return due_keys(facts, config.directory, config.policy, config.days, as_of)


def _escalations(
    facts: Sequence[ActionFacts], config: RemindConfig, as_of: date, to: Collection[str] | None
) -> Iterable[tuple[Recipient, Item]]:
    """Levels 2 and 3: strategic leads' escalations and Red alerts due on `as_of`."""
    c = config
    found = escalation_items(facts, c.directory, c.escalation, c.policy, c.rag, c.days, as_of)
    return found if to is None else ((r, i) for r, i in found if r.email.lower() in to)


def _alerts(
    facts: Sequence[ActionFacts], config: RemindConfig, as_of: date, to: Collection[str] | None
) -> Iterable[tuple[Recipient, Item]]:
    """Only the Red alerts (sent straight after a status change turns an action Red)."""
    return ((r, i) for r, i in _escalations(facts, config, as_of, to) if i.kind == "red_alert")


@dataclass(frozen=True, slots=True)
class JobRules:
    """A job that sends per-action messages: which actions it reads, and its pure rules."""

    scope: Callable[[int, date, ReminderPolicy], ColumnElement[bool]]
    items: ItemRules
    # Who is due what, from load_schedule's facts alone, when the rules need no more; a run's
    # first pass over the whole plan then reads and builds far less.
    keys: KeyRules | None = None

    def who(
        self, session: Session, chunk: ColumnElement[bool], run: _RunContext
    ) -> Iterator[tuple[Recipient, int, str]]:
        if self.keys is not None:
            facts = _only(load_schedule(session, chunk), run.only)
            return ((r, a, k + run.suffix) for r, a, k in self.keys(facts, run.config, run.as_of))
        facts = _only(load_facts(session, chunk, run.plan_id, run.as_of, run.risks), run.only)
        found = self.items(facts, run.config, run.as_of, None)
        return ((r, i.action_id, i.key + run.suffix) for r, i in found)


JOBS: dict[str, JobRules] = {
    "remind": JobRules(_open_actions, _reminders, _reminder_keys),
    "escalate": JobRules(_open, _escalations),
    "alert": JobRules(_open, _alerts),
}


def refusal_pairs(
    session: Session, plan_id: int, config: RemindConfig, as_of: date, risks: RiskIndex
) -> Pairs:
    """The administrator's notice of messages the mail server refused."""
    refusals = load_refusals(session, plan_id)
    if not refusals:
        return []
    ids = sorted({r.action_id for r in refusals})
    refused = {a.id: a for a in load_facts(session, Action.id.in_(ids), plan_id, as_of, risks)}
    return list(
        undelivered_items(refusals, refused, config.directory, config.policy, as_of, config.rag)
    )


def _chunk_bounds(
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


def _only(facts: list[ActionFacts], only: Collection[str] | None) -> list[ActionFacts]:
    return facts if only is None else [f for f in facts if f.ref in only]


@dataclass(frozen=True, slots=True)
class _RunContext:
    plan_id: int
    config: RemindConfig
    as_of: date
    only: Collection[str] | None
    risks: RiskIndex
    suffix: str = ""  # appended to every ledger key: see worker/rules/as_of.py


@dataclass(slots=True)
class _Who:
    """Pass one of a run: who is due something new, and about which actions."""

    actions: dict[str, set[int]] = field(default_factory=dict)  # lower-case email -> ids
    extra: Pairs = field(default_factory=list)  # items not derived from actions (refusals)

    def add(self, found: Sequence[tuple[Recipient, int, str]], already: Collection[str]) -> None:
        for recipient, action_id, key in found:
            if key not in already:
                self.actions.setdefault(recipient.email.lower(), set()).add(action_id)

    def batches(self, size: int) -> Iterator[list[str]]:
        """Recipients in address order, grouped so a batch holds about `size` items."""
        batch: list[str] = []
        held = 0
        for email in sorted(self.actions):
            batch.append(email)
            held += len(self.actions[email])
            if held >= size:
                yield batch
                batch, held = [], 0
        if batch:
            yield batch


def _nothing() -> None:
    pass


def _who(
    session: Session,
    rules: JobRules,
    run: _RunContext,
    checkpoint: Callable[[], None] = _nothing,
) -> _Who:
    """Assess the plan a chunk at a time and keep only who is due what: ids, not items.
    `checkpoint` ends the transaction between chunks (so SQLite's write lock is let go)."""
    who = _Who()
    scope = rules.scope(run.plan_id, run.as_of, run.config.policy)
    for chunk in _chunk_bounds(session, scope, FACTS_CHUNK):
        found = list(rules.who(session, chunk, run))
        who.add(found, _recorded(session, (key for _, _, key in found), run.suffix))
        checkpoint()
    who.extra = _suffixed(
        refusal_pairs(session, run.plan_id, run.config, run.as_of, run.risks), run.suffix
    )
    extra = [(r, i.action_id, i.key) for r, i in who.extra]
    who.add(extra, _recorded(session, (key for _, _, key in extra), run.suffix))
    return who


def _recorded(session: Session, keys: Iterable[str], suffix: str) -> set[str]:
    """Which of these keys count as sent. A run dated ahead (keys ending in `suffix`) also
    counts what real runs sent, so it repeats nothing; its own keys never count for them."""
    wanted = list(keys)
    if not suffix:
        return existing_keys(session, wanted)
    real = {key.removesuffix(suffix): key for key in wanted}
    found = existing_keys(session, [*wanted, *real])
    return {key for key in wanted if key in found} | {real[k] for k in real if k in found}


def _suffixed(pairs: Iterable[tuple[Recipient, Item]], suffix: str) -> Pairs:
    return [(r, replace(i, key=i.key + suffix) if suffix else i) for r, i in pairs]


def _digests_for(
    session: Session,
    plan: Plan,
    rules: JobRules,
    run: _RunContext,
    who: _Who,
    emails: Sequence[str],
) -> list[Digest]:
    """Pass two, for some recipients: their items afresh, complete, and not in the ledger."""
    wanted = set(emails)
    ids = sorted(set().union(*(who.actions[e] for e in emails)))
    pairs: Pairs = []
    for part in chunks(ids):
        condition = Action.id.in_(part)
        facts = _only(load_facts(session, condition, plan.id, run.as_of, run.risks), run.only)
        pairs += _suffixed(rules.items(facts, run.config, run.as_of, wanted), run.suffix)
    pairs += [(r, i) for r, i in who.extra if r.email.lower() in wanted]
    already = _recorded(session, (item.key for _, item in pairs), run.suffix)
    return digests(pairs, already, PlanFacts(plan.title, plan.organisation), run.as_of)


class DayPlan:
    """A job's decisions for one date, made a batch of recipients at a time.

    Creating it is the first pass over the plan (who is due something new); `digests` is
    the second, for one batch, and can be called again for the same batch after a ledger
    race. `checkpoint` ends the transaction between chunks of the first pass.
    """

    def __init__(
        self,
        session: Session,
        plan: Plan,
        config: RemindConfig,
        as_of: date,
        job: str = JOB,
        only: Collection[str] | None = None,
        checkpoint: Callable[[], None] = _nothing,
        today: date | None = None,
    ) -> None:
        self._session = session
        self._plan = plan
        self._rules = JOBS[job]
        risks = plan_risks(session, plan.id, as_of)
        suffix = key_suffix(as_of, today)
        self._run = _RunContext(plan.id, config, as_of, only, risks, suffix)
        self._who = _who(session, self._rules, self._run, checkpoint)

    def batches(self, size: int = BATCH_ITEMS) -> Iterator[list[str]]:
        """Recipients (lower-case addresses) in address order, about `size` items a batch."""
        return self._who.batches(size)

    def digests(self, emails: Sequence[str]) -> list[Digest]:
        """These recipients' digests: their items afresh, less those already in the ledger."""
        return _digests_for(self._session, self._plan, self._rules, self._run, self._who, emails)

    def recipients(self) -> list[str]:
        return list(self._who.actions)


def decide(
    session: Session,
    plan: Plan,
    config: RemindConfig,
    as_of: date,
    job: str = JOB,
    only: Collection[str] | None = None,
) -> list[Digest]:
    """Every digest due on `as_of` that the ledger does not hold yet: the job's items, and
    the administrator's notice of any messages the mail server refused. `only` limits the
    job's items to these action refs. (Holds them all: plan_messages streams instead.)"""
    day = DayPlan(session, plan, config, as_of, job, only)
    return day.digests(day.recipients())


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
    """Render each digest, in parts when it is too large to send whole (mail/parts.py);
    one that fails is reported and left for the next run."""
    env = template_environment(tuple(config.templates))
    domain = mail_domain(config.identity.sender)

    def encode(digest: Digest, rendered: Rendered) -> Planned:
        key = "\n".join(sorted(item.key for item in digest.items))
        message_id = message_id_for(key, domain)
        to = make_address(digest.recipient.name, digest.recipient.email)
        content = message_bytes(
            rendered,
            sender=config.identity.sender,
            to=to,
            reply_to=config.identity.reply_to,
            message_id=message_id,
            date=now,
            headers={"X-Planworker-Job": f"{job} {digest.as_of.isoformat()}"},
        )
        return Planned(digest, content, message_id, rendered.subject)

    encoder = Encoder(
        lambda digest: render_digest(env, digest, prodid_domain=domain),
        encode,
        lambda planned: len(planned.content),
    )
    planned: list[Planned] = []
    errors: list[str] = []
    for digest in found:
        try:
            planned += split_to_fit(digest, config.max_message_bytes, encoder)
        except TemplateError as exc:
            errors.append(f"{digest.recipient.email}: {exc}")
        except ValueError as exc:  # an address or header that cannot be written safely
            who = f"{digest.recipient.name} <{digest.recipient.email}>"
            errors.append(f"{who}: cannot write the message: {exc}")
    return planned, errors


def current_keys(
    session: Session,
    plan_id: int,
    config: RemindConfig,
    as_of: date,
    job: str,
    action_ids: Collection[int],
) -> set[str]:
    """The ledger keys `job`'s rules give on `as_of` for these actions with the current
    contacts directory, whether or not the ledger holds them (read only)."""
    rules = JOBS[job]
    run = _RunContext(plan_id, config, as_of, None, plan_risks(session, plan_id, as_of))
    scope = rules.scope(plan_id, as_of, config.policy)
    found: set[str] = set()
    for part in chunks(sorted(action_ids)):
        found.update(key for _, _, key in rules.who(session, scope & Action.id.in_(part), run))
    return found


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
    keep_digests: bool = True,
    today: date | None = None,
) -> RemindResult:
    """Decide, render and (unless a dry run) record a job's messages. `today` (the
    wall-clock date) keeps a run dated after it apart in the ledger (rules/as_of.py).

    The plan is read in two passes so that memory holds one chunk of it at a time: the
    first finds who is due something new, the second renders and records the messages of a
    batch of recipients in one transaction (a message and its items are never apart), and
    drops them before the next. A dry run records nothing and rolls everything back.
    """
    result = RemindResult(as_of, config.days.is_working(as_of))
    with sessions() as session:
        checkpoint: Callable[[], None] = _nothing if dry_run else session.commit
        plan = session.get_one(Plan, plan_id)
        sync_directory(session, config.directory)
        result.dates_reread = reread_dates(session, plan, config.month_day)
        checkpoint()
        day = DayPlan(session, plan, config, as_of, job, only, checkpoint, today)
        for emails in day.batches():
            for attempt in range(PLAN_ATTEMPTS):
                found = day.digests(emails)
                planned, errors = render(found, config, now, job)
                if dry_run:
                    break
                try:
                    record(
                        session,
                        planned,
                        plan_id=plan_id,
                        job=job,
                        as_of=as_of,
                        now=now,
                        sender=config.identity.sender.addr_spec,
                    )
                except LedgerRace:
                    # Another worker planned some of these first: read the ledger again.
                    session.rollback()
                    if attempt == PLAN_ATTEMPTS - 1:
                        raise
                    continue
                session.commit()
                break
            result.note(planned, keep_digests)
            result.render_errors += errors
        if dry_run:
            session.rollback()
    return result


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
    keep_digests: bool = True,
    today: date | None = None,
) -> RemindResult:
    """The whole job: plan today's messages, then deliver everything due in the outbox."""
    from worker.delivery import deliver_and_notify, fitted_to_server  # it builds on this module

    if not dry_run and mailer is not None:
        config = fitted_to_server(config, mailer)  # parts no larger than the server takes
    started = clock()
    result = plan_messages(
        sessions,
        plan_id,
        config,
        as_of,
        started,
        dry_run=dry_run,
        job=job,
        only=only,
        keep_digests=keep_digests,
        today=today,
    )
    if dry_run or mailer is None:
        return result

    def tell_administrator() -> None:
        # Which reminders the server refused, action by action: now, not tomorrow.
        notice = plan_messages(
            sessions,
            plan_id,
            config,
            as_of,
            clock(),
            job=job,
            keep_digests=keep_digests,
            today=today,
        )
        result.extend(notice)

    result.delivery = deliver_and_notify(
        sessions,
        mailer,
        config,
        plan_id=plan_id,
        as_of=as_of,
        clock=clock,
        should_stop=should_stop,
        before_retry=tell_administrator,
        planned_since=started,  # this run's own messages used today's directory
    )
    return result
