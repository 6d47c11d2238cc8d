"""Who receives an action's reminder (pure): lead role -> person, with fallbacks.

A lead role with an address in the contacts directory is reminded itself. A vacant role (no
address) falls back to its deputy, then to its line manager (each only if that role has an
address; the chain is not followed further, so a reader can always tell why they got it).
When no one is found -- the lead is not in the directory, the post and its fallbacks are
vacant, or the action names no lead at all -- the action goes to the plan administrator's
"no one to remind" section, so it is never dropped silently.
"""

from __future__ import annotations

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
