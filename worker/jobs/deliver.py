"""Delivering the outbox: the last step of every job's pipeline.

Takes the messages that are due a batch at a time (worker/store/claims.py), sends each
through a mailer and records how it went; a failed attempt is retried after a growing wait,
or given up (docs/ledger.md).
"""

from __future__ import annotations

import email.policy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.parser import BytesHeaderParser

from sqlalchemy.orm import Session, sessionmaker

from worker.mail.backends import Mailer
from worker.mail.envelope import envelope_sender
from worker.mail.errors import DeadlinePassed, DeliveryError
from worker.store.claims import (
    Claim,
    Contents,
    claim_batch,
    mark_delivered,
    mark_not_sent,
    release,
    renew,
)
from worker.store.outbox import State

# Stop a delivery run after this many passing failures in a row: the server is down, and
# waiting out a timeout per message would only delay the run. The rest stay pending.
GIVE_UP_AFTER_FAILURES_IN_A_ROW = 3
MAX_WAIT = timedelta(hours=6)
# Time allowed, besides a conversation's deadline, to record its outcome under the lease.
RENEW_MARGIN = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    retry_after: timedelta = timedelta(seconds=60)
    lease: timedelta = timedelta(seconds=300)
    # The longest one message's conversation with the backend may take (< lease): a claim
    # is renewed before a send that could otherwise outlast it.
    send_deadline: timedelta = timedelta(seconds=180)


@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    stopped_early: str = ""  # why the run stopped with messages still waiting, if it did
    errors: list[str] = field(default_factory=list)
    failed_ids: list[int] = field(default_factory=list)  # the messages that failed for good

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.failed_ids += other.failed_ids
        self.retrying += other.retrying
        self.stopped_early = self.stopped_early or other.stopped_early
        self.errors += other.errors


def after_failure(
    attempts: int, error: DeliveryError, now: datetime, policy: RetryPolicy
) -> tuple[State, datetime]:
    """What a failed attempt leads to: retry later (waits doubling, capped) or give up."""
    if not error.transient or attempts >= policy.max_attempts:
        return "failed", now
    wait = min(policy.retry_after * 2 ** (attempts - 1), MAX_WAIT)
    return "pending", now + wait


def _envelope_sender(claim: Claim) -> str:
    """The envelope sender: stored with the message, or read from an older row's From."""
    if claim.sender:
        return claim.sender
    # The header block ends at the first empty line, which is at or before the first CRLF
    # CRLF, so parsing up to there reads exactly the headers a full parse would, without
    # walking the body line by line. (Content without one is parsed whole.)
    head, blank, _ = claim.content.partition(b"\r\n\r\n")
    headers = BytesHeaderParser(policy=email.policy.default).parsebytes(head + blank)
    return envelope_sender(headers)


def deliver(
    sessions: sessionmaker[Session],
    mailer: Mailer,
    *,
    clock: Callable[[], datetime],
    policy: RetryPolicy,
    plan_id: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> DeliveryReport:
    """Send every message that is due, oldest first, until none is left (or told to stop).

    Messages are claimed a batch at a time and marked one at a time, each right after the
    server accepts it: a crash can repeat at most the one message in flight. Before a send
    that could outlast what is left of the lease, the claims still to send are renewed, so
    a live worker's message is never taken over (a send ends by its deadline, which is
    shorter than the lease). Claims not yet tried go back to pending when the run stops.
    """
    report = DeliveryReport()
    in_a_row = 0
    last_id = 0  # each message is tried at most once per run, oldest first
    mailer.stop_when(should_stop)  # a stop request also ends a conversation in progress
    with sessions() as session, mailer:
        while not should_stop():
            claimed_at = clock()
            batch = claim_batch(session, claimed_at, policy.lease, plan_id, last_id)
            if not batch:
                break
            last_id = batch[-1].id
            contents = Contents(session, batch)
            held, held_until = {c.id for c in batch}, claimed_at + policy.lease
            for index, claim in enumerate(batch):
                now = clock()
                if should_stop() or report.stopped_early:
                    release(session, [c for c in batch[index:] if c.id in held], now)
                    break
                if held_until - now <= policy.send_deadline + RENEW_MARGIN:
                    rest = [c for c in batch[index:] if c.id in held]
                    held, held_until = renew(session, rest, now, policy.lease), now + policy.lease
                if claim.id not in held:
                    continue  # its lease ran out and another worker has taken it over
                claim = contents.of(claim)
                in_a_row = _deliver_one(session, mailer, claim, clock, policy, report, in_a_row)
            if report.stopped_early:
                break
    return report


def _deliver_one(
    session: Session,
    mailer: Mailer,
    claim: Claim,
    clock: Callable[[], datetime],
    policy: RetryPolicy,
    report: DeliveryReport,
    in_a_row: int,
) -> int:
    """Send one claimed message and record what happened; the new count of passing
    failures in a row. Sets report.stopped_early when the run should stop."""
    try:
        sender = _envelope_sender(claim)
        receipt = mailer.send(claim.content, sender=sender, recipients=[claim.recipient])
    except DeliveryError as exc:
        now = clock()
        if exc.backend:
            # Not this message's fault: it waits, unharmed, for the backend to be fixed.
            mark_not_sent(session, claim, "pending", now, exc.reason, count=False)
            report.errors.append(exc.reason)
            report.stopped_early = exc.reason
            return in_a_row
        state, next_at = after_failure(claim.attempts, exc, now, policy)
        mark_not_sent(session, claim, state, next_at, exc.reason)
        report.errors.append(f"{claim.recipient}: {exc.reason}")
        if state == "failed":
            report.failed += 1
            report.failed_ids.append(claim.id)
        else:
            report.retrying += 1
        in_a_row = in_a_row + 1 if exc.transient else 0
        if in_a_row >= GIVE_UP_AFTER_FAILURES_IN_A_ROW:
            report.stopped_early = f"{in_a_row} passing failures in a row: {exc.reason}"
        elif isinstance(exc, DeadlinePassed):
            # A server this slow would hold the run a deadline per message: try later.
            report.stopped_early = exc.reason
        return in_a_row
    mark_delivered(session, claim, clock(), receipt)
    report.sent += 1
    return 0
