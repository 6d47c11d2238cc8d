"""Whether the board digest goes out on a date (pure): the one rule `digest`, the service's
digest job and `simulate` all follow.

A digest dated on a weekend, bank holiday or closure day is skipped, unless
`digest.on_holidays` is true: nobody reads board papers on a bank holiday, and nothing is
lost, because the next digest lists every change since the last one sent. Red alerts do not
wait for the digest: they go out with the escalations on the next working day.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from worker.rules.as_of import long_date
from worker.rules.workdays import WorkingDays


def digest_skipped(day: date, days: WorkingDays, on_holidays: bool) -> str:
    """Why no digest goes out on `day`, or "" when it does."""
    if on_holidays or days.is_working(day):
        return ""
    what = "a weekend day" if day.weekday() >= 5 else "a bank holiday or closure day"
    return (
        f"{long_date(day)} is {what}: no board digest (digest.on_holidays = false); "
        "the next digest lists every change since the last one sent"
    )


def digest_days(
    first: date, last: date, weekday: int, days: WorkingDays, on_holidays: bool
) -> Iterator[date]:
    """The dates from first to last on which the weekly digest (on `weekday`, 0 = Monday)
    goes out."""
    day = first + timedelta(days=(weekday - first.weekday()) % 7)
    while day <= last:
        if not digest_skipped(day, days, on_holidays):
            yield day
        day += timedelta(days=7)
