"""Who gets reminded about what on a given date (pure).

`due_items` walks the open actions and yields (recipient, item) for each one whose reminder
stage is active on the date (see `stages`), routed to people (see `routing`), and the
entries of the week's summary of actions no lead can be reminded about (see `summary`).
`digests` drops the items the ledger already holds and gathers the rest into one message
per recipient.
The shell supplies the data, the ledger's keys and the date; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Literal, NamedTuple, TypeVar, cast

from worker.contacts import Directory
from worker.frozen import frozen
from worker.plan.data import DEFAULT_TIMEZONE
from worker.plan.dates import Recurrence
from worker.plan.due import Milestone
from worker.rules.acknowledge import Acknowledged, Snapshot
from worker.rules.board import RagName
from worker.rules.digest import (
    DEFAULT_LISTING,
    SECTIONS,
    Contact,
    Digest,
    Entry,
    Gathering,
    Item,
    Kind,
    Listing,
    Recipient,
    Section,
)
from worker.rules.rag import Progress, RagPolicy, assess
from worker.rules.routing import Routes, contact_for
from worker.rules.stages import ActionDates, ReminderPolicy, Stage, active_stage
from worker.rules.summary import Week, summary_reason, week_of
from worker.rules.workdays import WorkingDays

DEFAULT_RAG = RagPolicy()
V = TypeVar("V")

# Progress states that need no more reminders.
CLOSED = frozenset({"completed", "dropped"})
# Open, but paused by decision: no reminders or escalations while it lasts.
PAUSED = frozenset({"on hold"})
NOT_REMINDED = CLOSED | PAUSED

SECTION_OF: dict[Kind, Section] = {
    "upcoming": "due_soon",
    "overdue": "overdue",
    "review": "review",
    "start": "starting",
    "escalation": "escalated",
    "red_alert": "turned_red",
}


@frozen(kw_only=True)
class Schedule:
    """What says whether, and to whom, an action's reminder is due: its dates, progress state
    and leads. A run's first pass over the whole plan reads only this (`due_keys`)."""

    id: int
    ref: str
    due: date | None
    start: date | None
    recurrence: Recurrence | None
    state: str
    leads: tuple[str, ...]
    # The dated items of a target cell holding several (the final target's last); the
    # first pass needs them: each milestone is reminded on its own.
    milestones: tuple[Milestone, ...] = ()
    # Target before start, not confirmed by an admin: held back from overdue and Red.
    held: bool = False
    # Who hears of it in the weekly summary when no lead can be reminded about it.
    strategic_lead: str = ""
    work_stream_number: int = 0
    # What the ledger records of an entry a message counts but does not list.
    target_text: str = ""
    precision: str = ""
    rag: str | None = None


@frozen(kw_only=True)
class ActionFacts(Schedule):
    """One action as the reminder rules see it (plain data loaded by the shell): its schedule
    and everything a message shows about it."""

    work_stream_number: int
    work_stream_title: str
    strategic_lead: str
    key_deliverable: str
    action_text: str
    description: str
    target_text: str
    precision: str
    dependencies_text: str
    rag: str | None
    latest_note: str = ""
    at_risk_from: tuple[str, ...] = ()
    phase: int = 1
    latest_note_by: str = ""
    latest_note_at: datetime | None = None
    # When the lead (or, for an action no lead can be reached for, the administrator) was
    # first sent a reminder about it: nothing goes above them before (rules/escalation.py).
    first_told: date | None = None
    # (target date, the day of the latest run that queued its Red alert) for each target it
    # was alerted about: a lead's own Red report is alerted when first seen, not on a date
    # the rules can work out (rules/escalation.py). Read with `first_told`.
    red_alerts: tuple[tuple[date, date], ...] = ()
    # Who has acknowledged it (rules/acknowledge.py), read for escalations and the digest.
    acknowledged: tuple[Acknowledged, ...] = ()

    def snapshot(self) -> Snapshot:
        """The action as an acknowledgement sees it: a change to any of this lifts one."""
        return Snapshot(
            self.rag, self.state, self.target_text, self.latest_note, self.latest_note_at
        )

    def progress(self) -> Progress:
        reported = cast(RagName, self.rag or "none")
        return Progress(
            reported, self.state, self.due, self.start, self.recurrence is not None, self.held
        )


