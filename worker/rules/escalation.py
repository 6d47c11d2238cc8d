"""The escalation ladder (pure): level 2, the work stream's strategic lead; level 3, the
project board (its weekly digest, and an alert when an action turns Red). Level 1 is the
lead's own reminder (`reminders.py`).

- **Escalated** (to the strategic lead): an open action whose effective RAG is Amber or
  Red, or that is overdue by more than `overdue_days`. Level-triggered like the reminders:
  the ledger key names the escalation *period* (weeks starting on Monday, by default), so the
  strategic lead hears about it once per period while it stays so, and again at once if it
  gets worse (the key names the RAG too).
- **Turned Red** (to the strategic lead at once; the board reads it in its next digest, or
  at once too with `red_alert_to_board`): once per action and target date, the first run on
  which its effective RAG is Red. Only an action planworker saw turn Red is "turned Red": one
  already past its target when its lead was first told (a first run on an old plan) is
  escalated as overdue instead. In the escalation period of the alert, the alert stands for
  the weekly escalation: one entry per action, not "turned Red" and "escalated" together.
  A lead's own Red report is alerted when first seen (by `status set`, or the next run):
  the ledger says when, and that period's escalation is left out in the same way.
- **The board's morning**: on a digest morning, a board member who is also a strategic lead
  gets their escalations the next working day, so no action reaches them twice that morning.

Leads first: nothing about an action goes above its lead until the lead (or, when no lead
can be reached, the administrator) has been sent a reminder about it, and then `grace_days`
working days have passed without a return. A lead's own report of Amber or Red goes up at
once: the lead has spoken.

Acknowledged (rules/acknowledge.py): a strategic lead who acknowledged an escalated action
hears of it no more each week until it changes (RAG, state, target or a new note). A Red
alert is not held back.

A strategic lead with no address falls back like a lead (deputy, line manager, then the
administrator's "no one to remind").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta

from worker.contacts import Directory
from worker.frozen import frozen
from worker.rules.acknowledge import stands_for
from worker.rules.digest import LISTED_ESCALATIONS, Item, Recipient, Section
from worker.rules.rag import LABEL, ORDER, RagPolicy, assess
from worker.rules.reminders import NOT_REMINDED, ActionFacts, ItemMaker, item_key
from worker.rules.routing import Route, route_lead
from worker.rules.stages import ReminderPolicy, Stage
from worker.rules.workdays import WorkingDays

# A Monday: escalation periods of 7 days start on Mondays.
EPOCH = date(1900, 1, 1)
# The ledger needs a date for a Red alert about an action with no readable target.
NO_DATE = date(1900, 1, 1)


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    to_strategic_leads: bool = True
    overdue_days: int = 14
    repeat_every_days: int = 7
    red_alert: bool = True
    grace_days: int = 5  # working days a reminded lead has to report before escalation
    red_alert_to_board: bool = False  # else the board reads it in its next digest
    # Escalations a message describes in full, Red alerts first; the rest it names.
    listed_in_full: int = LISTED_ESCALATIONS


def leads_had_their_chance(
    action: ActionFacts, policy: EscalationPolicy, days: WorkingDays, as_of: date
) -> bool:
    """Whether an action may go above its lead: the lead has reported on it, or was first
    reminded on an earlier day and has had `grace_days` working days since."""
    if action.rag is not None:
        return True
    told = action.first_told
    if told is None or told >= as_of:
        return False
    return _working_days_after(told, as_of, days) >= policy.grace_days


def _working_days_after(told: date, as_of: date, days: WorkingDays) -> int:
    """Working days after `told`, up to and including `as_of`."""
    return len(days.between(told + timedelta(days=1), as_of))


def _grace_ends(told: date, policy: EscalationPolicy, days: WorkingDays) -> date:
    """The first day an unreported action told to its lead on `told` may go above them."""
    day = told
    for _ in range(max(1, policy.grace_days)):
        day = days.on_or_after(day + timedelta(days=1))
    return day


def turned_red_on(action: ActionFacts, rag: RagPolicy) -> date | None:
    """The day the dates alone made the action Red (the day after its allowed slippage)."""
    if action.due is None or action.recurrence is not None or action.held:
        return None
    return action.due + timedelta(days=rag.red_after_overdue_days + 1)


def alert_day(
    action: ActionFacts, policy: EscalationPolicy, rag: RagPolicy, days: WorkingDays
) -> date | None:
    """When an action the dates made Red is alerted: the day it turned Red, or the day its
    lead's grace ended if later. None when planworker did not see it turn Red: it was
    already past its target when its lead was first told (a first run on an old plan)."""
    red = turned_red_on(action, rag)
    told = action.first_told
    if red is None or told is None or red < told:
        return None
    return max(red, _grace_ends(told, policy, days)) if action.rag is None else red


def _alerts_today(
    action: ActionFacts,
    effective: str,
    policy: EscalationPolicy,
    rag: RagPolicy,
    days: WorkingDays,
    as_of: date,
) -> tuple[bool, date | None]:
    """Whether the Red alert is due, and the day it was due (or went out)."""
    if not policy.red_alert or effective != "red":
        return False, None
    if action.rag == "red":
        # The lead's own word: alerted whenever it is first seen, which the ledger knows.
        return True, reported_alert_day(action, as_of)
    day = alert_day(action, policy, rag, days)
    return day is not None, day


def reported_alert_day(action: ActionFacts, as_of: date) -> date:
    """When the Red alert about a lead's Red report on its current target went out: the
    latest day the ledger holds it (a strategic lead named since is alerted later), or
    `as_of` when this run is the one to send it."""
    due = action.due or NO_DATE
    return next((day for target, day in action.red_alerts if target == due), as_of)


def period_start(as_of: date, every_days: int) -> date:
    """The first day of the escalation period holding `as_of`."""
    return as_of - timedelta(days=(as_of - EPOCH).days % every_days)


@frozen
class _Target:
    recipient: Recipient
    via: str


def _strategic_lead(action: ActionFacts, directory: Directory) -> _Target | str:
    if not action.strategic_lead:
        return f"work stream {action.work_stream_number} names no strategic lead"
    found = route_lead(action.strategic_lead, directory)
    if isinstance(found, Route):
        via = found.via
        label = via if via != action.strategic_lead else "strategic lead"
        return _Target(found.recipient, f"{label} for work stream {action.work_stream_number}")
    return found


def escalation_items(
    actions: Iterable[ActionFacts],
    directory: Directory,
    policy: EscalationPolicy,
    reminders: ReminderPolicy,
    rag: RagPolicy,
    days: WorkingDays,
    as_of: date,
    *,
    wait: frozenset[str] = frozenset(),
) -> Iterator[tuple[Recipient, Item]]:
    """Every (recipient, item) of levels 2 and 3 due on `as_of`, ledger not yet consulted.
    `wait`: addresses that hear nothing today (board members on a digest morning)."""
    if not days.is_working(as_of):
        return
    maker = ItemMaker(directory, reminders, as_of, rag)
    admin = Recipient(directory.administrator.email, directory.administrator.name)
    board = [_Target(Recipient(p.email, p.name), "project board") for p in directory.board]
    period = period_start(as_of, policy.repeat_every_days)
    # One route and one wording per strategic lead and rule, not per action: a strategic
    # lead's items at 1M are tens of thousands, each holding them.
    leads: dict[tuple[str, int], _Target | str] = {}
    said_once: dict[str, str] = {}
    for action in actions:
        if action.state in NOT_REMINDED or not leads_had_their_chance(action, policy, days, as_of):
            continue
        status = assess(action.progress(), rag, as_of)
        colour = LABEL[status.effective]
        key = (action.strategic_lead, action.work_stream_number)
        lead = leads.get(key)
        if lead is None:
            lead = leads[key] = _strategic_lead(action, directory)
        found: list[tuple[Recipient, Item]] = []
        alert, alerted_on = _alerts_today(action, status.effective, policy, rag, days, as_of)
        if alert:
            stage = Stage("red_alert", 0, action.due or NO_DATE, as_of)
            said = "reported Red by its lead" if action.rag == "red" else "it has turned Red"
            whom = (
                "the strategic lead and the board are"
                if policy.red_alert_to_board
                else ("the strategic lead is told at once; the board reads it in its next digest")
            )
            targets = [lead, *board] if policy.red_alert_to_board else [lead]
            rule = f"{said}: {whom}" + (" told at once" if policy.red_alert_to_board else "")
            found += _items(action, stage, maker, targets, admin, rule, "turned_red", period)
        late = status.days_overdue > policy.overdue_days
        # The alert stands for this period's escalation: one entry per action. To the
        # administrator, for want of a strategic lead, it comes again every period.
        covered = alert and (isinstance(lead, str) or _alerted_in(period, alerted_on, policy, days))
        escalate = ORDER[status.effective] >= ORDER["amber"] or late
        if policy.to_strategic_leads and escalate and not covered:
            stage = Stage("escalation", ORDER[status.effective], period, as_of)
            why = colour if not late else f"{colour}, overdue by {status.days_overdue} days"
            rule = (
                f"escalated to the strategic lead ({why}); repeated every "
                f"{policy.repeat_every_days} days while it stays so"
            )
            rule = said_once.setdefault(rule, rule)
            # Not repeated to a strategic lead who acknowledged it as it is now.
            if not (isinstance(lead, _Target) and acknowledged(action, lead.recipient.email)):
                found += _items(action, stage, maker, [lead], admin, rule, "escalated", period)
        yield from ((r, i) for r, i in found if r.email.lower() not in wait)


def _alerted_in(
    period: date, alerted_on: date | None, policy: EscalationPolicy, days: WorkingDays
) -> bool:
    """Whether an alert dated `alerted_on` went out in the period starting `period`: on the
    first working day from its date (a Saturday's, on Monday)."""
    if alerted_on is None:
        return False
    return period == period_start(days.on_or_after(alerted_on), policy.repeat_every_days)


def acknowledged(action: ActionFacts, email: str) -> bool:
    """Whether `email` acknowledged the action and it has not changed since (RAG, state,
    target or a new note): the weekly escalation to them is then not repeated."""
    return stands_for(action.acknowledged, action.snapshot(), email)


def board_waits(directory: Directory, digest_morning: bool) -> frozenset[str]:
    """Who hears of escalations the next working day: on a digest morning, the board
    members (their digest that morning lists what changed)."""
    if not digest_morning:
        return frozenset()
    return frozenset(p.email.lower() for p in directory.board)


def _items(
    action: ActionFacts,
    stage: Stage,
    maker: ItemMaker,
    targets: list[_Target | str],
    admin: Recipient,
    rule: str,
    section: Section,
    period: date,
) -> Iterator[tuple[Recipient, Item]]:
    seen: set[str] = set()
    for target in targets:
        if isinstance(target, str):
            # Once a period, like the escalation itself, not every day until it is fixed.
            key = item_key(admin.email, action.id, stage, unassigned_on=period)
            item = maker.item(
                action,
                stage,
                key=key,
                section="unassigned",
                via=(),
                reason=target,
                shown_due=action.due,
            )
            yield admin, replace(item, rule=rule)
            continue
        email = target.recipient.email.lower()
        if email in seen:  # the strategic lead may sit on the board too
            continue
        seen.add(email)
        key = item_key(email, action.id, stage)
        item = maker.item(
            action,
            stage,
            key=key,
            section=section,
            via=(target.via,),
            shown_due=action.due,
        )
        yield target.recipient, replace(item, rule=rule)
