"""board digests and what each saw

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 14:35:59.881360
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "board_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_board_digests_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_board_digests")),
        sa.UniqueConstraint("plan_id", "as_of", name=op.f("uq_board_digests_plan_id")),
    )
    op.create_table(
        "board_digest_entries",
        sa.Column("digest_id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("rag", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["actions.id"],
            name=op.f("fk_board_digest_entries_action_id_actions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["digest_id"],
            ["board_digests.id"],
            name=op.f("fk_board_digest_entries_digest_id_board_digests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest_id", "action_id", name=op.f("pk_board_digest_entries")),
    )


def downgrade() -> None:
    op.drop_table("board_digest_entries")
    op.drop_table("board_digests")
