"""What one action's values may hold: the sizes of the database's columns, and no character
a workbook cannot hold. The CSV/XLSX and YAML readers check each action read against these
and name the place.
"""

from __future__ import annotations

from worker.io.cells import unwritable_character
from worker.plan.data import ActionData
from worker.plan.leads import role_key

# Sizes of the database columns (worker/models.py): a longer value cannot be stored.
MAX_REF = 64  # action IDs, row references, key deliverables
MAX_ROLE = 255  # lead role keys
# Work streams and key deliverables are numbered 1..9999.
MAX_NUMBER = 9999


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def action_problems(action: ActionData) -> list[tuple[str, str]]:
    """(field, reason) for each value of a read action that the database cannot hold;
    the CSV/XLSX and YAML readers name the place."""
    found: list[tuple[str, str]] = []
    # One item of a row split into one action per item: its ID is the row's ID plus ".n".
    split = action.ref.startswith(action.row_ref + ".")
    if "\n" in action.ref or "\r" in action.ref:
        found.append(("id", f"the ID {_shown(action.ref)} must be on one line"))
    if len(action.ref) > MAX_REF:
        hint = " (the row is split into one action per item: '.n' is added)" if split else ""
        reason = f"the ID {_shown(action.ref)} is longer than {MAX_REF} characters{hint}"
        found.append(("id", reason))
    # The row reference is reported only where it is not the ID itself.
    own_row = not split and action.row_ref != action.ref
    for field, value in (
        ("row", action.row_ref if own_row else ""),
        ("key_deliverable", action.key_deliverable),
    ):
        if len(value) > MAX_REF:
            found.append((field, f"{_shown(value)} is longer than {MAX_REF} characters"))
    for role in action.lead_roles:
        if len(role_key(role)) > MAX_ROLE:
            reason = f"the lead role {_shown(role)} is longer than {MAX_ROLE} characters"
            found.append(("lead_roles", reason))
    found += _control_problems(action)
    return found


def _control_problems(action: ActionData) -> list[tuple[str, str]]:
    # A control character cannot be exported to XLSX, and would reach terminals and emails.
    texts = {
        "id": action.ref,
        "row": action.row_ref,
        "key_deliverable": action.key_deliverable,
        "action": action.action,
        "description": action.description,
        "lead": action.lead,
        "lead_roles": "".join(action.lead_roles),
        "dependencies": action.dependencies,
        "start": action.start,
        "target": action.target,
    }
    found: list[tuple[str, str]] = []
    for field, text in texts.items():
        code = unwritable_character(text)
        if code is not None:
            found.append((field, f"holds the control character {code}; remove it"))
    return found
