"""Turning table rows into actions.

A row may list several items per cell. We split it into one action per item only when the
items clearly line up: the descriptions and the target dates have the same count n > 1, and
the leads and start dates each hold 0, 1 (shared by all) or n items. Action and dependency
texts are context: each item takes its own where they line up, else all of them. Otherwise
the row stays one action that carries all its leads and dates; it is due on the latest
target date (see due.py). docs/plan-data.md explains why; `plan check` lists the rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from worker.plan.data import ActionData, Row

# Items are paragraphs: a blank line separates them, so an item may itself hold line breaks
# (a bulleted list). Date items never hold line breaks, so any line break separates them.
ITEM_SEPARATOR = "\n\n"


@dataclass(frozen=True, slots=True)
class Shape:
    """How a row became actions, for `plan check`."""

    row_ref: str
    split: bool
    counts: dict[str, int]

    @property
    def multi_item(self) -> bool:
        return any(n > 1 for n in self.counts.values())

    @property
    def several_dates(self) -> bool:
        return self.counts["target dates"] > 1 or self.counts["start dates"] > 1

    def describe(self) -> str:
        if self.split:
            listed = ", ".join(f"{n} {name}" for name, n in self.counts.items() if n > 1)
            return f"split into one action per item ({listed})"
        # The counts that decide: descriptions and target dates must match, leads and starts fit.
        deciding = ("descriptions", "leads", "start dates", "target dates")
        listed = ", ".join(f"{self.counts[name]} {name}" for name in deciding if self.counts[name])
        return f"kept whole ({listed} do not line up)"


def _counts(*cells: tuple[str, ...]) -> dict[str, int]:
    names = ("actions", "descriptions", "leads", "dependencies", "start dates", "target dates")
    return {name: len(cell) for name, cell in zip(names, cells, strict=True)}


def row_shape(row: Row) -> Shape:
    counts = _counts(row.action, row.description, row.lead, row.dependencies, row.start, row.target)
    n = counts["descriptions"]
    owners = (counts["leads"], counts["start dates"])
    split = n > 1 and counts["target dates"] == n and all(c in (0, 1, n) for c in owners)
    return Shape(row.ref, split, counts)


def _pick(items: tuple[str, ...], i: int, n: int) -> str:
    """The i-th of n items, or the shared single item, or all items joined."""
    if len(items) == n:
        return items[i]
    return ITEM_SEPARATOR.join(items)


def _flat_roles(groups: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for group in groups:
        for role in group:
            seen.setdefault(role.casefold(), role)
    return tuple(seen.values())


def _whole(row: Row) -> ActionData:
    return ActionData(
        ref=row.ref,
        row_ref=row.row_ref or row.ref,
        work_stream=row.work_stream,
        key_deliverable=row.key_deliverable,
        action=ITEM_SEPARATOR.join(row.action),
        description=ITEM_SEPARATOR.join(row.description),
        lead=ITEM_SEPARATOR.join(row.lead),
        lead_roles=_flat_roles(row.lead_roles),
        dependencies=ITEM_SEPARATOR.join(row.dependencies),
        depends_on=row.depends_on,
        start=ITEM_SEPARATOR.join(row.start),
        target=ITEM_SEPARATOR.join(row.target),
        rag=row.rag,
        state=row.state,
    )


def _item(row: Row, i: int, n: int) -> ActionData:
    per_item = len(row.lead) == n and len(row.lead_roles) == n
    roles = row.lead_roles[i] if per_item else _flat_roles(row.lead_roles)
    return ActionData(
        ref=f"{row.ref}.{i + 1}",
        row_ref=row.row_ref or row.ref,
        work_stream=row.work_stream,
        key_deliverable=row.key_deliverable,
        action=_pick(row.action, i, n),
        description=row.description[i],
        lead=_pick(row.lead, i, n),
        lead_roles=tuple(dict.fromkeys(roles)),
        dependencies=_pick(row.dependencies, i, n),
        depends_on=row.depends_on,
        start=_pick(row.start, i, n),
        target=row.target[i],
        rag=row.rag,
        state=row.state,
    )


def split_row(row: Row) -> list[ActionData]:
    """The actions a row becomes: one per item where the items line up, else one."""
    shape = row_shape(row)
    if not shape.split:
        return [_whole(row)]
    n = shape.counts["descriptions"]
    return [_item(row, i, n) for i in range(n)]


def items(text: str) -> tuple[str, ...]:
    """The items of a multi-item text cell (inverse of joining with ITEM_SEPARATOR)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return tuple(part.strip() for part in re.split(r"\n[ \t]*\n", text) if part.strip())


def date_items(text: str) -> tuple[str, ...]:
    """The items of a date cell: one per line."""
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def target_items(text: str) -> tuple[str, ...]:
    """A date cell's items for display: one per line, each written once, on one line."""
    return tuple(dict.fromkeys(" ".join(item.split()) for item in date_items(text)))


def show_dates(text: str) -> str:
    """A date cell on one line with its items kept apart: "10th July 2012; May 2012"."""
    return "; ".join(target_items(text))


def action_shape(action: ActionData) -> Shape:
    """The item counts of a stored action, for showing rows that were kept whole."""
    counts = _counts(
        items(action.action),
        items(action.description),
        items(action.lead),
        items(action.dependencies),
        date_items(action.start),
        date_items(action.target),
    )
    return Shape(action.row_ref or action.ref, False, counts)
