"""`planworker health`: is the service doing its job? Cheap enough to run every 30 seconds."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from worker import job_runs
from worker.mail.backends import DeliveryError, Mailer
from worker.schedule import latest_fire
from worker.service import JobSpec


def problems(
    sessions: sessionmaker[Session],
    plan_id: int,
    jobs: dict[str, JobSpec],
    now: datetime,
    grace: timedelta,
    mailer: Mailer | None,
) -> list[str]:
    """Every reason the service is unhealthy; empty when all is well."""
    found: list[str] = []
    try:
        with sessions() as session:
            session.execute(text("SELECT 1"))
            done = job_runs.last_succeeded(session, plan_id)
            first = job_runs.first_run(session, plan_id)
    except SQLAlchemyError as exc:
        return [f"database unreachable: {str(exc).splitlines()[0]}"]
    if first is None:
        found.append("no job has run yet: is 'planworker run' running?")
    else:
        for name, spec in jobs.items():
            if name == "heartbeat":
                continue
            # A run may take a while: the period due `grace` ago must have succeeded.
            expected = latest_fire(spec.trigger, now - grace)
            if expected is None or expected < first:
                continue
            last = done.get(name)
            if last is None or last < expected:
                zone = spec.trigger.zone
                when = last.astimezone(zone).isoformat() if last else "never"
                found.append(
                    f"job {name}: the run due at {expected.astimezone(zone).isoformat()} "
                    f"has not succeeded "
                    f"(last success: {when})"
                )
    if mailer is not None:
        try:
            mailer.check()
        except DeliveryError as exc:
            found.append(f"mail backend unreachable: {exc.reason}")
    return found
