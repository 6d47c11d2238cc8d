"""Who may update what (pure): the actions whose lead reminders go to an address, by the
same routing as the reminders themselves (a deputy or line manager covering a vacant post
included), so a link allows exactly what the recipient is reminded about."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from worker.contacts import Directory
from worker.rules.reminders import Schedule, _Routes


@dataclass(frozen=True, slots=True)
class Routed:
    """The actions routed to one address: ref -> how (the role, or "deputy for ...")."""

    email: str  # lower-case
    name: str  # the person's name as the directory gives it; the address when unknown
    refs: dict[str, tuple[str, ...]]


def routed_refs(actions: Iterable[Schedule], directory: Directory, email: str) -> Routed:
    """The actions among `actions` whose lead reminders go to `email` (any case)."""
    wanted = email.strip().lower()
    routes = _Routes(directory)
    name = ""
    refs: dict[str, tuple[str, ...]] = {}
    for action in actions:
        for address, recipient, via in routes.of(action.leads).people:
            if address == wanted:
                refs[action.ref] = via
                name = name or recipient.name
    return Routed(wanted, name or wanted, refs)
