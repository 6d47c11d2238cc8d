"""`planworker run`: the long-running service (docs/service.md).

APScheduler 3 is the timer: one in-memory job per configured job, with its cron trigger in
the service's time zone. It is not the ledger: what ran is recorded in `job_runs`, one row
per job and scheduled period, claimed before the job starts. So:

- a period missed while the service was down is run once at start (only the latest
  period: the jobs are level-triggered and catch up on their own);
- several workers on one PostgreSQL database run each period once between them;
- a job that failed is tried again by the next retry tick.

Stopping (SIGTERM, SIGINT) ends a conversation with the mail server at once (the message
waits, its attempt not counted), records nothing half-done, and exits.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from sqlalchemy.orm import Session, sessionmaker

from worker.jobs import catalogue
from worker.jobs.config import RemindConfig
from worker.jobs.pipeline import Request
from worker.mail.backends import Mailer
from worker.schedule import Schedule, first_fire, latest_fire, next_fire, trigger
from worker.store import job_runs

log = logging.getLogger("planworker.service")

# The scheduled jobs (those declared with a schedule key) and the service's own two.
JOB_NAMES = (
    *(job.schedule for job in catalogue.JOBS.values() if job.schedule),
    "retry",
    "heartbeat",
)


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    cron: str
    trigger: Schedule
    url: str = ""  # heartbeat only


@dataclass(slots=True)
class Service:
    """Runs the jobs of one plan; every method takes `now` so tests drive the clock."""

    sessions: sessionmaker[Session]
    plan_id: int
    timezone: str
    config: RemindConfig
    jobs: dict[str, JobSpec]
    make_mailer: Callable[[], Mailer]
    lease: timedelta = timedelta(minutes=15)
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    stop: threading.Event = field(default_factory=threading.Event)
    check_health: Callable[[], list[str]] = lambda: []

    def period(self, name: str, now: datetime) -> datetime | None:
        found = latest_fire(self.jobs[name].trigger, now)
        return found.astimezone(UTC) if found else None

    def run_due(self, name: str, now: datetime) -> str:
        """Run the job's current period if no worker has; says what happened."""
        if self.stop.is_set():
            return "stopping"
        # Stored in UTC: SQLite keeps a datetime's fields and drops its zone.
        now = now.astimezone(UTC)
        period = self.period(name, now)
        if period is None:
            return "not due"
        with self.sessions() as session:
            claimed = job_runs.claim(
                session,
                plan_id=self.plan_id,
                job=name,
                period=period,
                worker=self.worker,
                now=now,
                lease=self.lease,
            )
        if claimed is None:
            return "done elsewhere"
        local_day = period.astimezone(ZoneInfo(self.timezone)).date()
        try:
            summary = self._run(name, local_day, now)
        except Exception as exc:
            log.exception("job %s for %s failed", name, period.isoformat())
            self._finish(claimed, ok=False, now=now, summary={"error": str(exc) or repr(exc)})
            return "failed"
        failure = run_failure(summary)
        if failure is not None:
            summary = {**summary, "failure": failure}
        self._finish(claimed, ok=failure is None, now=now, summary=summary)
        _log_run(name, period, summary, failure)
        return "ran" if failure is None else "failed"

    def catch_up(self, now: datetime) -> dict[str, str]:
        """Each job's latest period, if not yet done: what start-up and the retry tick do."""
        return {name: self.run_due(name, now) for name in self.jobs if not self.stop.is_set()}

    def _finish(
        self, claimed: job_runs.Claim, *, ok: bool, now: datetime, summary: dict[str, Any]
    ) -> None:
        with self.sessions() as session:
            job_runs.finish(session, claimed, ok=ok, now=now, summary=summary)

    def _run(self, name: str, day: date, now: datetime) -> dict[str, Any]:
        # `now` picks the period and the date acted on; sending always uses the real clock,
        # because leases must mean the same to every worker (a replay's simulated times
        # differ between workers, and a lease measured in them would expire too early).
        request = Request(
            self.sessions,
            self.plan_id,
            self.config,
            day,
            clock=_real_clock,
            mailer=None if name == "heartbeat" else self.make_mailer(),
            should_stop=self.stop.is_set,
            keep_items=0,
        )
        if name in catalogue.JOBS:
            return catalogue.run(name, request).summary()
        if name == "retry":
            report = catalogue.deliver(request)
            # Also the moment to take up any job period that failed or was missed.
            others = {n: self.run_due(n, now) for n in self.jobs if n not in ("retry", "heartbeat")}
            return {
                "sent": report.sent,
                "failed": report.failed,
                "retrying": report.retrying,
                "stopped_early": report.stopped_early,
                "jobs": others,
            }
        if name == "heartbeat":
            problems = self.check_health()
            if problems:
                return {"errors": problems}
            _ping(self.jobs[name].url)
            return {"pinged": monitor_shown(self.jobs[name].url)}
        raise ValueError(f"unknown job {name!r}")


