"""An index of each plan's actions in id order, for the daily run's chunked walk

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 02:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The run reads a plan's actions in id ranges ("plan_id = ? AND id > ? AND id <= ?").
    # With only (plan_id, due_date) to choose from, SQLite took that index for plan_id alone
    # and scanned the whole plan for every range: quadratic in the size of the plan.
    op.create_index("ix_actions_plan_id", "actions", ["plan_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_actions_plan_id", table_name="actions")
