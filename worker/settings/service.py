"""The settings of the service: when each job runs, its time zone, logging and leases."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from worker.settings.sections import Section


def check_cron(value: str) -> str:
    """A five-field cron expression ("0 7 * * mon-fri"); ValueError naming the problem."""
    from datetime import UTC, datetime

    from apscheduler.triggers.cron import CronTrigger

    from worker.schedule import crontab, weekday_numbers

    if len(value.split()) != 5:
        raise ValueError(
            f"{value!r} is not a cron expression: it needs five fields "
            "(minute hour day month weekday), e.g. '0 7 * * mon-fri'"
        )
    numbered = weekday_numbers(value)
    if numbered:
        raise ValueError(
            f"{value!r}: write the weekdays as names, e.g. 'mon-fri' or 'sun', not "
            f"{numbered!r}: numbers count from Monday = 0 here, not from Sunday as in cron, "
            "so '1-5' would mean Tuesday to Saturday"
        )
    try:
        parsed = CronTrigger.from_crontab(crontab(value), timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid cron expression: {exc}") from None
    # A job that can never run would fail silently for ever (31 June, 30 February).
    if parsed.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=UTC)) is None:
        raise ValueError(f"{value!r} names no date that exists: the job would never run")
    return value


class JobSettings(Section):
    enabled: bool = True
    # When it runs: a cron expression in the service's time zone (minute hour day month
    # weekday). "0 7 * * mon-fri" is 07:00 every weekday.
    schedule: str

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        return check_cron(value)


class HeartbeatSettings(JobSettings):
    # A monitoring URL to GET after checking the service is healthy (healthchecks.io style).
    url: str = ""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class JobsSettings(Section):
    remind: JobSettings = JobSettings(schedule="0 7 * * mon-fri")
    escalate: JobSettings = JobSettings(schedule="15 7 * * mon-fri")
    digest: JobSettings = JobSettings(schedule="30 7 * * mon")
    # Status-return requests and chasers: each working day decides which is due, if any
    # (requests.days_before_digest, requests.chase_after_days).
    request: JobSettings = JobSettings(schedule="0 9 * * mon-fri")
    # Sends what is waiting in the outbox (messages that failed for a passing reason).
    retry: JobSettings = JobSettings(schedule="*/10 * * * *")
    heartbeat: HeartbeatSettings = HeartbeatSettings(enabled=False, schedule="*/5 * * * *")


class ServiceSettings(Section):
    # The time zone the schedules are in; empty: the plan's (Europe/London by default).
    timezone: str = ""
    # "text" for people, "json" for one JSON object per line (log collectors).
    log_format: Literal["text", "json"] = "text"
    # A job run that started this long ago and never finished (its worker died) may be
    # taken over by another worker.
    run_lease_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # `planworker health` fails when a job's run due this long ago has not succeeded.
    health_grace_minutes: int = Field(default=20, ge=1, le=24 * 60)
    # How many days after today --as-of may name, except with --dry-run: a run dated further
    # ahead would record as sent what real runs must still send (docs/security.md).
    as_of_horizon_days: int = Field(default=1, ge=0, le=31)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from worker.schedule import check_timezone

        return check_timezone(value) if value else value