@dataclass(frozen=True, slots=True)
class PlanFacts:
    title: str
    organisation: str
    timezone: str = DEFAULT_TIMEZONE  # how its readers tell the time (plan/data.py)


def item_key(email: str, action_id: int, stage: Stage, *, unassigned_on: date | None = None) -> str:
    """The ledger key: one reminder per (recipient, action, kind, threshold, due date).

    "No one to remind" items of the escalations carry their period's first day too: the
    administrator hears about them once a period until the contacts or the plan are fixed.
    (The weekly summary's own stage names its week.)
    """
    key = f"{email.lower()}|{action_id}|{stage.kind}|{stage.threshold}|{stage.due.isoformat()}"
    return key + (f"|unassigned|{unassigned_on.isoformat()}" if unassigned_on else "")


@dataclass(frozen=True, slots=True)
class ItemMaker:
    """Builds the items of one run: the reminder and escalation rules share it."""

    directory: Directory
    policy: ReminderPolicy
    as_of: date
    rag: RagPolicy
    # Strategic leads looked up so far: a plan has a few, named on every item.
    contacts: dict[str, Contact] = field(default_factory=dict)

    def contact(self, name: str) -> Contact:
        found = self.contacts.get(name)
        if found is None:
            found = self.contacts[name] = contact_for(name, self.directory)
        return found

    def item(
        self,
        action: ActionFacts,
        stage: Stage,
        *,
        key: str,
        section: Section,
        via: tuple[str, ...],
        reason: str = "",
        shown_due: date | Literal["stage"] | None = "stage",
        co_leads: tuple[str, ...] = (),
    ) -> Item:
        """The item for one action at one stage. `shown_due` is the date the reader is shown,
        when it is not the stage's (an escalation's stage date is its week, not a deadline)."""
        progress = action.progress()
        status = assess(progress, self.rag, self.as_of)
        due = stage.due if shown_due == "stage" else shown_due
        return Item(
            key=key,
            action_id=action.id,
            section=section,
            kind=stage.kind,
            threshold=stage.threshold,
            rule=stage.rule(self.policy),
            due=due,
            key_date=stage.due if stage.due != due else None,
            target_text=action.target_text,
            precision=stage.milestone.precision if stage.milestone else action.precision,
            milestone=stage.milestone.label if stage.milestone else "",
            rag=action.rag,
            state=action.state,
            via=via,
            reason=reason,
            ref=action.ref,
            work_stream_number=action.work_stream_number,
            work_stream_title=action.work_stream_title,
            key_deliverable=action.key_deliverable,
            action_text=action.action_text,
            description=action.description,
            recurrence=str(action.recurrence or ""),
            days=_days(due, self.as_of),
            dependencies_text=action.dependencies_text,
            strategic_lead=self.contact(action.strategic_lead),
            leads=action.leads,
            effective_rag=status.effective,
            derived_rag=status.derived,
            disagreement=status.disagreement(progress.reported),
            latest_note=action.latest_note,
            at_risk_from=action.at_risk_from,
            co_leads=co_leads,
        )


def stage_of(
    action: Schedule, policy: ReminderPolicy, days: WorkingDays, as_of: date
) -> Stage | None:
    if action.state in NOT_REMINDED:
        return None
    dates = ActionDates(action.due, action.start, action.recurrence, action.milestones, action.held)
    return active_stage(dates, policy, days, as_of)


