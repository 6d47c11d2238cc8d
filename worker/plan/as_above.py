"""Dependencies written "As above" (pure): the row they refer to, and what to show instead.

The plan's authors write "As above", "as above.", "Ditto" or "Same as above" in a row's
Dependencies cell to mean the dependencies of the row above. A reminder is read on its own,
where "above" means nothing, so the text shown names the row and repeats its dependencies:
"As above (WS4-01): Workstream 1 action 4."

The row referred to is the previous action of the same key deliverable in the same work
stream (the document's merged Key Del cells group the rows), else the row directly above in
the work stream; a referred row that itself says "As above" is followed further up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_AS_ABOVE = re.compile(
    r"(?:as|same\s+as|see)\s+(?:above|before|previous(?:\s+(?:row|action))?)|ditto",
    re.IGNORECASE,
)
_NOTHING = "none given"


def says_as_above(text: str) -> bool:
    """Whether a Dependencies text only refers to the row above."""
    return _AS_ABOVE.fullmatch(text.strip().rstrip(".").strip()) is not None


@dataclass(frozen=True, slots=True)
class Row:
    """One action of a work stream, as this rule needs it."""

    id: int
    ref: str
    key_deliverable: str
    dependencies_text: str


def resolve(rows: Sequence[Row]) -> dict[int, str]:
    """For each row of one work stream (in document order) whose Dependencies say "As above",
    the text to show instead, by action id. A row with nothing above it keeps its text."""
    resolved: dict[int, str] = {}
    # For each row so far, the row whose dependencies it stands for (itself, unless "As
    # above"; None when there was nothing above to refer to).
    source: list[Row | None] = []
    last_in_group: dict[str, int] = {}
    for index, row in enumerate(rows):
        found: Row | None = row
        if says_as_above(row.dependencies_text):
            above = last_in_group.get(row.key_deliverable, index - 1)
            found = source[above] if above >= 0 else None
            if found is not None:
                what = " ".join(found.dependencies_text.split()) or _NOTHING
                resolved[row.id] = f"{row.dependencies_text.strip()} ({found.ref}): {what}"
        source.append(found)
        last_in_group[row.key_deliverable] = index
    return resolved


def resolve_streams(streams: Iterable[Sequence[Row]]) -> dict[int, str]:
    """`resolve` over several work streams."""
    found: dict[int, str] = {}
    for rows in streams:
        found.update(resolve(rows))
    return found
