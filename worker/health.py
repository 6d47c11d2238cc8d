"""`planworker health`: is the service doing its job? Cheap enough to run every 30 seconds.

The plain check reads what the service records (job runs, the outbox) in a few small
aggregates and opens no connection to the mail server: a probe every 30 seconds must not log
in to SMTP 2,880 times a day. `deep` also checks the mail backend itself (an SMTP login).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from worker.mail.backends import Mailer
from worker.mail.errors import DeliveryError
from worker.models import Message
from worker.schedule import latest_fire
from worker.service import JobSpec
from worker.store import job_runs

# A message refused for good keeps the service unhealthy this long: long enough for a
# monitor to notice and someone to fix the address, after which it is in `planworker outbox`.
RECENT_FAILURES = timedelta(hours=24)


def problems(
    sessions: sessionmaker[Session],
    plan_id: int,
    jobs: dict[str, JobSpec],
    now: datetime,
    grace: timedelta,
    mailer: Mailer | None,
) -> list[str]:
    """Every reason the service is unhealthy; empty when all is well. `mailer` is checked
    only when given (deep health, or a backend that needs no network)."""
    try:
        with sessions() as session:
            session.execute(text("SELECT 1"))
            found = _job_problems(session, plan_id, jobs, now, grace)
            found += _delivery_problems(session, plan_id, now, grace)
    except SQLAlchemyError as exc:
        return [f"database unreachable: {str(exc).splitlines()[0]}"]
    if mailer is not None:
        try:
            mailer.check()
        except DeliveryError as exc:
            found.append(f"mail backend unreachable: {exc.reason}")
    return found


def _job_problems(
    session: Session, plan_id: int, jobs: dict[str, JobSpec], now: datetime, grace: timedelta
) -> list[str]:
    done = job_runs.last_succeeded(session, plan_id)
    first = job_runs.first_run(session, plan_id)
    if first is None:
        return ["no job has run yet: is 'planworker run' running?"]
    due = {}
    for name, spec in jobs.items():
        if name == "heartbeat":
            continue
        # A run may take a while: the period due `grace` ago must have succeeded.
        expected = latest_fire(spec.trigger, now - grace)
        if expected is None or expected < first:
            continue
        last = done.get(name)
        if last is None or last < expected:
            due[name] = expected
    if not due:
        return []
    failures = job_runs.failures_since(session, plan_id, min(due.values()))
    found = []
    for name, expected in due.items():
        zone = jobs[name].trigger.zone
        last = done.get(name)
        when = last.astimezone(zone).isoformat() if last else "never"
        failed = failures.get((name, expected))
        outcome = f"failed: {_reason(failed)}" if failed is not None else "has not succeeded"
        found.append(
            f"job {name}: the run due at {expected.astimezone(zone).isoformat()} {outcome} "
            f"(last success: {when})"
        )
    return found


def _reason(summary: str) -> str:
    try:
        recorded = json.loads(summary)
    except ValueError:
        return "no reason recorded"
    if not isinstance(recorded, dict):
        return "no reason recorded"
    return str(recorded.get("failure") or recorded.get("error") or "no reason recorded")


def _delivery_problems(
    session: Session, plan_id: int, now: datetime, grace: timedelta
) -> list[str]:
    """Messages refused for good lately, and messages that should have gone by now."""
    found = []
    mine = Message.plan_id == plan_id
    refused = and_(
        mine, Message.state == "failed", Message.next_attempt_at >= now - RECENT_FAILURES
    )
    count = session.scalar(select(func.count()).where(refused)) or 0
    if count:
        latest = session.execute(
            select(Message.recipient_email, Message.last_error)
            .where(refused)
            .order_by(Message.next_attempt_at.desc(), Message.id.desc())
            .limit(1)
        ).one()
        found.append(
            f"delivery: {count} message(s) failed permanently in the last "
            f"{_hours(RECENT_FAILURES)}, the latest to {latest.recipient_email}: "
            f"{latest.last_error or 'no reason recorded'} (planworker outbox --state failed)"
        )
    # Due for an attempt longer than the grace ago, or held by a worker whose lease ran out
    # that long ago: the retry tick every few minutes should have taken them.
    overdue = and_(
        mine,
        or_(
            and_(Message.state == "pending", Message.next_attempt_at < now - grace),
            and_(Message.state == "sending", Message.lease_until < now - grace),
        ),
    )
    count, since = session.execute(
        select(func.count(), func.min(Message.next_attempt_at)).where(overdue)
    ).one()
    if count:
        error = session.scalar(
            select(Message.last_error)
            .where(overdue, Message.last_error != "")
            .order_by(Message.next_attempt_at.desc(), Message.id.desc())
            .limit(1)
        )
        found.append(
            f"delivery: {count} message(s) waiting to be sent for more than "
            f"{_minutes(grace)}, due since {_utc(since).isoformat()}"
            + (f" (last error: {error})" if error else "")
        )
    return found


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _hours(span: timedelta) -> str:
    return f"{span // timedelta(hours=1)} hours"


def _minutes(span: timedelta) -> str:
    return f"{span // timedelta(minutes=1)} minutes"
