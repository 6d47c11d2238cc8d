"""The decide, render and record steps of the per-action jobs (lead reminders, escalations,
Red alerts), a batch of recipients per transaction."""

from __future__ import annotations

from datetime import datetime

from worker.jobs.actions import DayPlan, nothing, run_scope
from worker.jobs.compose import render
from worker.jobs.pipeline import Job, Request, prepare
from worker.jobs.results import RemindResult
from worker.models import Plan
from worker.rules.reminders import PlanFacts
from worker.store.outbox import LedgerRace, record

PLAN_ATTEMPTS = 3


def plan_messages(job: Job, request: Request, now: datetime) -> RemindResult:
    """Decide, render and (unless a dry run) record a job's messages.

    The plan is read in two passes so that memory holds one chunk of it at a time
    (jobs/actions.py): the first finds who is due something new, the second renders and
    records the messages of a batch of recipients in one transaction, and drops them before
    the next. A dry run records nothing and rolls everything back.
    """
    r, config, rules = request, request.config, job.rules
    assert rules is not None, f"{job.name} is not a per-action job"
    result = RemindResult(r.as_of, config.days.is_working(r.as_of))
    with r.sessions() as session:
        checkpoint = nothing if r.dry_run else session.commit
        plan = session.get_one(Plan, r.plan_id)
        result.dates_reread = prepare(session, plan, config)
        checkpoint()
        run = run_scope(session, r.plan_id, config, r.as_of, r.only, r.today)
        day = DayPlan(session, PlanFacts(plan.title, plan.organisation), rules, run, checkpoint)
        for emails in day.batches():
            for attempt in range(PLAN_ATTEMPTS):
                digests = day.digests(emails)
                planned, errors = render(
                    digests, config, now, job.name, job.template, plan_id=r.plan_id
                )
                if r.dry_run:
                    break
                try:
                    record(
                        session,
                        planned,
                        plan_id=r.plan_id,
                        job=job.name,
                        as_of=r.as_of,
                        now=now,
                        sender=config.identity.sender.addr_spec,
                    )
                except LedgerRace:
                    # Another worker planned some of these first: read the ledger again.
                    session.rollback()
                    if attempt == PLAN_ATTEMPTS - 1:
                        raise
                    continue
                session.commit()
                break
            result.note(planned, r.keep_items)
            result.render_errors += errors
        if r.dry_run:
            session.rollback()
    return result
