"""Schedule arithmetic across daylight saving: every answer comes back, in order, once.

The expected fire times are worked out here independently of worker/schedule.py: by walking
the clock a minute at a time and applying the documented rules (docs/service.md), or by
plain UTC arithmetic.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from functools import cache
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import Cli
from worker.schedule import Schedule, fire_times, latest_fire, next_fire, trigger, upcoming
from worker.service import ScheduleTrigger
from worker.settings import JobsSettings

ZONES = ("Europe/London", "Australia/Lord_Howe")
SHIPPED = {
    name: getattr(JobsSettings(), name).schedule
    for name in ("remind", "escalate", "digest", "retry", "heartbeat")
}
DAILY = ("remind", "escalate", "digest")
FIRST, LAST = date(2012, 1, 1), date(2030, 12, 31)
MINUTE = timedelta(minutes=1)


def local(zone: str, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


@cache
def change_days(zone: str) -> tuple[date, ...]:
    """Local dates from 2012 to 2030 on which the zone's UTC offset changes."""
    tz = ZoneInfo(zone)
    days = []
    day = FIRST
    while day <= LAST:
        start = datetime(day.year, day.month, day.day, tzinfo=tz)
        if start.utcoffset() != (start + timedelta(days=1)).utcoffset():
            days.append(day)
        day += timedelta(days=1)
    return tuple(days)


def test_both_zones_change_twice_a_year_in_the_years_tested() -> None:
    for zone in ZONES:
        assert len(change_days(zone)) == 2 * (LAST.year - FIRST.year + 1)


# --- an oracle: the rules applied to every minute ---------------------------------------


def matches(cron: CronTrigger, wall: datetime) -> bool:
    """Whether a wall-clock reading (held as naive fields) is one the cron names."""
    at = wall.replace(tzinfo=UTC)
    return cron.get_next_fire_time(None, at) == at


def minute_by_minute(
    cron: str, zone: str, every_hour: bool, start: datetime, end: datetime
) -> list[datetime]:
    """Every fire time in [start, end], deciding each whole minute on its own."""
    tz = ZoneInfo(zone)
    wall_cron = CronTrigger.from_crontab(cron, timezone=UTC)
    found = []
    at = start.astimezone(UTC).replace(second=0, microsecond=0)
    if at < start:
        at += MINUTE
    while at <= end:
        wall = at.astimezone(tz).replace(tzinfo=None)
        before = (at - MINUTE).astimezone(tz).utcoffset()
        offset = at.astimezone(tz).utcoffset()
        assert before is not None and offset is not None
        # Shown earlier by the same clock (a fold's repeat): the zones shift by 30 or 60 min.
        repeat = any(
            (at - timedelta(minutes=m)).astimezone(tz).replace(tzinfo=None) == wall
            for m in (30, 60)
        )
        in_gap = False
        if offset > before:  # the clock jumped forward at this minute
            skipped = at.replace(tzinfo=None) + before
            while skipped < at.replace(tzinfo=None) + offset:
                in_gap = in_gap or matches(wall_cron, skipped)
                skipped += MINUTE
        if in_gap or (matches(wall_cron, wall) and (every_hour or not repeat)):
            found.append(at)
        at += MINUTE
    return found


# --- the shipped schedules over 2012-2030 --------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("job", DAILY)
def test_a_daily_job_fires_once_on_every_matching_date_for_nineteen_years(
    zone: str, job: str
) -> None:
    schedule = trigger(SHIPPED[job], zone)
    tz = ZoneInfo(zone)
    times = fire_times(schedule, local(zone, f"{FIRST}T00:00"), local(zone, f"{LAST}T23:59"))
    dates = Counter(t.astimezone(tz).date() for t in times)
    assert max(dates.values()) == 1
    weekdays = {"remind": range(5), "escalate": range(5), "digest": (0,)}[job]
    expected = {
        FIRST + timedelta(days=n)
        for n in range((LAST - FIRST).days + 1)
        if (FIRST + timedelta(days=n)).weekday() in weekdays
    }
    assert set(dates) == expected
    hour, minute = {"remind": (7, 0), "escalate": (7, 15), "digest": (7, 30)}[job]
    assert {(t.astimezone(tz).hour, t.astimezone(tz).minute) for t in times} == {(hour, minute)}
    assert all(a < b for a, b in pairwise(times))


