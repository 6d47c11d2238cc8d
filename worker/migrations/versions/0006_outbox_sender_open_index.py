"""messages.sender (the envelope sender, stored when planned) and an index of the messages
still to send

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OPEN = "state IN ('pending', 'sending')"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sender", sa.String(length=320), nullable=False, server_default="")
        )
    op.create_index(
        "ix_messages_open",
        "messages",
        ["id"],
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_open", table_name="messages")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("sender")
