"""What changed for the board since its previous digest (pure): each action's RAG and state
as a digest saw it, and the moves between two digests the board cares about."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from worker.rules.board import CHANGE_KINDS, Change, ChangeKind, RagName, RagView
from worker.rules.rag import ORDER


@dataclass(frozen=True, slots=True)
class Seen:
    """An action as a digest saw it: what the next digest compares against."""

    rag: RagName
    state: str


class SeenLog:
    """What a digest saw of every action, in the order given, for the next digest to
    compare against. Held as an array of ids and one of indexes into the few distinct
    values: as a dict of Seen, a 1M-action plan's took about 80 MB."""

    def __init__(self) -> None:
        self._ids = array("q")
        self._codes = array("I")
        self._values: list[Seen] = []
        self._code: dict[Seen, int] = {}

    def update(self, seen: Mapping[int, Seen]) -> None:
        for action_id, value in seen.items():
            code = self._code.get(value)
            if code is None:
                code = self._code[value] = len(self._values)
                self._values.append(value)
            self._ids.append(action_id)
            self._codes.append(code)

    def items(self) -> Iterator[tuple[int, Seen]]:
        values = self._values
        return ((a, values[c]) for a, c in zip(self._ids, self._codes, strict=True))

    def __len__(self) -> int:
        return len(self._ids)


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