@pytest.mark.slow
@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("job", ["retry", "heartbeat"])
def test_a_ticking_job_keeps_its_pace_through_every_clock_change_for_nineteen_years(
    zone: str, job: str
) -> None:
    schedule = trigger(SHIPPED[job], zone)
    step = timedelta(minutes=10 if job == "retry" else 5)
    for day in change_days(zone):
        start = local(zone, f"{day}T00:00").astimezone(UTC) - timedelta(hours=1)
        start = start.replace(minute=0)  # a whole UTC hour is a tick in both zones
        end = start + timedelta(hours=30)
        times = fire_times(schedule, start, end)
        ticks = int((end - start) / step) + 1
        assert times == [start + n * step for n in range(ticks)], day


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("job", list(SHIPPED))
def test_shipped_schedules_agree_with_the_minute_by_minute_rules_on_every_change_day(
    zone: str, job: str
) -> None:
    schedule = trigger(SHIPPED[job], zone)
    for day in change_days(zone)[:8]:  # 2012 to 2015: the rules do not change with the year
        start = local(zone, f"{day}T00:00") - timedelta(hours=2)
        end = start + timedelta(hours=12)
        expected = minute_by_minute(SHIPPED[job], zone, schedule.every_hour, start, end)
        assert fire_times(schedule, start, end) == expected, day


def test_the_autumn_fold_no_longer_hangs_the_ten_minute_retry_tick() -> None:
    retry = trigger("*/10 * * * *", "Europe/London")
    # 01:00 to 02:00 happens twice on 25 October 2026: ten minutes apart all the way.
    times = upcoming(retry, local("Europe/London", "2026-10-25T00:55"), 20)
    utc = [t.astimezone(UTC) for t in times]
    assert utc == [
        datetime(2026, 10, 25, 0, 0, tzinfo=UTC) + n * timedelta(minutes=10) for n in range(20)
    ]
    assert [t.strftime("%H:%M%z") for t in times[:3]] == ["01:00+0100", "01:10+0100", "01:20+0100"]
    assert [t.strftime("%H:%M%z") for t in times[6:8]] == ["01:00+0000", "01:10+0000"]
    assert latest_fire(retry, local("Europe/London", "2026-10-25T01:05").replace(fold=1)) == (
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("zone", "cron", "day", "expected"),
    [
        # Spring: 01:30 does not exist in London; the job runs when the clock reaches 02:00.
        ("Europe/London", "30 1 * * *", "2026-03-29", ["02:00+0100"]),
        # Autumn: 01:30 happens twice; a job that names its hour runs on the first pass only.
        ("Europe/London", "30 1 * * *", "2026-10-25", ["01:30+0100"]),
        ("Europe/London", "*/20 1 * * *", "2026-10-25", ["01:00+0100", "01:20+0100", "01:40+0100"]),
        # Lord Howe moves by 30 minutes: 02:10 is skipped in October and repeated in April.
        ("Australia/Lord_Howe", "10 2 * * *", "2026-10-04", ["02:30+1100"]),
        ("Australia/Lord_Howe", "40 1 * * *", "2026-04-05", ["01:40+1100"]),
        (
            "Australia/Lord_Howe",
            "0,10,20,30,40,50 2 * * *",
            "2026-10-04",
            ["02:30+1100", "02:40+1100", "02:50+1100"],
        ),
    ],
)
def test_a_wall_clock_time_in_a_gap_runs_once_after_it_and_in_a_fold_once_on_the_first_pass(
    zone: str, cron: str, day: str, expected: list[str]
) -> None:
    times = fire_times(
        trigger(cron, zone), local(zone, f"{day}T00:00"), local(zone, f"{day}T23:59")
    )
    assert [t.astimezone(ZoneInfo(zone)).strftime("%H:%M%z") for t in times] == expected


# --- random schedules at random moments --------------------------------------------------

# Each hour field with the hours it names, so the oracle knows without parsing.
HOUR_FIELDS = [
    ("*", set(range(24))),
    ("0-23", set(range(24))),
    ("*/2", set(range(0, 24, 2))),
    ("1", {1}),
    ("2", {2}),
    ("1,2", {1, 2}),
    ("0-3", {0, 1, 2, 3}),
    ("7", {7}),
]
MINUTE_FIELDS = ["0", "10", "30", "45", "*/10", "*/15", "0,30", "5-7", "*"]
DAY_FIELDS = [
    ("*", "*"),
    ("*", "mon-fri"),
    ("*", "sun"),
    ("1", "*"),
    ("*/7", "*"),
    ("25-31", "sun"),
]


@st.composite
def crons(draw: st.DrawFn) -> tuple[str, bool, bool]:
    """A cron expression, whether it matches every hour, and whether it fires once a day."""
    minute = draw(st.sampled_from(MINUTE_FIELDS))
    hours, named = draw(st.sampled_from(HOUR_FIELDS))
    day, weekday = draw(st.sampled_from(DAY_FIELDS))
    month = draw(st.sampled_from(["*", "3,4,10", "*/2"]))
    once_a_day = len(named) == 1 and minute.isdigit()
    return f"{minute} {hours} {day} {month} {weekday}", len(named) == 24, once_a_day


