"""The outbox queue as re-routing sees it: the items of pending messages, taking messages
out while still pending, and recording on new items why they went where they did."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from worker.models import Message, MessageContent, Notification, table_of


@dataclass(frozen=True, slots=True)
class Queued:
    """One item of a pending message, as the ledger holds it."""

    message_id: int
    job: str
    as_of: date
    key: str  # "<recipient>|<action>|<kind>|<threshold>|<due>[...]"
    action_id: int


def queued(
    session: Session, plan_id: int, jobs: Collection[str], before: datetime | None
) -> list[Queued]:
    """The items of the plan's pending messages of these jobs (created before `before`)."""
    query = (
        select(Message.id, Message.job, Message.as_of, Notification.key, Notification.action_id)
        .join(Notification, Notification.message_id == Message.id)
        .where(
            Message.plan_id == plan_id,
            Message.state == "pending",
            Message.job.in_(sorted(jobs)),
        )
    )
    if before is not None:
        query = query.where(Message.created_at < before)
    return [Queued(*row) for row in session.execute(query)]


def take_out(session: Session, message_ids: Sequence[int]) -> set[int]:
    """Remove these messages if still pending (compare-and-set); the ids removed."""
    taken = set(
        session.scalars(
            select(Message.id)
            .where(Message.id.in_(message_ids), Message.state == "pending")
            .with_for_update(skip_locked=True)
        )
    )
    if taken:
        ids = sorted(taken)
        session.execute(delete(Notification).where(Notification.message_id.in_(ids)))
        session.execute(delete(MessageContent).where(MessageContent.message_id.in_(ids)))
        session.execute(delete(Message).where(Message.id.in_(ids), Message.state == "pending"))
    return taken


_NOTIFICATIONS = table_of(Notification)
# Core, not ORM: an ORM bulk update would want each row's primary key.
_REASON = (
    update(_NOTIFICATIONS)
    .where(_NOTIFICATIONS.c.key == bindparam("b_key"))
    .values(reason=bindparam("b_reason"))
)


def note_reasons(session: Session, reasons: Iterable[tuple[str, str]]) -> None:
    """Record on each of these new items (by ledger key) why it went to its recipient."""
    rows = [{"b_key": key, "b_reason": reason} for key, reason in reasons]
    if rows:
        session.execute(_REASON, rows)
