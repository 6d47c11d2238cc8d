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
from email.parser import BytesHeaderParser
from typing import Literal

from sqlalchemy import (
    ColumnElement,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from worker.mail.backends import DeadlinePassed, DeliveryError, Mailer, envelope_sender
from worker.models import Action, Message, MessageContent, Notification, table_of
from worker.rules.digest import Digest, Item, Recipient

State = Literal["pending", "sending", "sent", "failed"]
STATES: tuple[State, ...] = ("pending", "sending", "sent", "failed")
KEY_CHUNK = 500
# Messages claimed per statement by a delivery run (each still marked sent on its own).
CLAIM_BATCH = 50
# Stop a delivery run after this many passing failures in a row: the server is down, and
# waiting out a timeout per message would only delay the run. The rest stay pending.
GIVE_UP_AFTER_FAILURES_IN_A_ROW = 3
MAX_WAIT = timedelta(hours=6)
# Time allowed, besides a conversation's deadline, to record its outcome under the lease.
RENEW_MARGIN = timedelta(seconds=5)


MESSAGES = table_of(Message)
CONTENTS = table_of(MessageContent)
NOTIFICATIONS = table_of(Notification)


class LedgerRace(Exception):
    """Another worker planned some of the same reminders first; plan again."""


@dataclass(frozen=True, slots=True)
class Planned:
    """A rendered message for one digest, ready to go into the outbox."""

    digest: Digest
    content: bytes  # the whole message, CRLF line endings
    message_id: str
    subject: str


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


def _message_row(
    *,
    plan_id: int,
    job: str,
    as_of: date,
    recipient: Recipient,
    sender: str,
    message_id: str,
    subject: str,
    now: datetime,
) -> dict[str, object]:
    return {
        "sender": sender,
        "plan_id": plan_id,
        "job": job,
        "as_of": as_of,
        "recipient_email": recipient.email,
        "recipient_name": recipient.name,
        "message_id": message_id,
        "subject": subject,
        "state": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        "receipt": "",
        "last_error": "",
    }


def insert_message(
    session: Session,
    *,
    plan_id: int,
    job: str,
    as_of: date,
    recipient: Recipient,
    content: bytes,
    sender: str,
    message_id: str,
    subject: str,
    now: datetime,
) -> int:
    """Put one rendered message in the outbox as pending; its id. `sender` is the envelope
    sender: the address in the message's From header."""
    row = _message_row(
        plan_id=plan_id,
        job=job,
        as_of=as_of,
        recipient=recipient,
        sender=sender,
        message_id=message_id,
        subject=subject,
        now=now,
    )
    row_id: int = session.execute(insert(MESSAGES).returning(MESSAGES.c.id), row).scalar_one()
    session.execute(insert(CONTENTS), {"message_id": row_id, "content": content})
    return row_id


def record(
    session: Session,
    planned: Sequence[Planned],
    *,
    plan_id: int,
    job: str,
    as_of: date,
    now: datetime,
    sender: str,
) -> list[int]:
    """Put the messages and their items in the outbox, in two statements (the caller
    commits). Raises LedgerRace if another worker recorded one of the items first; the
    caller must then roll back."""
    if not planned:
        return []
    messages = [
        _message_row(
            plan_id=plan_id,
            job=job,
            as_of=as_of,
            recipient=p.digest.recipient,
            sender=sender,
            message_id=p.message_id,
            subject=p.subject,
            now=now,
        )
        for p in planned
    ]
    try:
        ids = list(
            session.scalars(
                insert(MESSAGES).returning(MESSAGES.c.id, sort_by_parameter_order=True),
                messages,
            )
        )
        contents = [
            {"message_id": i, "content": p.content} for i, p in zip(ids, planned, strict=True)
        ]
        session.execute(insert(CONTENTS), contents)
        items = [
            _item_row(message_row, p.digest.recipient.email, item)
            for message_row, p in zip(ids, planned, strict=True)
            for item in p.digest.items
        ]
        session.execute(insert(NOTIFICATIONS), items)
    except IntegrityError as exc:
        # The same Message-ID or item key: another worker planned it first. Anything else
        # is a bug, and must not be retried as if it were a race.
        if "unique" not in str(exc.orig).lower():
            raise
        raise LedgerRace(str(exc.orig)) from None
    return ids


# --- delivering --------------------------------------------------------------------------


def _claimable(now: datetime) -> ColumnElement[bool]:
    return MESSAGES.c.state.in_(["pending", "sending"]) & or_(
        and_(MESSAGES.c.state == "pending", MESSAGES.c.next_attempt_at <= now),
        and_(MESSAGES.c.state == "sending", MESSAGES.c.lease_until < now),
    )


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    attempts: int
    recipient: str
    sender: str  # "" for rows stored before the sender was
    content: bytes


def claim_batch(
    session: Session,
    now: datetime,
    lease: timedelta,
    plan_id: int | None = None,
    after_id: int = 0,
    size: int = CLAIM_BATCH,
) -> list[Claim]:
    """Claim up to `size` messages due for delivery with ids above `after_id`, oldest first.
    Commits, so other workers see the claims.

    One compare-and-set UPDATE: a row another worker claimed first no longer matches, and on
    PostgreSQL rows locked by another worker's claim are skipped rather than waited for.
    """
    candidates = select(MESSAGES.c.id).where(_claimable(now), MESSAGES.c.id > after_id)
    if plan_id is not None:
        candidates = candidates.where(MESSAGES.c.plan_id == plan_id)
    candidates = candidates.order_by(MESSAGES.c.id).limit(size).with_for_update(skip_locked=True)
    # A materialised CTE, not "id IN (subquery)": PostgreSQL may run such a subquery again
    # for each row it updates, and so ignore its LIMIT.
    picked = candidates.cte("picked").prefix_with("MATERIALIZED", dialect="postgresql")
    rows = session.execute(
        update(MESSAGES)
        .where(MESSAGES.c.id == picked.c.id, _claimable(now))
        .values(state="sending", lease_until=now + lease, attempts=MESSAGES.c.attempts + 1)
        .returning(
            MESSAGES.c.id, MESSAGES.c.attempts, MESSAGES.c.recipient_email, MESSAGES.c.sender
        )
    ).all()
    session.commit()  # the claims are visible to other workers before anything is sent
    if not rows:
        return []
    contents = dict(
        session.execute(
            select(CONTENTS.c.message_id, CONTENTS.c.content).where(
                CONTENTS.c.message_id.in_([row.id for row in rows])
            )
        ).all()
    )
    session.commit()
    claims = (Claim(id_, attempts, to, sender, contents[id_]) for id_, attempts, to, sender in rows)
    return sorted(claims, key=lambda c: c.id)


def claim_next(
    session: Session,
    now: datetime,
    lease: timedelta,
    plan_id: int | None = None,
    after_id: int = 0,
) -> Claim | None:
    """Claim the next message due for delivery with an id above `after_id`, or None."""
    found = claim_batch(session, now, lease, plan_id, after_id, size=1)
    return found[0] if found else None


def renew(session: Session, claims: Sequence[Claim], now: datetime, lease: timedelta) -> set[int]:
    """Extend these claims' lease to `now + lease` where this worker still holds them (same
    attempt, still sending): a compare-and-set, one statement. Commits; the ids still held."""
    if not claims:
        return set()
    held = session.scalars(
        update(MESSAGES)
        .where(
            tuple_(MESSAGES.c.id, MESSAGES.c.attempts).in_([(c.id, c.attempts) for c in claims]),
            MESSAGES.c.state == "sending",
        )
        .values(lease_until=now + lease)
        .returning(MESSAGES.c.id)
    ).all()
    session.commit()
    return set(held)


def after_failure(
    attempts: int, error: DeliveryError, now: datetime, policy: RetryPolicy
) -> tuple[State, datetime]:
    """What a failed attempt leads to: retry later (waits doubling, capped) or give up."""
    if not error.transient or attempts >= policy.max_attempts:
        return "failed", now
    wait = min(policy.retry_after * 2 ** (attempts - 1), MAX_WAIT)
    return "pending", now + wait


# Finishing a claim: only its holder may (a lease that expired was claimed again, with one
# more attempt). Built once: a delivery run executes them once per message.
_HELD = (
    (MESSAGES.c.id == bindparam("b_id"))
    & (MESSAGES.c.state == "sending")
    & (MESSAGES.c.attempts == bindparam("b_attempts"))
)
_SENT = (
    update(MESSAGES)
    .where(_HELD)
    .values(
        state="sent",
        lease_until=None,
        sent_at=bindparam("b_at"),
        receipt=bindparam("b_receipt"),
        last_error="",
    )
)
_NOT_SENT = (
    update(MESSAGES)
    .where(_HELD)
    .values(
        state=bindparam("b_state"),
        lease_until=None,
        attempts=bindparam("b_attempts_after"),
        next_attempt_at=bindparam("b_at"),
        last_error=bindparam("b_error"),
    )
)


def _fast_commits(session: Session) -> None:
    """On PostgreSQL, let this transaction's commit return before its record reaches the
    disk. Only a crash of the database server itself can then lose it, and what is lost is
    a "sent" mark: that message is sent once more after its lease, never lost
    (docs/ledger.md)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def _mark_sent(session: Session, claim: Claim, at: datetime, receipt: str) -> None:
    _fast_commits(session)
    params = {"b_id": claim.id, "b_attempts": claim.attempts, "b_at": at, "b_receipt": receipt}
    session.execute(_SENT, params)
    session.commit()


def _mark_not_sent(
    session: Session, claim: Claim, state: State, at: datetime, error: str, *, count: bool = True
) -> None:
    """Back to pending (to retry at `at`) or failed. `count=False` gives the attempt back:
    the message was never tried (the backend was down, or the run stopped first)."""
    session.execute(
        _NOT_SENT,
        {
            "b_id": claim.id,
            "b_attempts": claim.attempts,
            "b_state": state,
            "b_attempts_after": claim.attempts if count else claim.attempts - 1,
            "b_at": at,
            "b_error": error,
        },
    )
    session.commit()


def _release(session: Session, claims: Sequence[Claim], now: datetime) -> None:
    """Hand back claimed messages that were not tried, for this or another worker."""
    if not claims:
        return
    rows = [
        {
            "b_id": c.id,
            "b_attempts": c.attempts,
            "b_state": "pending",
            "b_attempts_after": c.attempts - 1,
            "b_at": now,
            "b_error": "",
        }
        for c in claims
    ]
    session.execute(_NOT_SENT, rows)
    session.commit()


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
    interrupt = getattr(mailer, "stop_when", None)
    if interrupt is not None:
        interrupt(should_stop)  # a stop request also ends a conversation in progress
    with sessions() as session, mailer:
        while not should_stop():
            claimed_at = clock()
            batch = claim_batch(session, claimed_at, policy.lease, plan_id, last_id)
            if not batch:
                break
            last_id = batch[-1].id
            held, held_until = {c.id for c in batch}, claimed_at + policy.lease
            for index, claim in enumerate(batch):
                now = clock()
                if should_stop() or report.stopped_early:
                    _release(session, [c for c in batch[index:] if c.id in held], now)
                    break
                if held_until - now <= policy.send_deadline + RENEW_MARGIN:
                    rest = [c for c in batch[index:] if c.id in held]
                    held, held_until = renew(session, rest, now, policy.lease), now + policy.lease
                if claim.id not in held:
                    continue  # its lease ran out and another worker has taken it over
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
            _mark_not_sent(session, claim, "pending", now, exc.reason, count=False)
            report.errors.append(exc.reason)
            report.stopped_early = exc.reason
            return in_a_row
        state, next_at = after_failure(claim.attempts, exc, now, policy)
        _mark_not_sent(session, claim, state, next_at, exc.reason)
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
    _mark_sent(session, claim, clock(), receipt)
    report.sent += 1
    return 0


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
