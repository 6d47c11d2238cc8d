"""The outbox: the ledger of planned and sent messages, and delivering them.

State machine of a message (docs/ledger.md):

    pending --claim--> sending --sent--> sent
       ^                  |  \\--permanent error, or attempts used up--> failed
       |                  |
       +--passing error---+   (retried after a growing wait)
       +--lease expired---+   (the worker that claimed it died; at most one duplicate)

Planning (`record`) and delivering (`deliver`) are separate transactions. Planning inserts a
message with its items in one transaction; the items' unique keys mean the same reminder is
never planned twice, by one run or by two instances. Delivering claims one message at a time
by compare-and-set, commits "sending" before talking to the mail server and "sent" after.
"""

from __future__ import annotations

import email.policy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from typing import Literal

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from worker.mail.backends import DeliveryError, Mailer, envelope_sender
from worker.models import Action, Message, Notification
from worker.rules.digest import Digest, Item, Recipient

State = Literal["pending", "sending", "sent", "failed"]
STATES: tuple[State, ...] = ("pending", "sending", "sent", "failed")
KEY_CHUNK = 500
# Stop a delivery run after this many passing failures in a row: the server is down, and
# waiting out a timeout per message would only delay the run. The rest stay pending.
GIVE_UP_AFTER_FAILURES_IN_A_ROW = 3
MAX_WAIT = timedelta(hours=6)


class LedgerRace(Exception):
    """Another worker planned some of the same reminders first; plan again."""


@dataclass(frozen=True, slots=True)
class Planned:
    """A rendered message for one digest, ready to go into the outbox."""

    digest: Digest
    message: EmailMessage
    message_id: str
    subject: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    retry_after: timedelta = timedelta(seconds=60)
    lease: timedelta = timedelta(seconds=300)


@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    stopped_early: str = ""  # why the run stopped with messages still waiting, if it did
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.retrying += other.retrying
        self.stopped_early = self.stopped_early or other.stopped_early
        self.errors += other.errors


