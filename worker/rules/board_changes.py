"""What changed for the board since its previous digest (pure): each action's RAG and state
as a digest saw it, and the moves between two digests the board cares about."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from worker.rules.board import CHANGE_KINDS, Change, ChangeKind, RagName, RagView
from worker.rules.rag import ORDER


@dataclass(frozen=True, slots=True)
class Seen:
    """An action as a digest saw it: what the next digest compares against."""

    rag: RagName
    state: str


def seen_in(view: RagView) -> Seen:
    return Seen(view.effective, view.state)


def change_of(before: Seen | None, now: Seen) -> ChangeKind | None:
    """How an action moved between two digests, if in a way the board cares about."""
    was = before or Seen("none", "not started")  # new since the last digest
    if now.state == "completed":
        return "completed" if was.state != "completed" else None
    if now.rag == "red" and was.rag != "red":
        return "newly_red"
    if now.rag == "amber" and was.rag not in ("amber", "red"):
        return "newly_amber"
    if was.rag in ("amber", "red") and ORDER[now.rag] < ORDER[was.rag] and now.rag != "none":
        return "recovered"
    return None


def change_for(before: Seen | None, view: RagView) -> Change | None:
    """How this action moved since the digest that saw it as `before`, if it matters."""
    kind = change_of(before, seen_in(view))
    if kind is None:
        return None
    return Change(
        kind=kind,
        ref=view.ref,
        work_stream_number=view.work_stream_number,
        action_text=view.action_text or view.description,
        before=before.rag if before else "none",
        after=view.effective,
        state=view.state,
    )


def changes_since(before: Mapping[int, Seen], views: Iterable[RagView]) -> tuple[Change, ...]:
    """The moves since the digest that saw `before`, in CHANGE_KINDS order (plan order within
    a kind)."""
    changes = [change for view in views if (change := change_for(before.get(view.action_id), view))]
    changes.sort(key=lambda c: CHANGE_KINDS.index(c.kind))
    return tuple(changes)
