"""Status-history times on SQLite stored in UTC, as the rest are

SQLAlchemy's DateTime(timezone=True) on SQLite writes an aware datetime's wall-clock time
and drops its zone. A status change dated with --as-of, or a status return row's date, is
recorded at noon in the plan's zone, and so was stored as 12:00 local time, while every
other time (a web report, the ledger's) was stored as UTC. From this revision every time
column goes through models.UtcDateTime. This rewrites the old local-noon rows as UTC: rows
whose time is exactly 12:00:00.000000, which only those dated changes have (a time stamped
by the clock has its microseconds), read in their plan's zone. The same for the note time
an acknowledgement saw, so it still matches the note. PostgreSQL stored the instant: there
is nothing to do there.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 00:30:00
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# How SQLAlchemy's SQLite dialect writes a DateTime.
STORED = "%Y-%m-%d %H:%M:%S.%f"
NOON = "12:00:00.000000"
COLUMNS = (("status_history", "changed_at"), ("acknowledgements", "latest_note_at"))


def _in_utc(stamp: str, timezone: str) -> str:
    local = datetime.strptime(stamp, STORED).replace(tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC).strftime(STORED)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    bind.execute(sa.text("CREATE TEMPORARY TABLE noon_moves (zone TEXT, old TEXT, new TEXT)"))
    for table, column in COLUMNS:
        _rewrite(bind, table, column)
    bind.execute(sa.text("DROP TABLE noon_moves"))


def _rewrite(bind: sa.Connection, table: str, column: str) -> None:
    """One scan to find each distinct (zone, noon), worked out in Python (SQLite knows no
    time zones), and one UPDATE over the table: a large plan's history is read twice, not
    once per day it holds."""
    found = bind.execute(
        sa.text(
            f"SELECT DISTINCT p.timezone, t.{column} FROM {table} t"
            " JOIN actions a ON a.id = t.action_id JOIN plans p ON p.id = a.plan_id"
            f" WHERE substr(t.{column}, 12) = :noon"
        ),
        {"noon": NOON},
    ).all()
    moved = [
        {"zone": zone, "old": stamp, "new": new}
        for zone, stamp in found
        if (new := _in_utc(stamp, zone)) != stamp
    ]
    if not moved:
        return
    bind.execute(sa.text("DELETE FROM noon_moves"))
    bind.execute(sa.text("INSERT INTO noon_moves VALUES (:zone, :old, :new)"), moved)
    # The row's own plan's zone: another plan's noon on that day may be in another zone.
    match = (
        f"FROM noon_moves m JOIN actions a ON a.id = {table}.action_id"
        f" JOIN plans p ON p.id = a.plan_id WHERE m.old = {table}.{column} AND m.zone = p.timezone"
    )
    bind.execute(
        sa.text(
            f"UPDATE {table} SET {column} = (SELECT m.new {match})"
            f" WHERE {column} IN (SELECT old FROM noon_moves) AND EXISTS (SELECT 1 {match})"
        )
    )


def downgrade() -> None:
    """Nothing to undo: the rows now hold the instant they were meant to, in the zone the
    others are stored in."""
