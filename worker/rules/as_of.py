"""Runs dated in the future (pure): how far ahead of today a run may be dated, and how what
such a run records is kept apart from what real runs record.

The ledger remembers each reminder and alert by a key that names no run date (a Red alert
goes once per action and target date), so a run dated months ahead would find every action
overdue, record its alerts, and leave nothing for the real run on the day. Two guards:

- a run dated more than `horizon_days` after today is refused unless it is a dry run (which
  records nothing); `simulate` replays the future on a scratch copy;
- a run dated after today but within the horizon (a clock or time-zone difference) keys what
  it records with AHEAD, so the real run on that date still sends its own.

`today` is the wall-clock date, read by the caller at the edge.
"""

from __future__ import annotations

from datetime import date, timedelta

# Appended to the ledger keys of a run dated after today: never equal to a real run's key.
AHEAD = "|ahead"


def long_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def is_ahead(as_of: date, today: date | None) -> bool:
    """Whether a run dated `as_of` is dated after today (None: the caller's date is today)."""
    return today is not None and as_of > today


def key_suffix(as_of: date, today: date | None) -> str:
    """What to append to the ledger keys a run dated `as_of` records."""
    return AHEAD if is_ahead(as_of, today) else ""


def as_of_refusal(as_of: date, today: date, horizon_days: int, option: str = "--as-of") -> str:
    """Why a run dated `as_of` may not record anything, or "" when it may."""
    if as_of <= today + timedelta(days=horizon_days):
        return ""
    plural = "day" if horizon_days == 1 else "days"
    return (
        f"{option} {as_of.isoformat()} ({long_date(as_of)}) is more than {horizon_days} "
        f"{plural} after today ({long_date(today)}): a run dated in the future would record "
        "as sent the alerts and reminders that real runs must still send. Rehearse it with "
        "--dry-run (records nothing) or `planworker simulate` (a scratch copy); "
        "service.as_of_horizon_days sets how far ahead a real run may be dated"
    )
