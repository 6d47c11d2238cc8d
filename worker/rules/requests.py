"""Status-return requests (pure): when in the board's weekly cycle a lead is asked for a
return, when one who has not answered is chased, and who is asked about what.

A cycle ends on the board digest's morning. Its request day is a set number of working days
before that, so returns are in before the digest is written; its chase day a set number of
working days after the request day. A lead is asked once per cycle and chased at most once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from worker.contacts import Directory
from worker.rules.digest import Recipient
from worker.rules.reminders import CLOSED, Schedule
from worker.rules.routing import Route, route_lead
from worker.rules.workdays import WorkingDays

# "noreturn": a strategic lead's notice, after the digest, of the leads in their work
# streams who were asked and chased and still sent no return.
Step = Literal["request", "chase", "noreturn"]
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Cycle:
    """One week's round of returns, named by the digest it feeds."""

    digest: date  # the board digest's morning that ends it (also its ledger date)
    request: date  # the working day leads are asked
    chase: date  # the working day those who have not returned are chased


def working_days_from(day: date, count: int, days: WorkingDays) -> date:
    """The working day `count` working days after `day` (before it when negative)."""
    step = ONE_DAY if count >= 0 else -ONE_DAY
    left = abs(count)
    while left:
        day += step
        if days.is_working(day):
            left -= 1
    return day


def cycle_of(
    as_of: date, digest_weekday: int, days_before: int, chase_after: int, days: WorkingDays
) -> Cycle:
    """The cycle `as_of` falls in: the one ending at the next digest morning after it (the
    digest's own morning starts the next cycle)."""
    ahead = (digest_weekday - as_of.weekday()) % 7 or 7
    digest = as_of + timedelta(days=ahead)
    request = working_days_from(digest, -days_before, days)
    return Cycle(digest, request, working_days_from(request, chase_after, days))


def last_cycle(
    as_of: date, digest_weekday: int, days_before: int, chase_after: int, days: WorkingDays
) -> Cycle:
    """The cycle whose digest was in the week up to `as_of` (its own morning included): the
    one whose strategic leads hear of missing returns."""
    return cycle_of(as_of - timedelta(days=7), digest_weekday, days_before, chase_after, days)


def no_returns(
    chased: Iterable[tuple[str, int]],
    back: set[str],
    actions: Mapping[int, Schedule],
    directory: Directory,
) -> dict[str, tuple[Recipient, dict[str, list[int]]]]:
    """Strategic lead (lower-case address) -> (them, lead address -> action ids): the leads
    chased who still sent no return, under the strategic lead of each action's work stream.
    A strategic lead is not told about themselves; one with no address is not told."""
    found: dict[str, tuple[Recipient, dict[str, list[int]]]] = {}
    for lead_email, action_id in sorted(chased):
        action = actions.get(action_id)
        if lead_email in back or action is None or action.state in CLOSED:
            continue
        role = directory.find(action.strategic_lead) if action.strategic_lead else None
        if role is None or not role.email or role.email.lower() == lead_email:
            continue
        who = Recipient(role.email, role.person or role.name)
        leads = found.setdefault(role.email.lower(), (who, {}))[1]
        leads.setdefault(lead_email, []).append(action_id)
    return found


def step_due(as_of: date, cycle: Cycle) -> Step | None:
    """What the run on `as_of` sends: requests from the request day, chasers from the chase
    day, nothing before the request day. The ledger makes each once per lead per cycle."""
    if as_of >= cycle.chase:
        return "chase"
    if as_of >= cycle.request:
        return "request"
    return None


@dataclass(frozen=True, slots=True)
class Asked:
    """One lead to ask for a return and the open actions routed to them, by id."""

    recipient: Recipient
    action_ids: tuple[int, ...]


def leads_to_ask(actions: Iterable[Schedule], directory: Directory) -> list[Asked]:
    """Every lead with open actions, by the reminders' routing (a deputy covering a vacant
    post included), in address order; actions that reach no one are the administrator's
    (the reminders' "no one to remind")."""
    routes: dict[str, Route | str] = {}
    found: dict[str, tuple[Recipient, list[int]]] = {}
    for action in actions:
        if action.state in CLOSED:
            continue
        for lead in action.leads:
            route = routes.get(lead)
            if route is None:
                route = routes[lead] = route_lead(lead, directory)
            if not isinstance(route, Route):
                continue
            email = route.recipient.email.lower()
            ids = found.setdefault(email, (route.recipient, []))[1]
            # Two of an action's leads may reach one person: listed once. (Each action
            # comes once, so a repeat can only be the last id.)
            if not ids or ids[-1] != action.id:
                ids.append(action.id)
    return [Asked(found[e][0], tuple(found[e][1])) for e in sorted(found)]


def known(directory: Directory, email: str) -> Recipient | None:
    """The directory's person with this address (any case): the administrator, a board
    member or a post's holder; None when no one has it."""
    wanted = email.strip().lower()
    if not wanted:
        return None
    for person in (directory.administrator, *directory.board):
        if person.email.lower() == wanted:
            return Recipient(person.email, person.name)
    for role in directory.roles.values():
        if role.email and role.email.lower() == wanted:
            return Recipient(role.email, role.person or role.name)
    return None


def ledger_key(step: Step, email: str, action_id: int, cycle: Cycle) -> str:
    """The ledger key of one action in one lead's request or chaser of a cycle."""
    return f"{step}|{email.lower()}|{action_id}|{cycle.digest.isoformat()}"
