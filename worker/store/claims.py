"""Claiming outbox messages for delivery and recording how each attempt ended.

Every statement here is a compare-and-set on the message's state and attempt number, so a
message is held by one worker at a time: a claim takes only rows still due, and only the
holder of a claim (same attempt, still sending) may renew it or finish it. A lease that ran
out was claimed again, with one more attempt, and the old holder's marks no longer match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, bindparam, func, or_, select, text, tuple_, update
from sqlalchemy.orm import Session

from worker.store.outbox import CONTENTS, MESSAGES, State

# Messages claimed per statement by a delivery run (each still marked sent on its own).
CLAIM_BATCH = 50


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    attempts: int
    recipient: str
    sender: str  # "" for rows stored before the sender was
    content: bytes  # b"" until read (Contents)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return MESSAGES.c.state.in_(["pending", "sending"]) & or_(
        and_(MESSAGES.c.state == "pending", MESSAGES.c.next_attempt_at <= now),
        and_(MESSAGES.c.state == "sending", MESSAGES.c.lease_until < now),
    )


def claim_batch(
    session: Session,
    now: datetime,
    lease: timedelta,
    plan_id: int | None = None,
    after_id: int = 0,
    size: int = CLAIM_BATCH,
) -> list[Claim]:
    """Claim up to `size` messages due for delivery with ids above `after_id`, oldest first.
    Commits, so other workers see the claims. Their bytes are read apart (`Contents`).

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
    claims = (Claim(id_, attempts, to, sender, b"") for id_, attempts, to, sender in rows)
    return sorted(claims, key=lambda c: c.id)


# Bytes of message content a delivery run reads in one statement, ahead of sending them.
CONTENT_BYTES = 2 * 1024 * 1024


class Contents:
    """A claimed batch's message bytes, read as the run reaches each message: the next
    messages whose bytes fit in `budget` together (at least one) in one statement. Reading
    them one at a time cost three round trips a message on PostgreSQL (the pool's check of
    the connection, the read, the commit), half a delivery run's time; a whole batch of large
    digests read at once would hold tens of megabytes."""

    def __init__(self, session: Session, claims: Sequence[Claim], budget: int = CONTENT_BYTES):
        self._session = session
        self._order = [c.id for c in claims]
        self._budget = budget
        self._sizes: dict[int, int] | None = None
        self._read: dict[int, bytes] = {}

    def of(self, claim: Claim) -> Claim:
        """The claim with its message's bytes. Ends the read's transaction: on SQLite every
        transaction takes the write lock, and a slow server must not hold other workers up."""
        if claim.id not in self._read:
            self._read = self._group_from(claim.id)
            self._session.commit()
        content = self._read.pop(claim.id, None)
        if content is None:
            raise LookupError(f"outbox message {claim.id} has no stored content")
        return replace(claim, content=content)

    def held(self) -> int:
        """Bytes read and not yet handed out."""
        return sum(len(c) for c in self._read.values())

    def _group_from(self, first: int) -> dict[int, bytes]:
        if self._sizes is None:
            # The sizes alone: neither database reads a value's bytes to give its length.
            self._sizes = dict(
                self._session.execute(
                    select(CONTENTS.c.message_id, func.length(CONTENTS.c.content)).where(
                        CONTENTS.c.message_id.in_(self._order)
                    )
                ).all()
            )
        ids: list[int] = []
        held = 0
        for id_ in self._order[self._order.index(first) :]:
            size = self._sizes.get(id_, 0)
            if ids and held + size > self._budget:
                break
            ids.append(id_)
            held += size
        rows = self._session.execute(
            select(CONTENTS.c.message_id, CONTENTS.c.content).where(CONTENTS.c.message_id.in_(ids))
        )
        return dict(rows.all())


def claim_next(
    session: Session,
    now: datetime,
    lease: timedelta,
    plan_id: int | None = None,
    after_id: int = 0,
) -> Claim | None:
    """Claim the next message due for delivery with an id above `after_id`, with its bytes,
    or None."""
    found = claim_batch(session, now, lease, plan_id, after_id, size=1)
    return Contents(session, found).of(found[0]) if found else None


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


def mark_delivered(session: Session, claim: Claim, at: datetime, receipt: str) -> None:
    """The server accepted the claimed message: sent, with its receipt. Commits."""
    _fast_commits(session)
    params = {"b_id": claim.id, "b_attempts": claim.attempts, "b_at": at, "b_receipt": receipt}
    session.execute(_SENT, params)
    session.commit()


def _not_sent(
    claim: Claim, state: State, at: datetime, error: str, count: bool
) -> dict[str, object]:
    return {
        "b_id": claim.id,
        "b_attempts": claim.attempts,
        "b_state": state,
        "b_attempts_after": claim.attempts if count else claim.attempts - 1,
        "b_at": at,
        "b_error": error,
    }


def mark_not_sent(
    session: Session, claim: Claim, state: State, at: datetime, error: str, *, count: bool = True
) -> None:
    """Back to pending (to retry at `at`) or failed. `count=False` gives the attempt back:
    the message was never tried (the backend was down, or the run stopped first)."""
    session.execute(_NOT_SENT, _not_sent(claim, state, at, error, count))
    session.commit()


def release(session: Session, claims: Sequence[Claim], now: datetime) -> None:
    """Hand back claimed messages that were not tried, for this or another worker."""
    if not claims:
        return
    session.execute(_NOT_SENT, [_not_sent(c, "pending", now, "", False) for c in claims])
    session.commit()
