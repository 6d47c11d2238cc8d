"""The due date of a period: month_day policy, "end of"/"start of", weeks and weekdays."""

from __future__ import annotations

import re
from datetime import date, timedelta

from worker.plan.dates.context import Context
from worker.plan.dates.model import MonthDay, Precision
from worker.plan.dates.patterns import Period

_WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def due_date(
    period: Period, context: Context, month_day: MonthDay
) -> tuple[date, Precision] | None:
    kinds = context.kinds
    if "modifier" in kinds:
        return None
    if "edge" in kinds and period.precision != "day":
        edge = kinds["edge"].group("edge").lower()
        return (period.last if edge == "end" else period.first), "day"
    if period.precision != "day":
        if kinds.keys() & {"week", "week_ending", "weekday"}:
            return None
        return (period.last if month_day == "end" else period.first), period.precision
    return _day_due(period.first, kinds)


def _day_due(day: date, kinds: dict[str, re.Match[str]]) -> tuple[date, Precision] | None:
    if "weekday" in kinds:
        named = _WEEKDAYS[kinds["weekday"].group("wd")[:3].lower()]
        if named != day.weekday():
            return None
    if "week" in kinds and "week_ending" in kinds:
        return None
    if "week" in kinds:
        # Never overflows: date.max (9999-12-31) is itself a Friday.
        return day + timedelta(days=(4 - day.weekday()) % 7), "day"
    return day, "day"
