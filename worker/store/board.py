"""The board digest's records: what the last digest saw (so the next can say what changed),
the plan's work streams and phases as the board view shows them, and whether a date's
digest is already done."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date, datetime, time
from itertools import islice
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, insert, or_, select
from sqlalchemy.orm import Session

from worker.models import (
    Action,
    BoardDigestEntry,
    BoardDigestRun,
    Message,
    Phase,
    StatusChange,
    WorkStream,
)
from worker.moments import in_zone
from worker.rules.board import Cycle, RagName, Report
from worker.rules.board_changes import Seen
from worker.rules.board_view import StreamInfo

# Digest entries inserted per statement.
SEEN_BATCH = 5000


def last_digest(session: Session, plan_id: int, as_of: date) -> tuple[int, date] | None:
    """The id and date of the last digest before `as_of`."""
    found = session.execute(
        select(BoardDigestRun.id, BoardDigestRun.as_of)
        .where(BoardDigestRun.plan_id == plan_id, BoardDigestRun.as_of < as_of)
        .order_by(BoardDigestRun.as_of.desc())
        .limit(1)
    ).first()
    return (found.id, found.as_of) if found is not None else None


def places(
    session: Session, condition: ColumnElement[bool], digest_id: int | None
) -> tuple[dict[int, int], dict[int, Seen] | None]:
    """For the actions matching `condition` (a chunk of a plan): each one's position, its
    place in plan order with its id; and what the digest `digest_id` saw of them (None with
    no digest). One query: the digest's entries are found by their primary key."""
    if digest_id is None:
        rows = session.execute(select(Action.id, Action.position).where(condition))
        return {action_id: position for action_id, position in rows}, None
    entry = (BoardDigestEntry.action_id == Action.id) & (BoardDigestEntry.digest_id == digest_id)
    query = (
        select(Action.id, Action.position, BoardDigestEntry.rag, BoardDigestEntry.state)
        .outerjoin(BoardDigestEntry, entry)
        .where(condition)
    )
    positions: dict[int, int] = {}
    seen: dict[int, Seen] = {}
    for action_id, position, rag, state in session.execute(query):
        positions[action_id] = position
        if rag is not None:
            seen[action_id] = Seen(cast(RagName, rag), state)
    return positions, seen


def streams(session: Session, plan_id: int) -> list[StreamInfo]:
    return [
        StreamInfo(ws.number, ws.title, ws.phase, ws.strategic_lead)
        for ws in session.scalars(select(WorkStream).where(WorkStream.plan_id == plan_id))
    ]


def phases(session: Session, plan_id: int) -> dict[int, str]:
    rows = session.execute(select(Phase.number, Phase.title).where(Phase.plan_id == plan_id))
    return {number: title for number, title in rows}


def done(session: Session, plan_id: int, as_of: date) -> bool:
    """Whether this date's digest is recorded."""
    found = session.scalars(
        select(BoardDigestRun.id).where(
            BoardDigestRun.plan_id == plan_id, BoardDigestRun.as_of == as_of
        )
    ).first()
    return found is not None


def any_queued(session: Session, message_ids: Collection[str]) -> bool:
    """Whether any of these messages is in the outbox (a digest dated ahead is not recorded
    as its date's digest: its messages say whether it went out)."""
    found = session.scalars(
        select(Message.id).where(Message.message_id.in_(list(message_ids)))
    ).first()
    return found is not None


def record_seen(
    session: Session, plan_id: int, as_of: date, now: datetime, seen: Iterable[tuple[int, Seen]]
) -> None:
    """Record this date's digest and what it saw, for the next one to compare against."""
    run = session.execute(
        insert(BoardDigestRun).returning(BoardDigestRun.id),
        {"plan_id": plan_id, "as_of": as_of, "created_at": now},
    ).scalar_one()
    # A batch of rows at a time: a plan's worth of parameter dicts at once is hundreds of MB.
    items = iter(seen)
    while part := list(islice(items, SEEN_BATCH)):
        entries = [
            {"digest_id": run, "action_id": a, "rag": s.rag, "state": s.state} for a, s in part
        ]
        session.execute(insert(BoardDigestEntry), entries)


def _midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(timezone))


def cycle(session: Session, plan_id: int, start: date, as_of: date, timezone: str) -> Cycle:
    """The digest cycle from `start` to the day before `as_of` (in the plan's time zone): the
    plan's status history dated in it, and when each action now reported Red was last
    reported Red after it was not. Two queries."""
    begin, end = _midnight(start, timezone), _midnight(as_of, timezone)
    rows = session.execute(
        select(
            StatusChange.action_id,
            StatusChange.changed_at,
            StatusChange.changed_by,
            StatusChange.source,
            StatusChange.rag_from,
            StatusChange.rag_to,
            StatusChange.state_from,
            StatusChange.state_to,
            StatusChange.note,
            StatusChange.target_from,
            StatusChange.target_to,
        )
        .join(Action, Action.id == StatusChange.action_id)
        .where(
            Action.plan_id == plan_id,
            Action.archived.is_(False),
            StatusChange.changed_at >= begin,
            StatusChange.changed_at < end,
        )
        .order_by(StatusChange.changed_at, StatusChange.id)
    )
    reports = tuple(
        Report(a, at, by or "", src or "", rf, rt, sf, st, note or "", tf, tt)
        for a, at, by, src, rf, rt, sf, st, note, tf, tt in rows
    )
    turned_red = (
        select(StatusChange.action_id, func.max(StatusChange.changed_at))
        .join(Action, Action.id == StatusChange.action_id)
        .where(
            Action.plan_id == plan_id,
            Action.archived.is_(False),
            Action.rag == "red",
            StatusChange.rag_to == "red",
            or_(StatusChange.rag_from.is_(None), StatusChange.rag_from != "red"),
            StatusChange.changed_at < end,
        )
        .group_by(StatusChange.action_id)
    )
    red_since = {a: in_zone(at, timezone).date() for a, at in session.execute(turned_red)}
    return Cycle(start, reports, red_since)
