"""status_history.source holds a status return's file name: text, not 32 characters

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 15:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("status_history", schema=None) as batch_op:
        batch_op.alter_column(
            "source", existing_type=sa.String(length=32), type_=sa.Text(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("status_history", schema=None) as batch_op:
        batch_op.alter_column(
            "source", existing_type=sa.Text(), type_=sa.String(length=32), existing_nullable=False
        )