class _Stages:
    """stage_of for one run, each distinct set of dates worked out once per day asked: a
    plan's actions share a few hundred target and start dates."""

    def __init__(self, policy: ReminderPolicy, days: WorkingDays) -> None:
        self._policy = policy
        self._days = days
        self._found: dict[tuple[object, ...], Stage | None] = {}

    def of(self, action: Schedule, day: date) -> Stage | None:
        if action.state in NOT_REMINDED:
            return None
        a = action
        # Looked up by a plain tuple of the dates: hashed and compared in C, where an
        # ActionDates key ran its generated __hash__ and __eq__ for each of a run's actions.
        key = (a.due, a.start, a.recurrence, a.milestones, a.held, day)
        try:
            return self._found[key]
        except KeyError:
            dates = ActionDates(a.due, a.start, a.recurrence, a.milestones, a.held)
            found = self._found[key] = active_stage(dates, self._policy, self._days, day)
            return found


@frozen
class Due:
    """One recipient's reminder about one action: who, its ledger key, and how it got there."""

    recipient: Recipient
    key: str
    section: Section
    via: tuple[str, ...]
    stage: Stage
    reason: str = ""  # unassigned: why it reached no lead
    co_leads: tuple[str, ...] = ()  # the action's leads that did not reach this recipient


def _due(
    action: Schedule,
    routes: Routes,
    stage: Stage | None,
    in_reach: Callable[[], bool],
    week: Week | None,
) -> Iterator[Due]:
    found = routes.of(action.leads)
    if stage is not None:
        section = SECTION_OF[stage.kind]
        for email, recipient, via, others in found.people:
            key = item_key(email, action.id, stage)
            yield Due(recipient, key, section, via, stage, co_leads=others)
    if week is None:
        return
    dates = ActionDates(action.due, action.start, action.recurrence)
    # Whether it is in reach matters only when some lead reached no one: asked only then.
    reason = summary_reason(dates, found.unassigned, bool(found.unassigned) and in_reach())
    if reason:
        summary = week.stage()
        readers = routes.summary_readers(action.strategic_lead, action.work_stream_number)
        for email, recipient, via in readers:
            yield Due(
                recipient, item_key(email, action.id, summary), "unassigned", via, summary, reason
            )


def _all_due(
    actions: Iterable[Schedule],
    routes: Routes,
    policy: ReminderPolicy,
    days: WorkingDays,
    as_of: date,
) -> Iterator[tuple[Schedule, Due]]:
    """Each action's reminders due on `as_of`, and its entries in the week's summary."""
    week = week_of(as_of, days)
    stages = _Stages(policy, days)
    for action in actions:
        if action.state in CLOSED:
            continue
        stage = stages.of(action, as_of)

        def in_reach(action: Schedule = action) -> bool:
            # In the summary while a reminder of it is active by the week's end.
            return week is not None and stages.of(action, week.last) is not None

        for due in _due(action, routes, stage, in_reach, week):
            yield action, due


# Where an entry sorts in its message (rules/digest.message_order: section, days to the
# date shown, ref): a long message lists only its first entries of a lead's own sections
# and of the weekly summary (rules/digest.listing).
Rank = tuple[int, int, str]


def _days(due: date | None, as_of: date) -> int:
    return (due - as_of).days if due else 0


def _shown(action: Schedule, due: Due) -> date | None:
    # A summary's date is its week: the reader is shown the target; otherwise the stage's.
    return action.due if due.stage.kind == "summary" else due.stage.due


# What many named entries share: their section, stage, rule, the date shown, via, reason.
How = tuple[Section, Stage, str, date | None, tuple[str, ...], str]


class Named(NamedTuple):
    """An entry a message will name but not describe, as a run's first pass keeps it for the
    second: compact, as a 1M-action plan's first run names 400,000, with what many share
    held once (`how`). `entry` gives the ledger's part of the same item."""

    how: How
    action_id: int
    ref: str
    target_text: str
    precision: str
    rag: str | None
    state: str

    def entry(self, email: str, as_of: date, suffix: str = "") -> Entry:
        """The entry to `email` (lower case); `suffix` ends its key (rules/as_of.py)."""
        section, stage, rule, shown, via, reason = self.how
        return Entry(
            key=item_key(email, self.action_id, stage) + suffix,
            action_id=self.action_id,
            section=section,
            kind=stage.kind,
            threshold=stage.threshold,
            rule=rule,
            due=shown,
            key_date=stage.due if stage.due != shown else None,
            target_text=self.target_text,
            precision=self.precision,
            rag=self.rag,
            state=self.state,
            via=via,
            reason=reason,
            ref=self.ref,
            days=_days(shown, as_of),
        )


