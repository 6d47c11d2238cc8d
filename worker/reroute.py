"""Queued messages whose recipient no longer holds the post: re-planned before delivery.

A reminder queued during an outage was addressed by the contacts directory of its day. If a
post has changed hands since (or fallen vacant), the job's own rules, run again for the
message's date with today's directory, give its items to someone else. Such a message is
taken out of the queue (only while still pending: one being sent is left alone) and its
actions are planned again in the same transaction, so the new holder, or whoever planning
falls back to, gets them. The new items record why in the ledger (`reason`), shown by
`planworker outbox`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from worker.models import Action, Message, MessageContent, Notification, Plan, table_of
from worker.remind import JOBS, DayPlan, RemindConfig, current_keys, render
from worker.store.outbox import LedgerRace, record

Group = tuple[str, date]  # a job and the date it was planned for


@dataclass(frozen=True, slots=True)
class Queued:
    """One item of a pending message, as the ledger holds it."""

    message_id: int
    job: str
    as_of: date
    key: str  # "<recipient>|<action>|<kind>|<threshold>|<due>[...]"
    action_id: int


@dataclass(frozen=True, slots=True)
class Move:
    """An item whose recipient changed: who it was queued for, and who has it now."""

    message_id: int
    group: Group
    action_id: int
    was: str
    now: tuple[str, ...]
    rest: str  # the key less its recipient

    def reason(self) -> str:
        return (
            f"re-routed: queued for {self.was} on {self.group[1].isoformat()}; the contacts "
            f"directory now gives it to {', '.join(self.now)}"
        )


def _split(key: str) -> tuple[str, str]:
    recipient, bar, rest = key.partition("|")
    return recipient.lower(), bar + rest


def moves(queued: Iterable[Queued], current: Mapping[Group, set[str]]) -> list[Move]:
    """The queued items that today's rules give to someone else instead (pure). An item the
    rules no longer give to anyone (the action was completed meanwhile) is left as it is."""
    holders: dict[Group, dict[str, set[str]]] = {}
    for group, keys in current.items():
        by_rest: dict[str, set[str]] = defaultdict(set)
        for key in keys:
            recipient, rest = _split(key)
            by_rest[rest].add(recipient)
        holders[group] = by_rest
    found = []
    for item in queued:
        group = (item.job, item.as_of)
        was, rest = _split(item.key)
        now = holders.get(group, {}).get(rest, set())
        if now and was not in now:
            holders_now = tuple(sorted(now))
            found.append(Move(item.message_id, group, item.action_id, was, holders_now, rest))
    return found


def _queued(session: Session, plan_id: int, before: datetime | None) -> list[Queued]:
    query = (
        select(Message.id, Message.job, Message.as_of, Notification.key, Notification.action_id)
        .join(Notification, Notification.message_id == Message.id)
        .where(
            Message.plan_id == plan_id,
            Message.state == "pending",
            Message.job.in_(sorted(JOBS)),
        )
    )
    if before is not None:
        query = query.where(Message.created_at < before)
    return [Queued(*row) for row in session.execute(query)]


def _take_out(session: Session, message_ids: Sequence[int]) -> set[int]:
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


def reroute(
    sessions: sessionmaker[Session],
    plan_id: int,
    config: RemindConfig,
    *,
    now: datetime,
    before: datetime | None = None,
) -> list[Move]:
    """Re-plan the pending messages (created before `before`, when given) whose items the
    current directory gives to someone else; what moved. One transaction."""
    with sessions() as session:
        queued = _queued(session, plan_id, before)
        if not queued:
            return []
        actions: dict[Group, set[int]] = defaultdict(set)
        for item in queued:
            actions[(item.job, item.as_of)].add(item.action_id)
        current = {
            group: current_keys(session, plan_id, config, group[1], group[0], ids)
            for group, ids in actions.items()
        }
        found = moves(queued, current)
        if not found:
            session.rollback()
            return []
        taken = _take_out(session, sorted({m.message_id for m in found}))
        found = [m for m in found if m.message_id in taken]
        try:
            again = _taken_actions(queued, taken)
            rendered_all = _plan_again(session, plan_id, config, now, again)
        except LedgerRace:
            # Another worker planned some of the same items meanwhile: leave the queue as
            # it was; the next delivery looks again.
            session.rollback()
            return []
        if not rendered_all:
            # A new recipient's message could not be made (a template or header problem):
            # leave the queue as it was rather than lose the items; the run reports the
            # problem when it plans that recipient itself.
            session.rollback()
            return []
        _note_reasons(session, found)
        session.commit()
    return found


def _plan_again(
    session: Session,
    plan_id: int,
    config: RemindConfig,
    now: datetime,
    actions: Mapping[Group, set[int]],
) -> bool:
    """Plan these actions' items again, as of each group's date, with today's directory;
    False as soon as a message fails to render (the caller rolls everything back)."""
    plan = session.get_one(Plan, plan_id)
    for (job, as_of), ids in actions.items():
        refs = set(session.scalars(select(Action.ref).where(Action.id.in_(sorted(ids)))))
        day = DayPlan(session, plan, config, as_of, job, only=refs)
        planned, errors = render(day.digests(day.recipients()), config, now, job)
        if errors:
            return False
        record(
            session,
            planned,
            plan_id=plan_id,
            job=job,
            as_of=as_of,
            now=now,
            sender=config.identity.sender.addr_spec,
        )
    return True


def _taken_actions(queued: Iterable[Queued], taken: set[int]) -> dict[Group, set[int]]:
    found: dict[Group, set[int]] = defaultdict(set)
    for item in queued:
        if item.message_id in taken:
            found[(item.job, item.as_of)].add(item.action_id)
    return found


_NOTIFICATIONS = table_of(Notification)
# Core, not ORM: an ORM bulk update would want each row's primary key.
_REASON = (
    update(_NOTIFICATIONS)
    .where(_NOTIFICATIONS.c.key == bindparam("b_key"))
    .values(reason=bindparam("b_reason"))
)


def _note_reasons(session: Session, found: Sequence[Move]) -> None:
    """Record on each new item why it went to its recipient and not the one queued."""
    rows = [
        {"b_key": recipient + move.rest, "b_reason": move.reason()}
        for move in found
        for recipient in move.now
    ]
    if rows:
        session.execute(_REASON, rows)
