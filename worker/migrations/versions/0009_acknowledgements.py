"""Acknowledgements of escalated actions (issue 17)

- acknowledgements: one per (action, address) of a strategic lead or board member, with their
  note, when, and a snapshot of the action they acknowledged (reported RAG, state, target as
  written, latest note): the weekly escalation to them is not repeated until it changes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "acknowledgements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rag", sa.String(length=8), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("target_text", sa.Text(), nullable=False),
        sa.Column("latest_note", sa.Text(), nullable=False),
        sa.Column("latest_note_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["actions.id"],
            name=op.f("fk_acknowledgements_action_id_actions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acknowledgements")),
        sa.UniqueConstraint("action_id", "email", name=op.f("uq_acknowledgements_action_id")),
    )
    op.create_index(
        op.f("ix_acknowledgements_action_id"), "acknowledgements", ["action_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_acknowledgements_action_id"), table_name="acknowledgements")
    op.drop_table("acknowledgements")
