"""Reading an action's start and target dates (pure).

A target cell may list several dates (a row kept whole carries all its dates, the
document's own sub-items): the action is due on the latest of them, and each distinct date
is a *milestone*, reminded on its own. Start dates are read at the start of a month or
season, so "May 2012" to "May 2012" is not a target before its start. "Review February
2013" is one dated review, not a cycle: only a text that states one ("every two months",
"quarterly") or "ongoing" makes an action recurring.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from worker.plan.dates import MonthDay, Precision, ReadDate, Recurrence, latest, read_date
from worker.plan.split import date_items

REVIEW = Recurrence("review")


@dataclass(frozen=True, slots=True)
class ActionDates:
    starts: tuple[ReadDate, ...]
    targets: tuple[ReadDate, ...]
    start: date | None
    due: date | None
    precision: Precision
    recurrence: Recurrence | None
    milestones: tuple[Milestone, ...] = ()

    @property
    def before_start(self) -> bool:
        """The final target reads as earlier than the start: a typing slip until an admin
        confirms it, so the dates alone never make it overdue or Red."""
        return self.due is not None and self.start is not None and self.due < self.start

    @property
    def first_due(self) -> date | None:
        """The earliest milestone's date (stored as actions.first_due_date), None without."""
        return self.milestones[0].due if self.milestones else None

    @property
    def readable(self) -> bool:
        return all(d.readable for d in (*self.starts, *self.targets))

    @property
    def unreadable(self) -> tuple[ReadDate, ...]:
        return tuple(d for d in (*self.starts, *self.targets) if not d.readable)


@dataclass(frozen=True, slots=True)
class Milestone:
    """One dated item of a target cell that holds several: reminded on its own date."""

    number: int  # 1 = the earliest
    count: int
    text: str  # the item as written (items on the same date joined with " / ")
    due: date
    precision: Precision

    @property
    def label(self) -> str:
        return f"Milestone {self.number} of {self.count}: {self.text}"


def milestones_of(targets: Iterable[ReadDate]) -> tuple[Milestone, ...]:
    """One milestone per distinct date among the target items, earliest first; none when
    they name fewer than two dates (then the target is simply the action's due date)."""
    by_day: dict[date, list[ReadDate]] = {}
    for read in targets:
        if read.due is not None:
            by_day.setdefault(read.due, []).append(read)
    if len(by_day) < 2:
        return ()
    days = sorted(by_day)
    return tuple(
        Milestone(
            n + 1,
            len(days),
            " / ".join(dict.fromkeys(one_line(r.text) for r in by_day[day])),
            day,
            by_day[day][0].precision,
        )
        for n, day in enumerate(days)
    )


def target_milestones(target_text: str, month_day: MonthDay) -> tuple[Milestone, ...]:
    """The milestones of a stored target text (the reminder rules' per-milestone dates)."""
    return milestones_of(read_date(t, month_day=month_day) for t in date_items(target_text))


def one_line(text: str) -> str:
    return " ".join(text.split())


def _action_recurrence(chosen: ReadDate | None, targets: tuple[ReadDate, ...]) -> Recurrence | None:
    recurrence = (
        chosen.recurrence if chosen else next((t.recurrence for t in targets if t.recurrence), None)
    )
    if recurrence == REVIEW and chosen is not None:
        return None  # "Review February 2013": one review on that date, no invented cycle
    return recurrence


@lru_cache(maxsize=16_384)
def _read_date(text: str, month_day: MonthDay) -> ReadDate:
    # A plan's date texts repeat ("March 2013", "Ongoing"); a ReadDate is immutable, so a
    # bounded cache reads each text once for a whole import.
    return read_date(text, month_day=month_day)


def read_action_dates(start_text: str, target_text: str, month_day: MonthDay) -> ActionDates:
    starts = tuple(_read_date(t, "start") for t in date_items(start_text))
    targets = tuple(_read_date(t, month_day) for t in date_items(target_text))
    chosen = latest(targets)
    start_days = [s.due for s in starts if s.due is not None]
    return ActionDates(
        starts=starts,
        targets=targets,
        start=min(start_days) if start_days else None,
        due=chosen.due if chosen else None,
        precision=chosen.precision if chosen else "none",
        recurrence=_action_recurrence(chosen, targets),
        milestones=milestones_of(targets),
    )
