"""Progress over time (pure): how many actions were completed, Green, Amber, Red and No return
at the end of each week, rebuilt from the status history and judged by the same RAG rules
as the board digest (rules/rag.py) as of each week's end.

Each history row carries the action's RAG and state before and after it, so an action's
status on a day is the "after" of its last row on or before that day, the "before" of its
first row when all its rows are later, and its current status when it has none. Dates
(target, start) are today's: a re-baselined target is judged by its new date throughout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal, cast

from worker.rules.board import RagName
from worker.rules.rag import Progress, RagPolicy, assess

Category = Literal["completed", "green", "amber", "red", "none"]
# Bottom to top of a stacked bar: the finished work first, the unknown last.
CATEGORIES: tuple[Category, ...] = ("completed", "green", "amber", "red", "none")
LABELS: dict[Category, str] = {
    "completed": "Completed",
    "green": "Green",
    "amber": "Amber",
    "red": "Red",
    "none": "No return",
}
# The chart's default span: a quarter, enough to see a trend, few enough bars for a phone.
WEEKS = 13


@dataclass(frozen=True, slots=True)
class Change:
    """One status_history row of an action: the day it was made (in the plan's time zone)
    and the RAG and state before and after it (RAG None: no return)."""

    action_id: int
    day: date
    rag_from: str | None
    rag_to: str | None
    state_from: str | None
    state_to: str | None


@dataclass(frozen=True, slots=True)
class Week:
    """The count of actions in each category at the end of the day `end`."""

    end: date
    counts: Mapping[Category, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def week_ends(as_of: date, weeks: int, first: date | None) -> list[date]:
    """The days the chart counts on, oldest first: `as_of` and the same weekday in each of
    the `weeks - 1` weeks before it, from the week holding `first` (the first history row)
    on: no bars for weeks before the plan had any history."""
    ends = [as_of - timedelta(weeks=n) for n in range(weeks)]
    kept = [end for end in ends if first is None or end >= first] or [as_of]
    return sorted(kept)


def status_on(now: Progress, changes: Sequence[Change], day: date) -> Progress:
    """The action's reported RAG and state at the end of `day`; `changes` are its history
    rows in the order they were made."""
    before = [c for c in changes if c.day <= day]
    if before:
        rag, state = before[-1].rag_to, before[-1].state_to
    elif changes:
        rag, state = changes[0].rag_from, changes[0].state_from
    else:
        return now
    return replace(now, reported=cast(RagName, rag or "none"), state=state or now.state)


def category(progress: Progress, policy: RagPolicy, day: date) -> Category | None:
    """Where an action stands on `day`: completed, else its effective RAG; None when dropped
    (no longer part of the plan's delivery, so not counted)."""
    if progress.state == "dropped":
        return None
    if progress.state == "completed":
        return "completed"
    return assess(progress, policy, day).effective


def weekly_series(
    actions: Mapping[int, Progress],
    changes: Sequence[Change],
    policy: RagPolicy,
    as_of: date,
    weeks: int = WEEKS,
) -> list[Week]:
    """The counts per week end, oldest first, of `actions` (id -> its progress today);
    `changes` are the plan's history rows in the order they were made."""
    by_action: dict[int, list[Change]] = {}
    for change in changes:
        by_action.setdefault(change.action_id, []).append(change)
    first = min((c.day for c in changes if c.action_id in actions), default=None)
    series = []
    for end in week_ends(as_of, weeks, first):
        counts: dict[Category, int] = dict.fromkeys(CATEGORIES, 0)
        for action_id, now in actions.items():
            found = category(status_on(now, by_action.get(action_id, ()), end), policy, end)
            if found is not None:
                counts[found] += 1
        series.append(Week(end, counts))
    return series
