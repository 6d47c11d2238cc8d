"""Schedule arithmetic (pure): when a cron job fires, in a time zone, around a given moment.

APScheduler's CronTrigger does the calendar and daylight-saving work; this module only asks
it questions with an explicit `now`, never the clock. A job's *period* is its latest fire
time at or before now: the service runs each period once, which is what makes a missed run
caught up once (the latest period only) rather than replayed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

# How far back to look for a job's latest fire time: a cron that fires less often than
# yearly has no latest period, which is never the case for the schedules we accept.
_LOOKBACKS = (timedelta(hours=2), timedelta(days=2), timedelta(days=9), timedelta(days=367))


def trigger(cron: str, timezone: str) -> CronTrigger:
    return CronTrigger.from_crontab(cron, timezone=ZoneInfo(timezone))


def next_fire(job: CronTrigger, after: datetime) -> datetime | None:
    """The first fire time strictly after `after`."""
    found: datetime | None = job.get_next_fire_time(None, after + timedelta(microseconds=1))
    return found


def fire_times(job: CronTrigger, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time from start to end, both included."""
    times = []
    at = job.get_next_fire_time(None, start)
    while at is not None and at <= end:
        times.append(at)
        at = next_fire(job, at)
    return times


def latest_fire(job: CronTrigger, now: datetime) -> datetime | None:
    """The last fire time at or before `now`: the period a run at `now` belongs to."""
    for lookback in _LOOKBACKS:
        times = fire_times(job, now - lookback, now)
        if times:
            return times[-1]
    return None


def upcoming(job: CronTrigger, now: datetime, count: int) -> list[datetime]:
    """The next `count` fire times after now (what `config check` shows)."""
    times: list[datetime] = []
    at = now
    while len(times) < count:
        found = next_fire(job, at)
        if found is None:
            break
        times.append(found)
        at = found
    return times
