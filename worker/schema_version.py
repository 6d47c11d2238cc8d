"""Which schema revision a database is at, and which this code needs, without importing
Alembic: every command checks it before it starts, and Alembic (with Mako and Pygments
behind it) takes longer to import than a small command takes to run. `planworker db
upgrade` still runs the migrations through Alembic (worker/migrate.py)."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

# The newest migration in worker/migrations/versions/ (tests/test_schema_version.py checks
# that it is Alembic's head: a new migration must move it on).
HEAD = "0011"
VERSION_TABLE = "alembic_version"


def current_revision(engine: Engine) -> str | None:
    """The database's revision; None when it has never been migrated."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        found = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        revisions = list(found)
    return revisions[0] if len(revisions) == 1 else None
