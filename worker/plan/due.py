"""Reading an action's start and target dates (pure).

A target cell may list several dates; the action is due on the latest of them (a row kept
whole carries all its dates). Start dates are read at the start of a month or season, so
"May 2012" to "May 2012" is not a target before its start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from worker.plan.dates import MonthDay, Precision, ReadDate, Recurrence, latest, read_date
from worker.plan.split import date_items


@dataclass(frozen=True, slots=True)
class ActionDates:
    starts: tuple[ReadDate, ...]
    targets: tuple[ReadDate, ...]
    start: date | None
    due: date | None
    precision: Precision
    recurrence: Recurrence | None

    @property
    def readable(self) -> bool:
        return all(d.readable for d in (*self.starts, *self.targets))

    @property
    def unreadable(self) -> tuple[ReadDate, ...]:
        return tuple(d for d in (*self.starts, *self.targets) if not d.readable)


def read_action_dates(start_text: str, target_text: str, month_day: MonthDay) -> ActionDates:
    starts = tuple(read_date(t, month_day="start") for t in date_items(start_text))
    targets = tuple(read_date(t, month_day=month_day) for t in date_items(target_text))
    chosen = latest(targets)
    recurrence = (
        chosen.recurrence if chosen else next((t.recurrence for t in targets if t.recurrence), None)
    )
    start_days = [s.due for s in starts if s.due is not None]
    return ActionDates(
        starts=starts,
        targets=targets,
        start=min(start_days) if start_days else None,
        due=chosen.due if chosen else None,
        precision=chosen.precision if chosen else "none",
        recurrence=recurrence,
    )
