"""Milestone dates for actions stored before revision 0008

0008 added actions.first_due_date (the earliest dated item of a target cell that holds
several) as NULL, and only an import filled it in. An action stored before then had its
milestones ignored until the plan was imported again. This reads each such action's
target text once more, with its plan's dates.month_day, as an import does.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 23:00:00
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import cast

import sqlalchemy as sa
from alembic import op

from worker.plan.dates import MonthDay
from worker.plan.due import read_action_dates

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Actions read and written at a time: a 1M-action plan is never held whole.
CHUNK = 5000

_PLANS = sa.table("plans", sa.column("id", sa.Integer), sa.column("month_day", sa.String))
_ACTIONS = sa.table(
    "actions",
    sa.column("id", sa.Integer),
    sa.column("plan_id", sa.Integer),
    sa.column("start_text", sa.Text),
    sa.column("target_text", sa.Text),
    sa.column("first_due_date", sa.Date),
)


@lru_cache(maxsize=4096)
def _first_due(start_text: str, target_text: str, month_day: str) -> date | None:
    # A plan repeats the same few hundred date texts: each is read once.
    dates = read_action_dates(start_text, target_text, cast(MonthDay, month_day))
    return dates.first_due


def upgrade() -> None:
    bind = op.get_bind()
    plans = bind.execute(sa.select(_PLANS.c.id, _PLANS.c.month_day))
    month_days = {plan_id: month_day or "end" for plan_id, month_day in plans}
    a = _ACTIONS.c
    last = 0
    while True:
        rows = bind.execute(
            sa.select(a.id, a.plan_id, a.start_text, a.target_text)
            .where(a.id > last, a.first_due_date.is_(None))
            .order_by(a.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        found = [
            {"action_id": action_id, "first_due": due}
            for action_id, plan_id, start, target in rows
            if (due := _first_due(start or "", target or "", month_days[plan_id])) is not None
        ]
        if found:
            bind.execute(
                sa.update(_ACTIONS)
                .where(a.id == sa.bindparam("action_id"))
                .values(first_due_date=sa.bindparam("first_due")),
                found,
            )


def downgrade() -> None:
    """Nothing to undo: 0008's column stays, and holds what an import would have written."""
