"""Working days: Monday to Friday, less England and Wales bank holidays (pure).

Bank holidays come from the `holidays` package (GB, subdivision England; Wales has the same
days), plus any extra closure days an admin lists in the config file.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

import holidays

ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=256)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


class WorkingDays:
    """Which days are working days; the extra closures are fixed at construction."""

    def __init__(self, extra_closed: Iterable[date] = ()) -> None:
        self._extra = frozenset(extra_closed)
        # Answers so far: a run asks about the same few hundred dates for every action.
        self._before: dict[date, date] = {}
        self._after: dict[date, date] = {}

    def is_working(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._extra and day not in _bank_holidays(day.year)

    def on_or_before(self, day: date) -> date:
        """The working day itself, or the last one before it (where an upcoming reminder goes)."""
        found = self._before.get(day)
        if found is None:
            found = self._before[day] = self._step(day, -ONE_DAY)
        return found

    def on_or_after(self, day: date) -> date:
        """The working day itself, or the next one after it (where an overdue reminder goes)."""
        found = self._after.get(day)
        if found is None:
            found = self._after[day] = self._step(day, ONE_DAY)
        return found

    def _step(self, day: date, step: timedelta) -> date:
        while not self.is_working(day):
            day += step
        return day

    def between(self, first: date, last: date) -> list[date]:
        """Every working day from first to last, both included."""
        days = []
        day = first
        while day <= last:
            if self.is_working(day):
                days.append(day)
            day += ONE_DAY
        return days
