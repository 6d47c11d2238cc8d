"""The decide, render and record steps of the per-action jobs (lead reminders, escalations,
Red alerts): a batch of recipients at a time, its messages recorded a group per
transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from sqlalchemy.orm import Session

from worker.jobs.actions import DayPlan, nothing, run_scope
from worker.jobs.compose import messages
from worker.jobs.pipeline import Job, Request, prepare, snapshot
from worker.jobs.results import RemindResult
from worker.models import Plan
from worker.rules.reminders import PlanFacts
from worker.store.outbox import LedgerRace, Planned, record

PLAN_ATTEMPTS = 3
# Rendered messages recorded together once they hold this many bytes: a batch's messages
# (30 parts of 8.5 MB to one strategic lead at 1M) are not all held at once, and small
# ones still go in a few statements.
RECORD_BYTES = 8 * 1024 * 1024


def in_groups(planned: Iterable[Planned], size: int) -> Iterator[list[Planned]]:
    """The messages in order, grouped until a group holds `size` bytes of content."""
    group: list[Planned] = []
    held = 0
    for message in planned:
        group.append(message)
        held += len(message.content)
        if held >= size:
            yield group
            group, held = [], 0
    if group:
        yield group


def plan_messages(job: Job, request: Request, now: datetime) -> RemindResult:
    """Decide, render and (unless a dry run) record a job's messages.

    The plan is read in two passes so that memory holds one chunk of it at a time
    (jobs/actions.py): the first finds who is due something new, the second decides and
    renders the messages of a batch of recipients from a snapshot and records them as they
    are rendered, RECORD_BYTES a transaction (a message and its items always together), and
    drops them before the next. A dry run records nothing and rolls everything back.
    """
    r, config, rules = request, request.config, job.rules
    assert rules is not None, f"{job.name} is not a per-action job"
    result = RemindResult(r.as_of, config.days.is_working(r.as_of))
    with r.sessions() as session, snapshot(r, session) as reader:
        checkpoint = nothing if r.dry_run else session.commit
        plan = session.get_one(Plan, r.plan_id)
        result.dates_reread = prepare(session, plan, config)
        checkpoint()
        # Deciding and rendering only read: a snapshot that holds no lock (see pipeline.snapshot).
        fresh = nothing if r.dry_run else reader.commit
        run = run_scope(reader, r.plan_id, config, r.as_of, r.only, r.today)
        day = DayPlan(reader, PlanFacts(plan.title, plan.organisation), rules, run, fresh)
        for emails in day.batches():
            _record_batch(session, day, emails, job, r, now, result, fresh)
        if r.dry_run:
            session.rollback()
    return result


def _record_batch(
    session: Session,
    day: DayPlan,
    emails: list[str],
    job: Job,
    request: Request,
    now: datetime,
    result: RemindResult,
    fresh: Callable[[], None],
) -> None:
    """Decide, render and record one batch of recipients, a group of messages per
    transaction, so the write lock is not held while the next group renders (a large
    reader's parts take seconds each at 1M). A ledger race (another worker recorded some of
    these first) decides the batch again: each race leaves fewer items, so it ends;
    PLAN_ATTEMPTS races in a row that leave no fewer are not a race, and are raised."""
    r, config = request, request.config
    stalled, decided = 0, None
    while True:
        digests = day.digests(emails)
        items = sum(len(d.all_items) for d in digests)
        if decided is None or items < decided:
            stalled = 0  # the first attempt, or fewer items left since the last race
        decided = items
        errors: list[str] = []  # counted once the whole batch is recorded
        found = messages(
            digests, config, now, job.name, job.template, plan_id=r.plan_id, errors=errors
        )
        try:
            for planned in in_groups(found, RECORD_BYTES):
                if not r.dry_run:
                    record(
                        session,
                        planned,
                        plan_id=r.plan_id,
                        job=job.name,
                        as_of=r.as_of,
                        now=now,
                        sender=config.identity.sender.addr_spec,
                    )
                    session.commit()
                result.note(planned, r.keep_items)
        except LedgerRace:
            # Read the ledger again: what this batch and the other worker recorded is not
            # planned again.
            session.rollback()
            fresh()
            stalled += 1
            if stalled == PLAN_ATTEMPTS:
                raise
            continue
        fresh()  # the next batch reads the ledger as this one left it
        day.done(emails)
        result.render_errors += errors
        return