def existing_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of these ledger keys are already recorded (checked in chunks, by index)."""
    wanted = sorted(set(keys))
    found: set[str] = set()
    for start in range(0, len(wanted), KEY_CHUNK):
        part = wanted[start : start + KEY_CHUNK]
        found.update(session.scalars(select(Notification.key).where(Notification.key.in_(part))))
    return found


def _item_row(message_row: int, email_address: str, item: Item) -> dict[str, object]:
    return {
        "key": item.key,
        "message_id": message_row,
        "action_id": item.action_id,
        "recipient_email": email_address,
        "section": item.section,
        "kind": item.kind,
        "threshold": item.threshold,
        "due_date": item.key_date or item.due,
        "rule": item.rule,
        "target_text": item.target_text,
        "precision": item.precision,
        "rag": item.rag,
        "state": item.state,
        "via": "; ".join(item.via),
        "reason": item.reason,
    }


def insert_message(
    session: Session,
    *,
    plan_id: int,
    job: str,
    as_of: date,
    recipient: Recipient,
    message: EmailMessage,
    message_id: str,
    subject: str,
    now: datetime,
) -> int:
    """Put one rendered message in the outbox as pending; its id."""
    return session.execute(
        insert(Message).returning(Message.id),
        {
            "plan_id": plan_id,
            "job": job,
            "as_of": as_of,
            "recipient_email": recipient.email,
            "recipient_name": recipient.name,
            "message_id": message_id,
            "subject": subject,
            "content": message.as_bytes(policy=email.policy.SMTP),
            "state": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
            "receipt": "",
            "last_error": "",
        },
    ).scalar_one()


def record(
    session: Session,
    planned: Sequence[Planned],
    *,
    plan_id: int,
    job: str,
    as_of: date,
    now: datetime,
) -> list[int]:
    """Put the messages and their items in the outbox (the caller commits). Raises
    LedgerRace if another worker recorded one of the items first."""
    ids = []
    for p in planned:
        recipient = p.digest.recipient
        try:
            # A savepoint, so a clash with another worker leaves this transaction usable.
            with session.begin_nested():
                message_row = insert_message(
                    session,
                    plan_id=plan_id,
                    job=job,
                    as_of=as_of,
                    recipient=recipient,
                    message=p.message,
                    message_id=p.message_id,
                    subject=p.subject,
                    now=now,
                )
                rows = [_item_row(message_row, recipient.email, i) for i in p.digest.items]
                session.execute(insert(Notification), rows)
        except IntegrityError as exc:
            # The same Message-ID or item key: another worker planned it first. Anything
            # else is a bug, and must not be retried as if it were a race.
            if "unique" not in str(exc.orig).lower():
                raise
            raise LedgerRace(str(exc.orig)) from None
        ids.append(message_row)
    return ids


# --- delivering --------------------------------------------------------------------------


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(Message.state == "pending", Message.next_attempt_at <= now),
        and_(Message.state == "sending", Message.lease_until < now),
    )


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    attempts: int
    recipient: str
    content: bytes


def claim_next(
    session: Session,
    now: datetime,
    lease: timedelta,
    plan_id: int | None = None,
    after_id: int = 0,
) -> Claim | None:
    """Claim the next message due for delivery with an id above `after_id`, or None.
    Commits, so other workers see the claim."""
    while True:
        query = (
            select(Message.id).where(_claimable(now), Message.id > after_id).order_by(Message.id)
        )
        if plan_id is not None:
            query = query.where(Message.plan_id == plan_id)
        candidate = session.scalars(query.limit(1)).first()
        if candidate is None:
            session.commit()
            return None
        # Compare-and-set: only one worker's UPDATE can match the still-claimable row.
        claimed = session.execute(
            update(Message)
            .where(Message.id == candidate, _claimable(now))
            .values(state="sending", lease_until=now + lease, attempts=Message.attempts + 1)
            .returning(Message.attempts, Message.recipient_email, Message.content)
        ).first()
        session.commit()
        if claimed is not None:
            return Claim(candidate, claimed.attempts, claimed.recipient_email, claimed.content)


def after_failure(
    attempts: int, error: DeliveryError, now: datetime, policy: RetryPolicy
) -> tuple[State, datetime]:
    """What a failed attempt leads to: retry later (waits doubling, capped) or give up."""
    if not error.transient or attempts >= policy.max_attempts:
        return "failed", now
    wait = min(policy.retry_after * 2 ** (attempts - 1), MAX_WAIT)
    return "pending", now + wait


def _finish(session: Session, claim: Claim, **values: object) -> None:
    # Only the holder of this claim may finish it (a lease that expired was re-claimed).
    session.execute(
        update(Message)
        .where(
            Message.id == claim.id,
            Message.state == "sending",
            Message.attempts == claim.attempts,
        )
        .values(lease_until=None, **values)
    )
    session.commit()


def _envelope_sender(content: bytes) -> str:
    """The From address of a stored message, read from its header block alone."""
    # The header block ends at the first empty line, which is at or before the first CRLF
    # CRLF, so parsing up to there reads exactly the headers a full parse would, without
    # walking the body line by line. (Content without one is parsed whole.)
    head, blank, _ = content.partition(b"\r\n\r\n")
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
    """Send every message that is due, one at a time, until none is left (or told to stop)."""
    report = DeliveryReport()
    in_a_row = 0
    last_id = 0  # each message is tried at most once per run, oldest first
    with sessions() as session, mailer:
        while not should_stop():
            claim = claim_next(session, clock(), policy.lease, plan_id, last_id)
            if claim is None:
                break
            last_id = claim.id
            try:
                sender = _envelope_sender(claim.content)
                receipt = mailer.send(claim.content, sender=sender, recipients=[claim.recipient])
            except DeliveryError as exc:
                now = clock()
                if exc.backend:
                    # Not this message's fault: it waits, unharmed, for the backend to be fixed.
                    _finish(
                        session,
                        claim,
                        state="pending",
                        attempts=claim.attempts - 1,
                        next_attempt_at=now,
                        last_error=exc.reason,
                    )
                    report.errors.append(exc.reason)
                    report.stopped_early = exc.reason
                    break
                state, next_at = after_failure(claim.attempts, exc, now, policy)
                _finish(session, claim, state=state, next_attempt_at=next_at, last_error=exc.reason)
                report.errors.append(f"{claim.recipient}: {exc.reason}")
                if state == "failed":
                    report.failed += 1
                else:
                    report.retrying += 1
                in_a_row = in_a_row + 1 if exc.transient else 0
                if in_a_row >= GIVE_UP_AFTER_FAILURES_IN_A_ROW:
                    report.stopped_early = f"{in_a_row} passing failures in a row: {exc.reason}"
                    break
                continue
            in_a_row = 0
            _finish(session, claim, state="sent", sent_at=clock(), receipt=receipt, last_error="")
            report.sent += 1
    return report


def counts(session: Session, plan_id: int | None = None) -> dict[str, int]:
    """How many messages are in each state."""
    query = select(Message.state, func.count()).group_by(Message.state)
    if plan_id is not None:
        query = query.where(Message.plan_id == plan_id)
    found: dict[str, int] = {state: n for state, n in session.execute(query)}
    return {state: found.get(state, 0) for state in STATES}


def list_messages(
    session: Session,
    *,
    plan_id: int | None = None,
    state: str | None = None,
    recipient: str | None = None,
    limit: int = 50,
) -> list[tuple[Message, list[tuple[str, Notification]]]]:
    """The newest messages matching the filters, each with its items (and action refs)."""

    query = select(Message).order_by(Message.id.desc()).limit(limit)
    if plan_id is not None:
        query = query.where(Message.plan_id == plan_id)
    if state is not None:
        query = query.where(Message.state == state)
    if recipient is not None:
        query = query.where(func.lower(Message.recipient_email) == recipient.lower())
    messages = list(session.scalars(query))
    items: dict[int, list[tuple[str, Notification]]] = {m.id: [] for m in messages}
    if messages:
        rows = session.execute(
            select(Action.ref, Notification)
            .join(Action, Action.id == Notification.action_id)
            .where(Notification.message_id.in_(list(items)))
            .order_by(Notification.id)
        )
        for ref, notification in rows:
            items[notification.message_id].append((ref, notification))
    return [(m, items[m.id]) for m in messages]


def mark_sent(session: Session, plan_id: int, now: datetime, *, receipt: str) -> None:
    """Mark every pending message of a plan sent without sending it (simulations only)."""
    session.execute(
        update(Message)
        .where(Message.plan_id == plan_id, Message.state == "pending")
        .values(state="sent", sent_at=now, attempts=Message.attempts + 1, receipt=receipt)
    )