# An entry a message will name, built only when a run's first pass finds it past the cut:
# given a dict of values already held, to hold equal ones once.
Later = Callable[[dict[object, object]], Named]


def due_keys(
    actions: Iterable[Schedule],
    directory: Directory,
    policy: ReminderPolicy,
    days: WorkingDays,
    as_of: date,
) -> Iterator[tuple[Recipient, int, str, Rank, Later]]:
    """(recipient, action id, ledger key, rank, entry) of every item due_items would give,
    without building the items: what a run needs to know who is due something new. The
    entry is built only when asked for (`Later`), as the ledger's part of the same item."""
    for action, due in _all_due(actions, Routes(directory), policy, days, as_of):
        rank = (SECTIONS.index(due.section), _days(_shown(action, due), as_of), action.ref)
        yield due.recipient, action.id, due.key, rank, partial(_named, action, due, policy)


def _named(
    action: Schedule, due: Due, policy: ReminderPolicy, shared: dict[object, object]
) -> Named:
    """One due reminder as a named entry, from its action's schedule alone. Values in
    `shared` are used from there (and new ones put there)."""
    stage = due.stage
    precision = stage.milestone.precision if stage.milestone else action.precision
    how = (due.section, stage, stage.rule(policy), _shown(action, due), due.via, due.reason)
    return Named(
        _one(shared, how),
        action.id,
        action.ref,
        _one(shared, action.target_text),
        _one(shared, precision),
        action.rag if action.rag is None else _one(shared, action.rag),
        _one(shared, action.state),
    )


def _one(shared: dict[object, object], value: V) -> V:
    return cast(V, shared.setdefault(value, value))


def counted_entries(
    actions: Iterable[Schedule],
    directory: Directory,
    policy: ReminderPolicy,
    days: WorkingDays,
    as_of: date,
    to: Container[str],
) -> Iterator[tuple[Recipient, Entry]]:
    """The entries to the lower-case addresses in `to`, from the actions' schedules alone:
    what a message names or counts but does not describe needs no more. The ledger's part
    of each is the same as due_items' item for it."""
    shared: dict[object, object] = {}
    for action, due in _all_due(actions, Routes(directory), policy, days, as_of):
        email = due.recipient.email.lower()
        if email in to:
            yield due.recipient, _named(action, due, policy, shared).entry(email, as_of)


def due_items(
    actions: Iterable[ActionFacts],
    directory: Directory,
    policy: ReminderPolicy,
    days: WorkingDays,
    as_of: date,
    rag: RagPolicy = DEFAULT_RAG,
    to: Container[str] | None = None,
) -> Iterator[tuple[Recipient, Item]]:
    """Every (recipient, item) whose reminder is due on `as_of`, ledger not yet consulted;
    only those to the lower-case addresses in `to`, if given."""
    maker = ItemMaker(directory, policy, as_of, rag)
    for action, due in _all_due(actions, Routes(directory), policy, days, as_of):
        if to is not None and due.recipient.email.lower() not in to:
            continue
        item = maker.item(
            cast(ActionFacts, action),
            due.stage,
            key=due.key,
            section=due.section,
            via=due.via,
            reason=due.reason,
            shown_due=_shown(action, due),
            co_leads=due.co_leads,
        )
        yield due.recipient, item


def digests(
    pairs: Iterable[tuple[Recipient, Entry]],
    already: Container[str],
    plan: PlanFacts,
    as_of: date,
    limits: Listing = DEFAULT_LISTING,
) -> list[Digest]:
    """One digest per recipient of the items not already in the ledger; none if empty."""
    gathering = Gathering(limits)
    gathering.add((recipient, item) for recipient, item in pairs if item.key not in already)
    return gathering.digests(plan.title, plan.organisation, as_of)
