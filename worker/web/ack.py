"""Acknowledgements on the web page: which escalated actions a strategic lead or board member
hears about (and so may acknowledge), and recording one. A strategic lead may acknowledge
the actions of the work streams they are strategic lead for (by the same routing as the
escalations, a deputy covering a vacancy included); a board member any action of the plan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from worker.contacts import Directory
from worker.rules.acknowledge import Acknowledged, standing
from worker.rules.escalation import EscalationPolicy
from worker.rules.rag import ORDER, RagPolicy, assess
from worker.rules.reminders import NOT_REMINDED, ActionFacts
from worker.rules.routing import Route, route_lead
from worker.store.acknowledgements import record_acknowledgement
from worker.store.facts import Scope, load_facts

# The longest acknowledgement note kept (a line or two for the board, not a report).
MAX_ACK_NOTE = 1000


@dataclass(frozen=True, slots=True)
class Acknowledger:
    """Who a link's address is, for acknowledging: their name, and what they may acknowledge
    (the work streams they are strategic lead for, or every action as a board member)."""

    email: str  # lower-case
    name: str
    board: bool
    streams: frozenset[int]

    def may(self, action: ActionFacts) -> bool:
        return self.board or action.work_stream_number in self.streams

    @property
    def anyone(self) -> bool:
        return self.board or bool(self.streams)


def acknowledger(actions: list[ActionFacts], directory: Directory, email: str) -> Acknowledger:
    """What `email` (any case) may acknowledge among `actions`."""
    wanted = email.strip().lower()
    member = next((p for p in directory.board if p.email.lower() == wanted), None)
    name = member.name if member else ""
    streams: set[int] = set()
    routes: dict[str, Route | str] = {}
    for action in actions:
        lead = action.strategic_lead
        if not lead:
            continue
        route = routes.get(lead)
        if route is None:
            route = routes[lead] = route_lead(lead, directory)
        if isinstance(route, Route) and route.recipient.email.lower() == wanted:
            streams.add(action.work_stream_number)
            name = name or route.recipient.name
    return Acknowledger(wanted, name or wanted, member is not None, frozenset(streams))


def escalated(action: ActionFacts, rag: RagPolicy, policy: EscalationPolicy, as_of: date) -> bool:
    """An open action its strategic lead hears about each week: Amber or Red (reported or by
    its dates), or overdue by more than the escalation's `overdue_days`."""
    if action.state in NOT_REMINDED:
        return False
    status = assess(action.progress(), rag, as_of)
    return ORDER[status.effective] >= ORDER["amber"] or status.days_overdue > policy.overdue_days


@dataclass(frozen=True, slots=True)
class AckPage:
    who: Acknowledger
    actions: list[tuple[ActionFacts, Acknowledged | None]]  # with their own standing one


def ack_page(
    session: Session,
    plan_id: int,
    directory: Directory,
    email: str,
    rag: RagPolicy,
    policy: EscalationPolicy,
    as_of: date,
) -> AckPage:
    """The escalated actions `email` may acknowledge, each with their acknowledgement that
    still stands (None when there is none)."""
    facts = load_facts(
        session, Scope().condition(plan_id, as_of), plan_id, as_of, acknowledged=True
    )
    who = acknowledger(facts, directory, email)
    listed = [a for a in facts if who.may(a) and escalated(a, rag, policy, as_of)]
    return AckPage(who, [(a, own_standing(a, who.email)) for a in listed])


def own_standing(action: ActionFacts, email: str) -> Acknowledged | None:
    return next(
        (a for a in standing(action.acknowledged, action.snapshot()) if a.email == email), None
    )


def acknowledge(
    session: Session, action: ActionFacts, who: Acknowledger, note: str, at: datetime
) -> bool:
    """Record `who`'s acknowledgement of the action as it is now; False (nothing recorded)
    when the same note already stands (a resubmitted form)."""
    mine = own_standing(action, who.email)
    if mine is not None and mine.note == note:
        return False
    ack = Acknowledged(who.email, who.name, at, note, action.snapshot())
    record_acknowledgement(session, action.id, ack)
    session.commit()
    return True
