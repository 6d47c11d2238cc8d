"""Who may update what (pure): the actions whose lead reminders go to an address, by the
same routing as the reminders themselves (rules/routing.py: a deputy or line manager
covering a vacant post included), so a link allows exactly what the recipient is reminded
about."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from worker.contacts import Directory
from worker.rules.reminders import Schedule
from worker.rules.routing import Route, route_lead


@dataclass(frozen=True, slots=True)
class Routed:
    """The actions routed to one address: ref -> how (the roles, or "deputy for ...")."""

    email: str  # lower-case
    name: str  # the person's name as the directory gives it; the address when unknown
    refs: dict[str, tuple[str, ...]]


def routed_refs(actions: Iterable[Schedule], directory: Directory, email: str) -> Routed:
    """The actions among `actions` whose lead reminders go to `email` (any case)."""
    wanted = email.strip().lower()
    # A plan names the same few roles over and over: each is looked up once.
    routes: dict[str, Route | str] = {}
    name = ""
    refs: dict[str, tuple[str, ...]] = {}
    for action in actions:
        via: list[str] = []
        for lead in action.leads:
            route = routes.get(lead)
            if route is None:
                route = routes[lead] = route_lead(lead, directory)
            if isinstance(route, Route) and route.recipient.email.lower() == wanted:
                via.append(route.via)
                name = name or route.recipient.name
        if via:
            refs[action.ref] = tuple(via)
    return Routed(wanted, name or wanted, refs)
