"""Schedule arithmetic (pure): when a cron job fires, in a time zone, around a given moment.

A cron expression names wall-clock times; a job fires at instants. Daylight saving makes the
mapping between the two awkward twice a year, so this module does it itself (docs/service.md):

- a wall time in a *gap* (01:30 on the spring-forward day in London) fires once, at the first
  instant after the gap; several gap times and the first time after the gap fire once together;
- a wall time in a *fold* (01:30 on the autumn day, which happens twice) fires once, on its
  first pass, when the schedule names its hours (a daily job never fires twice); a schedule
  whose hour field matches every hour (`*/10 * * * *`) fires on both passes, so a retry or
  heartbeat tick keeps its pace instead of pausing for the repeated hour.

APScheduler's CronTrigger is used only on a clock without daylight saving (UTC), where its
answers are total and increasing; in a zone with daylight saving it can return fire times that
go backwards around a fold, which hung the service. Every function here takes an explicit
instant, never reads the clock, terminates, and yields strictly increasing instants.

A job's *period* is its latest fire time at or before now: the service runs each period once,
which is what makes a missed run caught up once (the latest period only) rather than replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

# How far back to look for a job's latest fire time: a cron that fires less often than
# yearly has no latest period, which is never the case for the schedules we accept.
_LOOKBACKS = (timedelta(hours=2), timedelta(days=2), timedelta(days=9), timedelta(days=367))
# Offset changes are looked for at this spacing: zones do not change twice within a day.
_PROBE = timedelta(days=1)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A cron expression in a time zone."""

    cron: str
    zone: ZoneInfo
    wall: CronTrigger  # the expression on a clock without daylight saving: wall times
    every_hour: bool  # the hour field matches all 24 hours: fires on both passes of a fold

    def __str__(self) -> str:
        return f"{self.cron} ({self.zone.key})"


def check_timezone(value: str) -> str:
    """An IANA time zone name ("Europe/London"); ValueError naming the problem."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{value!r} is not a time zone (e.g. 'Europe/London')") from None
    return value


def trigger(cron: str, timezone: str) -> Schedule:
    """The schedule of a five-field cron expression in a time zone (both already checked)."""
    hours = cron.split()[1]
    return Schedule(
        cron,
        ZoneInfo(timezone),
        CronTrigger.from_crontab(crontab(cron), timezone=UTC),
        _matches_every_hour(hours),
    )


def crontab(cron: str) -> str:
    """The expression as APScheduler reads it: `?` (any day, as Quartz writes it) is `*`."""
    fields = cron.split()
    return " ".join("*" if n in (2, 4) and f == "?" else f for n, f in enumerate(fields))


def weekday_numbers(cron: str) -> str:
    """The weekday field when it counts days by number ("" when it names them or is any).

    APScheduler numbers weekdays from Monday = 0 and cron from Sunday = 0, so a number, or a
    step over every day (`*/2`), would silently mean other days than the writer meant.
    """
    weekday = cron.split()[4]
    for part in weekday.split(","):
        base, _, step = part.partition("/")
        if any(c.isdigit() for c in base) or (step and base in ("*", "?")):
            return weekday
    return ""


def _matches_every_hour(hours: str) -> bool:
    day = datetime(2000, 1, 1, tzinfo=UTC)
    on_the_hour = CronTrigger(hour=hours, minute=0, timezone=UTC)
    found = []
    at: datetime | None = day
    while at is not None and at < day + timedelta(days=1):
        at = on_the_hour.get_next_fire_time(None, at)
        if at is not None and at < day + timedelta(days=1):
            found.append(at)
            at += _SECOND
    return len(found) == 24


def next_fire(job: Schedule, after: datetime) -> datetime | None:
    """The first fire time strictly after `after`, in UTC."""
    # Arithmetic in UTC: a local time plus a timedelta forgets which pass of a fold it was.
    return first_fire(job, after.astimezone(UTC) + timedelta(microseconds=1))


def first_fire(job: Schedule, start: datetime) -> datetime | None:
    """The first fire time at or after `start`, in UTC.

    Walks the stretches of constant UTC offset from `start`: within one, wall times and
    instants move together, so the next matching wall time gives the next fire; where the
    offset changes, a gap's wall times fire at the change, once.
    """
    at = _ceil_second(start.astimezone(UTC))
    while True:
        offset = _offset(job.zone, at)
        # `at` may be the very instant a gap ends (a change is always on a whole second).
        before = _offset(job.zone, at - _SECOND)
        if before < offset and _fires_between(job, at + before, at + offset):
            return at
        wall: datetime | None = job.wall.get_next_fire_time(None, at + offset)
        if wall is None:
            return None
        candidate = wall - offset
        change = _next_change(job.zone, at, offset, candidate)
        if change is not None:
            at = change  # the offset changes first: go on from there
            continue
        if job.every_hour or not _second_pass(job.zone, wall, candidate):
            return candidate
        at = candidate + _SECOND  # this wall time already fired on the fold's first pass


def fire_times(job: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time from start to end, both included, in UTC."""
    times = []
    at = first_fire(job, start.astimezone(UTC))
    while at is not None and at <= end:
        times.append(at)
        at = next_fire(job, at)
    return times


def latest_fire(job: Schedule, now: datetime) -> datetime | None:
    """The last fire time at or before `now`: the period a run at `now` belongs to."""
    now = now.astimezone(UTC)
    for lookback in _LOOKBACKS:
        times = fire_times(job, now - lookback, now)
        if times:
            return times[-1]
    return None


def upcoming(job: Schedule, now: datetime, count: int) -> list[datetime]:
    """The next `count` fire times after now, in the schedule's zone (`config check`)."""
    times: list[datetime] = []
    at = now
    while len(times) < count:
        found = next_fire(job, at)
        if found is None:
            break
        times.append(found.astimezone(job.zone))
        at = found
    return times


# --- wall clock and offsets ---------------------------------------------------------------
# A wall time is held as a UTC datetime whose fields are the local clock's reading, which is
# what the UTC CronTrigger in Schedule.wall works on.


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    return offset if offset is not None else timedelta(0)


def _fires_between(job: Schedule, start: datetime, end: datetime) -> bool:
    """Whether a wall time in [start, end) matches: a gap's wall times."""
    found = job.wall.get_next_fire_time(None, start)
    return found is not None and found < end


def _next_change(
    zone: ZoneInfo, start: datetime, offset: timedelta, until: datetime
) -> datetime | None:
    """The first instant in (start, until] whose offset is not `offset`, to the second."""
    low = start
    while low < until:
        high = min(low + _PROBE, until)
        if _offset(zone, high) != offset:
            while high - low > _SECOND:
                middle = _ceil_second(low + (high - low) / 2)
                if middle >= high:
                    break
                if _offset(zone, middle) == offset:
                    low = middle
                else:
                    high = middle
            return high
        low = high
    return None


def _second_pass(zone: ZoneInfo, wall: datetime, instant: datetime) -> bool:
    """Whether `instant` is the second time the clock shows `wall` (a fold's repeat)."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    return instant > first


def _ceil_second(instant: datetime) -> datetime:
    if instant.microsecond:
        return instant.replace(microsecond=0) + _SECOND
    return instant