def _real_clock() -> datetime:
    return datetime.now(UTC)


def _ping(url: str) -> None:
    # The monitoring service notices when pings stop; a failed ping is only logged.
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read(1024)
    except OSError as exc:
        log.warning("heartbeat ping to %s failed: %s", monitor_shown(url), exc)


def monitor_shown(url: str) -> str:
    """A heartbeat URL as logs and job records show it: its path and query hold the check's
    token (healthchecks.io style), which lets anyone ping or pause the check."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}/..." if parts.path or parts.query else url


def run_failure(summary: dict[str, Any]) -> str | None:
    """Why a run that returned is recorded as failed, or None when it succeeded: messages
    refused for good or not made, errors, or a delivery that stopped with mail waiting."""
    reasons = []
    failed = max(_count(summary.get("failed")), _count(summary.get("failures")))
    if failed:
        reasons.append(f"{failed} message(s) failed")
    errors = summary.get("errors") or []
    if errors:
        reasons.append(f"{len(errors)} error(s), the first: {errors[0]}")
    if summary.get("stopped_early"):
        reasons.append(f"stopped early: {summary['stopped_early']}")
    return "; ".join(reasons) or None


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _log_run(name: str, period: datetime, summary: dict[str, Any], failure: str | None) -> None:
    counts = json.dumps(summary, default=str)
    if failure is None:
        log.info("job %s for %s: %s", name, period.isoformat(), counts)
    elif summary.get("failed") or summary.get("failures") or summary.get("errors"):
        # Someone must act: an address refused, a template broken.
        log.error("job %s for %s failed (%s): %s", name, period.isoformat(), failure, counts)
    else:
        # Stopped with mail waiting (server down, shutting down): the retry tick goes on.
        log.warning("job %s for %s failed (%s): %s", name, period.isoformat(), failure, counts)


def job_specs(settings: Any, timezone: str) -> dict[str, JobSpec]:
    """The enabled jobs from the settings' [jobs] table."""
    specs = {}
    for name in JOB_NAMES:
        job = getattr(settings.jobs, name)
        if not job.enabled:
            continue
        specs[name] = JobSpec(
            name, job.schedule, trigger(job.schedule, timezone), getattr(job, "url", "")
        )
    return specs


def serve(service: Service) -> None:
    """Run until SIGTERM or SIGINT: catch up at start, then on the jobs' schedules."""
    import signal

    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(
        timezone=ZoneInfo(service.timezone),
        # In memory only (built from config at each start; job_runs is the record), one run
        # of a job at a time, and a late wake-up still runs rather than being dropped.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    for name, spec in service.jobs.items():
        scheduler.add_job(_runner(service, name), ScheduleTrigger(spec.trigger), id=name, name=name)

    def _stop(signum: int, _frame: object) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        service.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    scheduler.start()
    log.info(
        "planworker running: %s", ", ".join(f"{n} ({s.cron})" for n, s in service.jobs.items())
    )
    service.catch_up(datetime.now(UTC))
    service.stop.wait()
    scheduler.shutdown(wait=True)
    log.info("planworker stopped")


class ScheduleTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler is untyped
    """APScheduler's view of a Schedule: its fire times, total across daylight saving.

    APScheduler's own CronTrigger returns times that go back and repeat in an autumn fold,
    and its scheduler then loops for ever collecting "due" runs; this one cannot.
    """

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        # The first time from now, then each one strictly after the previous (which
        # APScheduler passes with a `now` at or after it): never back, never the same twice.
        if previous_fire_time is None:
            found = first_fire(self.schedule, now)
        else:
            found = next_fire(self.schedule, previous_fire_time)
        return found.astimezone(self.schedule.zone) if found is not None else None

    def __str__(self) -> str:
        return f"cron[{self.schedule}]"


def _runner(service: Service, name: str) -> Callable[[], None]:
    def run() -> None:
        service.run_due(name, datetime.now(UTC))

    return run


def replay(service: Service, start: datetime, end: datetime) -> list[tuple[datetime, str, str]]:
    """Drive the service through every scheduled time from start to end, in order, as if
    the clock were moving (tests, and rehearsing a schedule on a copy of the database)."""
    from worker.schedule import fire_times

    times = sorted(
        (at.astimezone(UTC), name)
        for name, spec in service.jobs.items()
        for at in fire_times(spec.trigger, start, end)
    )
    outcome = []
    for at, name in times:
        if service.stop.is_set():
            break
        outcome.append((at, name, service.run_due(name, at)))
    return outcome
