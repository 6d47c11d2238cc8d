"""The one pipeline every job runs through: prepare -> decide -> render -> record -> deliver.

- prepare: the contacts directory and the plan's dates brought up to date in the database;
- decide: the job's pure rules over facts from worker/store/ (per-action jobs:
  jobs/actions.py; the board digest: jobs/digest.py);
- render: digests become messages (jobs/compose.py);
- record: the messages go in the outbox ledger, 8 MB of them per transaction, so a message and
  its items are never apart; a ledger race with another worker re-decides the batch;
- deliver: what is due in the outbox is sent (jobs/deliver.py); refused messages are told to
  the administrator in the same run (jobs/refused.py).

A job is declared once, in its module under worker/jobs/; worker/jobs/catalogue.py lists
them. The command line, the service and `simulate` all run jobs through `catalogue.run`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy.orm import Session, sessionmaker

from worker.db import readers_of
from worker.jobs.actions import ActionRules
from worker.jobs.config import RemindConfig
from worker.jobs.deliver import DeliveryReport, deliver
from worker.jobs.refused import fitted_to_server, queue_failure_notice
from worker.jobs.reroute import reroute
from worker.jobs.results import DigestResult, JobResult
from worker.mail.backends import Mailer
from worker.models import Plan
from worker.store.contacts import sync_directory
from worker.store.plan_dates import reread_dates

# The logger name admins filter on, kept from before the module moved (logs are an interface).
log = logging.getLogger("worker.delivery")


def _never() -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Request:
    """One run of a job: for which plan and date, with what, and how."""

    sessions: sessionmaker[Session]
    plan_id: int
    config: RemindConfig
    as_of: date
    clock: Callable[[], datetime]
    mailer: Mailer | None = None  # None: plan and record only, send nothing
    dry_run: bool = False  # decide and render only: record nothing
    only: Collection[str] | None = None  # only these action refs (per-action jobs)
    should_stop: Callable[[], bool] = _never
    # Items of each message the result keeps: None all (simulate), a few (the command's
    # summary), 0 none (the service: counts only).
    keep_items: int | None = None
    today: date | None = None  # the wall-clock date: a run dated after it stays apart

    @property
    def sends(self) -> bool:
        return not self.dry_run and self.mailer is not None


@dataclass(frozen=True, slots=True)
class Job:
    """A job, declared once: its name (its ledger key), templates, schedule and steps."""

    name: str  # the ledger's job of its messages and their X-Planworker-Job header
    template: str  # its templates' folder: templates/<template>/
    schedule: str | None  # the service's [jobs.<schedule>] table; None: run on demand only
    plan: Callable[[Job, Request, datetime], JobResult]  # decide, render, record
    # A per-action job's rules (jobs/actions.py); re-routing and the notice of refused
    # items use them. None: the job sends whole-plan messages (the board digest).
    rules: ActionRules | None = None


def snapshot(request: Request, writer: Session) -> AbstractContextManager[Session]:
    """The session a run decides and renders in, beside `writer`, which records: on SQLite a
    reader's snapshot, so the write lock is held only while the run writes. A run used to
    hold it from its first read to its commit (a daily run's batches back to back, the
    board digest's whole view), and a lead's report from the web page or `status set`
    could wait past its busy timeout (12 s at 1M, bench/lock_waits.py). What another worker
    records meanwhile is caught where the run writes (the ledger's unique keys). A dry run
    decides in `writer` itself: it must see the preparation it does not commit; so does a
    run on an in-memory SQLite database, where another connection is another database."""
    url = writer.get_bind().engine.url
    in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    if request.dry_run or in_memory:
        return nullcontext(writer)
    return readers_of(request.sessions)()


def prepare(session: Session, plan: Plan, config: RemindConfig) -> int:
    """Bring the database up to date for a run: the contacts directory, and the target dates
    of actions whose reading depends on settings. How many dates were read again."""
    sync_directory(session, config.directory)
    return reread_dates(session, plan, config.month_day)


def run_job(job: Job, request: Request, jobs: Mapping[str, Job]) -> JobResult:
    """The whole job: plan today's messages, then deliver everything due in the outbox."""
    if request.sends:
        # Parts no larger than the server takes.
        request = replace(request, config=fitted_to_server(request.config, request.mailer))
    started = request.clock()
    result = job.plan(job, request, started)
    if not request.sends or (isinstance(result, DigestResult) and result.skipped):
        return result

    def tell_administrator() -> None:
        if job.rules is not None:
            # Which reminders the server refused, action by action: now, not tomorrow.
            notice = job.plan(job, replace(request, only=None), request.clock())
            result.extend(notice)  # type: ignore[union-attr, arg-type]

    # A per-action job's own messages used today's directory: only older ones may need
    # re-routing.
    since = started if job.rules is not None else None
    result.delivery = deliver_and_notify(
        request, jobs, before_retry=tell_administrator, since=since
    )
    return result


def deliver_and_notify(
    request: Request,
    jobs: Mapping[str, Job],
    *,
    before_retry: Callable[[], None] = lambda: None,
    since: datetime | None = None,
) -> DeliveryReport:
    """Deliver what is due; if the server refused any, queue the administrator's plain
    notice, call `before_retry` (a job adds its own detailed notice there), and deliver once
    more, so the administrator hears of it in the same run.

    First, messages queued before `since` (all, when None) whose post has changed hands since
    are re-planned for its current holder (jobs/reroute.py)."""
    r, config = request, request.config
    assert r.mailer is not None
    if not r.should_stop():
        for move in reroute(r.sessions, r.plan_id, config, now=r.clock(), jobs=jobs, before=since):
            log.info("re-routed %s: %s", move.rest, move.reason())

    def deliver_due() -> DeliveryReport:
        assert r.mailer is not None
        return deliver(
            r.sessions,
            r.mailer,
            clock=r.clock,
            policy=config.retry,
            plan_id=r.plan_id,
            should_stop=r.should_stop,
        )

    report = deliver_due()
    if not report.failed_ids or r.should_stop():
        return report
    with r.sessions() as session:
        queue_failure_notice(session, r.plan_id, config, report.failed_ids, r.as_of, r.clock())
    before_retry()
    report.add(deliver_due())
    return report
