"""Status-return requests in the database: who has returned since a cycle's request, and
recording a request (or chaser) with one ledger item per action it asks about."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from worker.models import Message, Notification, StatusChange
from worker.rules.digest import Recipient
from worker.rules.reminders import ActionFacts
from worker.rules.requests import Cycle, Step, ledger_key
from worker.store.outbox import NOTIFICATIONS, insert_message


def returned(session: Session, plan_id: int, cycle: Cycle, since: datetime) -> set[str]:
    """The lower-case addresses asked for a return in this cycle who have one: a change in
    the status history of an action they were asked about, recorded at or after `since`
    (the request day's start), by whoever recorded it (the lead, or the administrator from
    their reply or spreadsheet)."""
    query = (
        select(Notification.recipient_email)
        .distinct()
        .join(Message, Message.id == Notification.message_id)
        .join(StatusChange, StatusChange.action_id == Notification.action_id)
        .where(
            Message.plan_id == plan_id,
            Notification.kind == "request",
            Notification.due_date == cycle.digest,
            StatusChange.changed_at >= since,
        )
    )
    return {email.lower() for email in session.scalars(query)}


def chased(session: Session, plan_id: int, cycle: Cycle) -> list[tuple[str, int]]:
    """(lower-case lead address, action id) of every chaser item of this cycle."""
    query = (
        select(Notification.recipient_email, Notification.action_id)
        .join(Message, Message.id == Notification.message_id)
        .where(
            Message.plan_id == plan_id,
            Notification.kind == "chase",
            Notification.due_date == cycle.digest,
        )
    )
    return [(email.lower(), action_id) for email, action_id in session.execute(query)]


def record_request(
    session: Session,
    *,
    plan_id: int,
    step: Step,
    cycle: Cycle,
    as_of: date,
    to: Recipient,
    actions: Sequence[ActionFacts],
    content: bytes,
    sender: str,
    message_id: str,
    subject: str,
    now: datetime,
    suffix: str = "",
) -> None:
    """The message in the outbox and its items in the ledger, keyed per lead, action and
    cycle (IntegrityError when another worker recorded them first)."""
    row = insert_message(
        session,
        plan_id=plan_id,
        job="request",
        as_of=as_of,
        recipient=to,
        content=content,
        sender=sender,
        message_id=message_id,
        subject=subject,
        now=now,
    )
    rule = f"status-return {step} for the board digest of {cycle.digest.isoformat()}"
    items = [
        {
            "key": ledger_key(step, to.email, a.id, cycle) + suffix,
            "message_id": row,
            "action_id": a.id,
            "recipient_email": to.email.lower(),
            "section": "request",
            "kind": step,
            "threshold": 0,
            "due_date": cycle.digest,
            "rule": rule,
            "target_text": a.target_text,
            "precision": "",
            "rag": a.rag,
            "state": a.state,
            "via": "",
            "reason": "",
        }
        for a in actions
    ]
    session.execute(insert(NOTIFICATIONS), items)