@st.composite
def moments(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and an instant from 2012 to 2030, half of them within a day of a clock change."""
    zone = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        day = draw(st.sampled_from(change_days(zone)))
    else:
        day = FIRST + timedelta(days=draw(st.integers(0, (LAST - FIRST).days)))
    seconds = draw(st.integers(-6 * 3600, 30 * 3600))
    base = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return zone, base + timedelta(seconds=seconds, microseconds=draw(st.integers(0, 999_999)))


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(crons(), moments())
def test_any_schedule_at_any_moment_gives_an_ordered_total_answer(
    cron: tuple[str, bool, bool], moment: tuple[str, datetime]
) -> None:
    expression, every_hour, once_a_day = cron
    zone, now = moment
    schedule = trigger(expression, zone)
    assert schedule.every_hour == every_hour
    following = next_fire(schedule, now)
    latest = latest_fire(schedule, now)
    if following is not None:
        assert following > now
    if latest is not None:
        assert latest <= now
        # Nothing fires between the period a run at `now` belongs to and the next fire time.
        assert next_fire(schedule, latest) == following
    # (In UTC: Python compares two times of one zone by their clock readings, fold ignored.)
    ahead = [t.astimezone(UTC) for t in upcoming(schedule, now, 6)]
    assert all(a < b for a, b in pairwise(ahead))
    # The same answers as deciding minute by minute, around the moment.
    start, end = now - timedelta(hours=3), now + timedelta(hours=5)
    assert fire_times(schedule, start, end) == minute_by_minute(
        expression, zone, every_hour, start, end
    )
    if once_a_day:
        tz = ZoneInfo(zone)
        days = Counter(
            t.astimezone(tz).date()
            for t in fire_times(schedule, start - timedelta(days=2), end + timedelta(days=2))
        )
        assert not days or max(days.values()) == 1


# --- the trigger APScheduler is given ------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("Europe/London", "2026-10-25T00:00"),
        ("Europe/London", "2026-03-29T00:00"),
        ("Australia/Lord_Howe", "2026-04-05T00:30"),
        ("Australia/Lord_Howe", "2026-10-04T00:30"),
    ],
)
def test_the_service_trigger_moves_forward_through_a_clock_change_as_apscheduler_asks(
    zone: str, start: str
) -> None:
    schedule: Schedule = trigger(SHIPPED["retry"], zone)
    apscheduler_trigger = ScheduleTrigger(schedule)
    now = local(zone, start)
    # APScheduler asks for the first time from now, then each next one after the previous.
    asked = [apscheduler_trigger.get_next_fire_time(None, now)]
    for _ in range(30):
        previous = asked[-1]
        assert previous is not None
        asked.append(apscheduler_trigger.get_next_fire_time(previous, previous))
    first = asked[0]
    assert first is not None
    step = timedelta(minutes=10)
    assert [t.astimezone(UTC) for t in asked if t] == [
        first.astimezone(UTC) + n * step for n in range(31)
    ]


# --- weekdays by name ----------------------------------------------------------------------


@pytest.mark.parametrize("schedule", ["0 7 * * 1-5", "0 7 * * 0", "0 7 * * mon,3", "0 7 * * */2"])
def test_a_numbered_weekday_in_the_config_file_is_refused_naming_the_file_and_key(
    cli: Cli, tmp_path: Path, schedule: str
) -> None:
    path = tmp_path / "planworker.toml"
    path.write_text(f'[jobs.remind]\nschedule = "{schedule}"\n', encoding="utf-8")
    result = cli("--config", str(path), "config", "check", ok=False)
    assert result.exit_code != 0
    assert str(path) in result.output and "jobs.remind.schedule" in result.output
    assert "mon-fri" in result.output and "Traceback" not in result.output


def test_a_numbered_weekday_in_the_environment_is_refused_naming_the_variable(cli: Cli) -> None:
    cli.env["PLANWORKER_JOBS__DIGEST__SCHEDULE"] = "30 7 * * 1"
    result = cli("config", "check", ok=False)
    assert result.exit_code != 0
    assert "PLANWORKER_JOBS__DIGEST__SCHEDULE" in result.output and "mon-fri" in result.output


@pytest.mark.parametrize("schedule", ["0 7 * * mon-fri", "0 7 * * *", "0 7 * * ?", "0 7 ? * sun"])
def test_weekdays_by_name_any_day_and_steps_over_names_are_accepted(schedule: str) -> None:
    jobs = JobsSettings(remind={"schedule": schedule})  # type: ignore[arg-type]
    assert jobs.remind.schedule == schedule


def test_a_question_mark_means_any_day() -> None:
    monday = local("Europe/London", "2026-11-30T00:00")
    weekly = fire_times(
        trigger("0 7 ? * mon", "Europe/London"), monday, monday + timedelta(days=14)
    )
    assert [t.astimezone(ZoneInfo("Europe/London")).day for t in weekly] == [30, 7]


@pytest.mark.parametrize("schedule", ["0 7 30 2 *", "0 7 31 jun *", "0 7 31 4,6,9,11 *"])
def test_a_schedule_on_a_date_that_never_comes_is_refused(schedule: str) -> None:
    with pytest.raises(ValueError, match="names no date that exists: the job would never run"):
        JobsSettings(remind={"schedule": schedule})  # type: ignore[arg-type]
