"""The decide, render and record steps of the per-action jobs (lead reminders, escalations,
Red alerts), a batch of recipients per transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

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
    (jobs/actions.py): the first finds who is due something new, the second renders and
    records the messages of a batch of recipients in one transaction, and drops them before
    the next; a batch's messages are recorded as they are rendered, RECORD_BYTES at a time.
    A dry run records nothing and rolls everything back.
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
            for attempt in range(PLAN_ATTEMPTS):
                # This attempt's messages, counted only once the batch is committed.
                batch = RemindResult(r.as_of, result.working_day)
                found = messages(
                    day.digests(emails), config, now, job.name, job.template,
                    plan_id=r.plan_id, errors=batch.render_errors,
                )  # fmt: skip
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
                        batch.note(planned, r.keep_items)
                except LedgerRace:
                    # Another worker planned some of these first: read the ledger again.
                    session.rollback()
                    fresh()
                    if attempt == PLAN_ATTEMPTS - 1:
                        raise
                    continue
                if not r.dry_run:
                    session.commit()
                fresh()  # the next batch reads the ledger as this one left it
                result.extend(batch)
                break
        if r.dry_run:
            session.rollback()
    return result
