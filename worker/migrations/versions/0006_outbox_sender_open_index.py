"""The outbox for throughput: message bytes in message_contents, apart from the state that
changes; messages.sender (the envelope sender, stored when planned); an index of the
messages still to send

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
    op.create_table(
        "message_contents",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_contents_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_contents")),
    )
    op.execute(
        "INSERT INTO message_contents (message_id, content) SELECT id, content FROM messages"
    )
    # Plain ALTER TABLE, not Alembic's batch mode: on SQLite that would copy, drop and
    # rename `messages`, and dropping a table that notifications and message_contents refer
    # to would take their rows with it. SQLite has DROP COLUMN since 3.35 (RETURNING, which
    # the outbox uses, since the same release).
    op.execute("ALTER TABLE messages DROP COLUMN content")
    op.add_column(
        "messages", sa.Column("sender", sa.String(length=320), nullable=False, server_default="")
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
    op.execute("ALTER TABLE messages DROP COLUMN sender")
    op.add_column("messages", sa.Column("content", sa.LargeBinary(), nullable=True))
    op.execute(
        "UPDATE messages SET content = "
        "(SELECT content FROM message_contents WHERE message_id = messages.id)"
    )
    op.drop_table("message_contents")
