"""The outbox: the ledger of planned and sent messages.

State machine of a message (docs/ledger.md):

    pending --claim--> sending --sent--> sent
       ^                  |  \\--permanent error, or attempts used up--> failed
       |                  |
       +--passing error---+   (retried after a growing wait)
       +--lease expired---+   (the worker that claimed it died; at most one duplicate)

Planning (`record`, here) and delivering (worker/jobs/deliver.py, claiming through
worker/store/claims.py) are separate transactions. Planning inserts a message with its items
in one transaction; the items' unique keys mean the same reminder is never planned twice, by
one run or by two instances. Delivering claims messages by compare-and-set, commits
"sending" before talking to the mail server and "sent" after.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from typing import Literal

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from worker.models import Action, Message, MessageContent, Notification, table_of
from worker.rules.digest import Digest, LedgerEntry, Recipient
from worker.store.rows import insert_many, plain_rows
from worker.store.value_list import in_values

State = Literal["pending", "sending", "sent", "failed"]
STATES: tuple[State, ...] = ("pending", "sending", "sent", "failed")
KEY_CHUNK = 500
ROW_CHUNK = 2000

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


def existing_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of these ledger keys are already recorded (checked in chunks, by index)."""
    wanted = sorted(set(keys))
    found: set[str] = set()
    for start in range(0, len(wanted), KEY_CHUNK):
        part = wanted[start : start + KEY_CHUNK]
        found.update(
            plain_rows(
                session, select(Notification.key).where(in_values(Notification.key, part))
            ).scalars()
        )
    return found


# The ledger's columns, in the order _item_row gives them.
ITEM_COLUMNS = (
    "key",
    "message_id",
    "action_id",
    "recipient_email",
    "section",
    "kind",
    "threshold",
    "due_date",
    "rule",
    "target_text",
    "precision",
    "rag",
    "state",
    "via",
    "reason",
)


def _item_row(message_row: int, email_address: str, item: LedgerEntry) -> tuple[object, ...]:
    return (
        item.key,
        message_row,
        item.action_id,
        email_address,
        item.section,
        item.kind,
        item.threshold,
        item.ledger_date,
        item.rule,
        item.target_text,
        item.precision,
        item.rag,
        item.state,
        "; ".join(item.via),
        item.reason,
    )


def _batch_columns(
    plan_id: int, job: str, as_of: date, sender: str, now: datetime
) -> dict[str, object]:
    """The columns all the messages one call records share: their origin, and their start
    as pending, due now."""
    return {
        "sender": sender,
        "plan_id": plan_id,
        "job": job,
        "as_of": as_of,
        "state": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        "receipt": "",
        "last_error": "",
    }


def _message_row(
    batch: dict[str, object], recipient: Recipient, message_id: str, subject: str
) -> dict[str, object]:
    return {
        **batch,
        "recipient_email": recipient.email,
        "recipient_name": recipient.name,
        "message_id": message_id,
        "subject": subject,
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
    batch = _batch_columns(plan_id, job, as_of, sender, now)
    row = _message_row(batch, recipient, message_id, subject)
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
    batch = _batch_columns(plan_id, job, as_of, sender, now)
    messages = [_message_row(batch, p.digest.recipient, p.message_id, p.subject) for p in planned]
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
        items = (
            _item_row(message_row, p.digest.recipient.email, item)
            for message_row, p in zip(ids, planned, strict=True)
            for item in p.digest.all_items
        )
        # A statement per ROW_CHUNK rows, in the same transaction: a large plan's digest to
        # the administrator carries tens of thousands of items, and their rows, built all at
        # once, were the largest thing a 1M-action run held.
        while rows := list(islice(items, ROW_CHUNK)):
            insert_many(session, NOTIFICATIONS, ITEM_COLUMNS, rows)
    except IntegrityError as exc:
        # The same Message-ID or item key: another worker planned it first. Anything else
        # is a bug, and must not be retried as if it were a race.
        if "unique" not in str(exc.orig).lower():
            raise
        raise LedgerRace(str(exc.orig)) from None
    return ids


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
