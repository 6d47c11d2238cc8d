"""Who receives an action's reminder (pure): lead role -> person, with fallbacks.

A lead role with an address in the contacts directory is reminded itself. A vacant role (no
address) falls back to its deputy, then to its line manager (each only if that role has an
address; the chain is not followed further, so a reader can always tell why they got it).
When no one is found -- the lead is not in the directory, the post and its fallbacks are
vacant, or the action names no lead at all -- the action goes to the plan administrator's
"no one to remind" section, so it is never dropped silently. `Routes` routes each role, and
each set of an action's leads, once for all the actions the rules are given at a time.
"""

from __future__ import annotations

from collections.abc import Iterator

from worker.contacts import Directory, Role
from worker.frozen import frozen
from worker.rules.digest import Contact, Recipient


@frozen
class Route:
    recipient: Recipient
    via: str  # how it reached them, shown in the message: the role, or "deputy for ..."


def _recipient(role: Role) -> Recipient:
    return Recipient(role.email, role.person or role.name)


def route_lead(name: str, directory: Directory) -> Route | str:
    """The route for one lead as the plan names it, or why there is none."""
    role = directory.find(name)
    if role is None:
        return f"{name!r} is not in the contacts directory"
    if role.email:
        return Route(_recipient(role), name)
    for field, label in (("deputy", "deputy for"), ("line_manager", "line manager of")):
        other = directory.roles.get(getattr(role, field))
        if other is not None and other.email:
            return Route(_recipient(other), f"{label} {name} (post vacant)")
    return f"{name!r} is vacant and has no deputy or line manager with an address"


NO_LEAD = "no lead is named for this action"


def contact_for(name: str, directory: Directory) -> Contact:
    """A person to name in a message (a strategic lead), with an address when known."""
    role = directory.find(name)
    return Contact(name, role.email if role else "")


@frozen
class People:
    """Where one set of leads routes: each person once, with the roles that reached them."""

    # Lower-case email, recipient, how it reached them, and the action's other leads (those
    # that did not reach them).
    people: tuple[tuple[str, Recipient, tuple[str, ...], tuple[str, ...]], ...]
    unassigned: str  # why some lead reached no one ("" when all did)


class Routes:
    """Where each set of leads routes, each role looked up once for the actions the rules
    are given at a time (a chunk of a run): a plan names the same few roles over and over."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.admin = Recipient(directory.administrator.email, directory.administrator.name)
        self._leads: dict[str, Route | str] = {}
        # Each distinct set of leads routed once: actions name the same sets over and over.
        self._people: dict[tuple[str, ...], People] = {}

    def _lead(self, name: str) -> Route | str:
        found = self._leads.get(name)
        if found is None:
            found = self._leads[name] = route_lead(name, self.directory)
        return found

    def of(self, leads: tuple[str, ...]) -> People:
        found = self._people.get(leads)
        if found is None:
            found = self._people[leads] = self._route(leads)
        return found

    def _route(self, leads: tuple[str, ...]) -> People:
        if not leads:
            return People((), NO_LEAD)
        # A person holding several of the action's roles gets it once, naming each role.
        people: dict[str, tuple[Recipient, list[str], list[str]]] = {}
        unassigned: list[str] = []
        for name in leads:
            route = self._lead(name)
            if isinstance(route, str):
                unassigned.append(route)
                continue
            email = route.recipient.email.lower()
            held = people.setdefault(email, (route.recipient, [], []))
            held[1].append(route.via)
            held[2].append(name)
        return People(
            tuple(
                (e, r, tuple(via), tuple([n for n in leads if n not in names]))
                for e, (r, via, names) in people.items()
            ),
            "; ".join(unassigned),
        )

    def summary_readers(
        self, strategic_lead: str, work_stream: int
    ) -> Iterator[tuple[str, Recipient, tuple[str, ...]]]:
        """Who reads the weekly summary of an action: the administrator and its work
        stream's strategic lead (when the directory reaches them), each once."""
        yield self.admin.email.lower(), self.admin, ()
        route = self._lead(strategic_lead) if strategic_lead else None
        if isinstance(route, Route) and route.recipient.email.lower() != self.admin.email.lower():
            label = route.via if route.via != strategic_lead else "strategic lead"
            via = f"{label} for work stream {work_stream}"
            yield route.recipient.email.lower(), route.recipient, (via,)
