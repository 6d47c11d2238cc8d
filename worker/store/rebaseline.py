"""Moving an action's target date on purpose (`plan rebaseline`), with a trail: the target
text and the dates read from it change, and the action's history records the old and the
new target, the reason and who decided, so the board reads "re-baselined from ... to ..."
and never a silent recovery."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from worker.errors import PlanworkerError
from worker.models import Action, StatusChange, table_of
from worker.plan.dates import MonthDay, ReadDate, read_date
from worker.store.action_links import Actions, of_actions
from worker.store.plan_dates import date_values
from worker.store.status import history_row

SOURCE = "rebaseline"
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


def new_target_text(text: str, month_day: MonthDay) -> tuple[str, date]:
    """The target text to store for `--to TEXT`, and the date it is due: an exact day is
    written out in full ("31 October 2012", whatever form it was typed in), a month or a
    season as typed ("October 2012"). Raises ValueError naming the value and the reason."""
    typed = " ".join(text.split())
    if not typed:
        raise ValueError("--to must give the new target date, e.g. 31 October 2012")
    read = read_date(typed, month_day=month_day)
    if read.due is None:
        raise ValueError(f"--to {typed!r} is not a date planworker can read: {_why(read)}")
    if read.precision == "day":
        return f"{read.due.day} {read.due:%B %Y}", read.due
    return typed, read.due


def _why(read: ReadDate) -> str:
    """Why a --to value gave no date."""
    text = read.text
    if read.recurrence is not None:
        return "it is a recurrence, not a target date"
    named = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]+)\s+(\d{4})", text)
    month = _MONTHS.get(named.group(2)[:3].casefold()) if named else None
    try:
        if named and month:
            date(int(named.group(3)), month, int(named.group(1)))
        elif text[:4].isdigit() and "-" in text:
            date.fromisoformat(text)
    except ValueError as exc:
        return str(exc)  # "day is out of range for month"
    return "write a day, month or season, e.g. 31 October 2012, 2012-10-31 or October 2012"


@dataclass(frozen=True, slots=True)
class Rebaseline:
    """One deliberate move of an action's target."""

    ref: str
    to: str  # as typed
    note: str  # why
    by: str
    at: datetime
    source: str = SOURCE


@dataclass(frozen=True, slots=True)
class Moved:
    """What a rebaseline did: the target text before and after, and the dates read."""

    ref: str
    target_from: str
    target_to: str
    due_from: date | None
    due_to: date

    @property
    def changed(self) -> bool:
        return self.target_from != self.target_to


def rebaseline(session: Session, plan_id: int, change: Rebaseline, month_day: MonthDay) -> Moved:
    """Move the action's target in the open transaction and record it in its history. A
    target already as asked changes nothing. Raises PlanworkerError for an unknown ID, an
    unreadable date, an empty note or name, or a target before the action's start."""
    if not change.note.strip():
        raise PlanworkerError("--note must say why the target moves (it goes in the history)")
    if not change.by.strip():
        raise PlanworkerError("--by must name who decided the move")
    try:
        target, due = new_target_text(change.to, month_day)
    except ValueError as exc:
        raise PlanworkerError(str(exc)) from None
    found = session.execute(
        select(
            Action.id,
            Action.target_text,
            Action.start_text,
            Action.due_date,
            Action.rag,
            Action.state,
        ).where(Action.plan_id == plan_id, Action.ref == change.ref, Action.archived.is_(False))
    ).one_or_none()
    if found is None:
        raise PlanworkerError(f"no action {change.ref!r} in this plan")
    values = date_values(found.start_text, target, month_day)
    start = values["start_date"]
    if start is not None and due < start:
        raise PlanworkerError(
            f"--to {change.to!r} ({due:%d %B %Y}) is before {change.ref}'s start "
            f"({found.start_text}): give a target on or after it"
        )
    moved = Moved(change.ref, found.target_text, target, found.due_date, due)
    if not moved.changed:
        return moved
    session.execute(
        update(Action).where(Action.id == found.id).values(target_text=target, **values)
    )
    # Progress is as it was: the row says so (before == after), as an import's rows do.
    rag, state = (found.rag, found.rag), (found.state, found.state)
    row = history_row(found.id, change, rag, state, (found.target_text, target))
    session.execute(insert(table_of(StatusChange)), [row])
    return moved


# --- reading the trail (for the board: "re-baselined targets") ------------------------------


@dataclass(frozen=True, slots=True)
class TargetMove:
    """An action's target as it was before the first move in a period and after the last,
    with the last move's note, author and time."""

    action_id: int
    target_from: str
    target_to: str
    note: str
    by: str
    at: datetime


def target_moves(session: Session, actions: Actions, since: datetime) -> dict[int, TargetMove]:
    """The actions whose target moved after `since` (by import or rebaseline), one entry
    each: moved twice, 30 September -> 31 October -> 30 November, it reads 30 September to
    30 November; moved and moved back, it is not listed."""
    moves: dict[int, TargetMove] = {}
    for condition in of_actions(StatusChange.action_id, actions):
        query = (
            select(
                StatusChange.action_id,
                StatusChange.target_from,
                StatusChange.target_to,
                StatusChange.note,
                StatusChange.changed_by,
                StatusChange.changed_at,
            )
            .where(condition, StatusChange.changed_at > since, StatusChange.target_to.is_not(None))
            .order_by(StatusChange.action_id, StatusChange.changed_at, StatusChange.id)
        )
        for row in session.execute(query):
            first = moves.get(row.action_id)
            before = first.target_from if first else row.target_from or ""
            moves[row.action_id] = TargetMove(
                row.action_id, before, row.target_to or "", row.note, row.changed_by, row.changed_at
            )
    return {a: m for a, m in moves.items() if m.target_from != m.target_to}
