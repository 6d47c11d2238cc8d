"""Job runs in the database: which worker runs each scheduled period, and what happened.

Claiming is an INSERT into a table with a unique (plan, job, period) key, committed before
the job starts: of several workers woken for the same period, exactly one inserts the row
and runs the job; the others see the row and skip. A run whose worker died (still
"running" after the lease) or that failed may be taken over by a compare-and-set UPDATE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from worker.models import JobRun


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    job: str
    period: datetime


def claim(
    session: Session,
    *,
    plan_id: int,
    job: str,
    period: datetime,
    worker: str,
    now: datetime,
    lease: timedelta,
) -> Claim | None:
    """Claim a job's period for this worker, or None if another worker has it (or did it)."""
    try:
        with session.begin_nested():
            run = session.execute(
                insert(JobRun).returning(JobRun.id),
                {
                    "plan_id": plan_id,
                    "job": job,
                    "period": period,
                    "state": "running",
                    "worker": worker,
                    "started_at": now,
                    "summary": "",
                },
            ).scalar_one()
        session.commit()
        return Claim(run, job, period)
    except IntegrityError:
        pass
    existing = session.execute(
        select(JobRun.id, JobRun.state, JobRun.started_at).where(
            JobRun.plan_id == plan_id, JobRun.job == job, JobRun.period == period
        )
    ).one()
    takeover = existing.state == "failed" or (
        existing.state == "running" and _aware(existing.started_at) < now - lease
    )
    if not takeover:
        session.commit()
        return None
    # Compare-and-set on the row as we saw it: one worker wins a takeover.
    won = session.execute(
        update(JobRun)
        .where(
            JobRun.id == existing.id,
            JobRun.state == existing.state,
            JobRun.started_at == existing.started_at,
        )
        .values(state="running", worker=worker, started_at=now, finished_at=None)
        .returning(JobRun.id)
    ).first()
    session.commit()
    return Claim(existing.id, job, period) if won else None


def finish(
    session: Session, run: Claim, *, ok: bool, now: datetime, summary: dict[str, object]
) -> None:
    session.execute(
        update(JobRun)
        .where(JobRun.id == run.id)
        .values(
            state="succeeded" if ok else "failed",
            finished_at=now,
            summary=json.dumps(summary, default=str),
        )
    )
    session.commit()


def last_succeeded(session: Session, plan_id: int) -> dict[str, datetime]:
    """Each job's latest period that ran to the end."""
    query = (
        select(JobRun.job, func.max(JobRun.period))
        .where(JobRun.plan_id == plan_id, JobRun.state == "succeeded")
        .group_by(JobRun.job)
    )
    return {job: _aware(period) for job, period in session.execute(query)}


def failures_since(
    session: Session, plan_id: int, since: datetime
) -> dict[tuple[str, datetime], str]:
    """The runs that failed, for periods from `since`: (job, period) -> recorded summary."""
    query = select(JobRun.job, JobRun.period, JobRun.summary).where(
        JobRun.plan_id == plan_id, JobRun.state == "failed", JobRun.period >= since
    )
    return {(job, _aware(period)): summary for job, period, summary in session.execute(query)}


def first_run(session: Session, plan_id: int) -> datetime | None:
    """When the service first ran a job for this plan (health ignores periods before it)."""
    found = session.scalar(select(func.min(JobRun.started_at)).where(JobRun.plan_id == plan_id))
    return _aware(found) if found is not None else None


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)
