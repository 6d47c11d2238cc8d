"""The date columns planworker reads from an action's start and target texts.

They are read with the plan's dates.month_day setting, on import and again whenever that
setting changes. `first_due_date` is the earliest milestone of a target cell that holds
several dates: the reminder run selects an action by it as well as by its final target.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from worker.models import Action, Plan
from worker.plan.dates import MonthDay
from worker.plan.due import read_action_dates
from worker.store.action_links import chunks

DATE_COLUMNS = (
    Action.start_date,
    Action.due_date,
    Action.first_due_date,
    Action.due_precision,
    Action.recurrence,
    Action.dates_readable,
)


def date_values(start_text: str, target_text: str, month_day: MonthDay) -> dict[str, Any]:
    """The date columns for an action with these texts."""
    dates = read_action_dates(start_text, target_text, month_day)
    return {
        "start_date": dates.start,
        "due_date": dates.due,
        "first_due_date": dates.first_due,
        "due_precision": dates.precision,
        "recurrence": str(dates.recurrence) if dates.recurrence else "",
        "dates_readable": dates.readable,
    }


def reread_dates(session: Session, plan: Plan, month_day: MonthDay) -> int:
    """Re-read every action's dates when the dates.month_day setting has changed since they
    were stored (otherwise nothing to do); returns how many actions' dates changed."""
    if plan.month_day == month_day:
        return 0
    columns = (Action.id, Action.start_text, Action.target_text, *DATE_COLUMNS)
    rows = session.execute(select(*columns).where(Action.plan_id == plan.id)).all()
    changed = 0
    for chunk in chunks(rows):
        updates = []
        for row in chunk:
            values = date_values(row.start_text, row.target_text, month_day)
            if any(getattr(row, k.key) != values[k.key] for k in DATE_COLUMNS):
                updates.append({"id": row.id, **values})
        if updates:
            session.execute(update(Action), updates)
            changed += len(updates)
    plan.month_day = month_day
    session.flush()
    return changed
