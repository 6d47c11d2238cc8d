"""The web page's database side: the actions routed to a recipient (read set-wise: the
plan's schedule, then the facts of their own actions) and recording a report through the
same code as `planworker status set`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from worker.contacts import Directory
from worker.plan.data import Rag, State
from worker.rules.reminders import CLOSED, ActionFacts
from worker.store.facts import load_facts, load_schedule, of_ids, plan_actions
from worker.store.status import Applied, StatusUpdate, apply_updates
from worker.web.access import Routed, routed_refs

# The source recorded in the status history for a report made on the page.
SOURCE = "web"
# The longest note the page accepts (a status note, not a report).
MAX_NOTE = 2000


def state_choices() -> list[State]:
    """The states a lead may report: every state but dropped (an administrator's decision);
    a state the plan model gains (on hold) is offered with no change here."""
    return [state for state in State if state is not State.DROPPED]


@dataclass(frozen=True, slots=True)
class LeadPage:
    """What a lead's page shows: who they are and their open actions."""

    routed: Routed
    actions: list[ActionFacts]


def lead_page(
    session: Session, plan_id: int, directory: Directory, email: str, as_of: date
) -> LeadPage:
    """The open actions routed to `email`, with their dates, RAG, state and latest note."""
    schedule = load_schedule(session, plan_actions(plan_id))
    routed = routed_refs(schedule, directory, email)
    ids = [s.id for s in schedule if s.ref in routed.refs and s.state not in CLOSED]
    facts = load_facts(session, of_ids(ids), plan_id, as_of) if ids else []
    return LeadPage(routed, facts)


def lead_routes(session: Session, plan_id: int, directory: Directory, email: str) -> Routed:
    """Every current action of the plan (open or closed, so that resubmitting a "completed"
    report is not refused) routed to `email`."""
    return routed_refs(load_schedule(session, plan_actions(plan_id)), directory, email)


@dataclass(frozen=True, slots=True)
class Report:
    """One report from the page's form, checked."""

    ref: str
    rag: Rag | None
    state: State | None
    note: str


def record(session: Session, plan_id: int, routed: Routed, report: Report, at: datetime) -> Applied:
    """Record a report by the recipient, as `status set` does (history, source "web"); the
    same report again records nothing. The caller has checked the action is routed to them."""
    update = StatusUpdate(
        report.ref, report.rag, report.state, report.note, routed.name, at, SOURCE
    )
    result = apply_updates(session, plan_id, [update], ["the form"], "the web page")
    session.commit()
    return result
