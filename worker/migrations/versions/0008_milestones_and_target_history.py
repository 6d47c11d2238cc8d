"""Milestones, held dates and the target-date trail (issue 16)

- actions.first_due_date: the earliest dated item of a target cell that holds several (the
  document's own sub-items, each reminded as a milestone); NULL when the cell holds one.
  The daily run's first pass selects an action by it as well as by its final target.
- actions.dates_confirmed: an admin has confirmed a target that reads as before its start
  (`status set --confirm-date`); until then such an action is held back from alerts.
- status_history.target_from / target_to: a re-baselined target (by import or
  `plan rebaseline`), as written before and after, so the board sees "re-baselined from … to …".

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_due_date", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("dates_confirmed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("status_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("target_from", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("target_to", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("status_history", schema=None) as batch_op:
        batch_op.drop_column("target_to")
        batch_op.drop_column("target_from")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_column("dates_confirmed")
        batch_op.drop_column("first_due_date")
