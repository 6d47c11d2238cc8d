"""The status history the board's progress chart is rebuilt from (rules/progress.py): one
query for the whole plan's RAG and state changes (a row after the day charted still says,
in its "before", what the action was on that day)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.models import Action, StatusChange
from worker.moments import as_utc
from worker.rules.progress import Change


def history(session: Session, plan_id: int, timezone: str) -> list[Change]:
    """The current actions' status history in the order it was made, each row dated in the
    plan's time zone."""
    zone = ZoneInfo(timezone)
    rows = session.execute(
        select(
            StatusChange.action_id,
            StatusChange.changed_at,
            StatusChange.rag_from,
            StatusChange.rag_to,
            StatusChange.state_from,
            StatusChange.state_to,
        )
        .join(Action, Action.id == StatusChange.action_id)
        .where(Action.plan_id == plan_id, Action.archived.is_(False))
        .order_by(StatusChange.changed_at, StatusChange.id)
    )
    return [
        Change(action, local_day(at, zone), rag_from, rag_to, state_from, state_to)
        for action, at, rag_from, rag_to, state_from, state_to in rows
    ]


def local_day(at: datetime, zone: ZoneInfo) -> date:
    return as_utc(at).astimezone(zone).date()
