"""Every command checks the database's schema revision without loading Alembic: the
revision it expects must be Alembic's head, and what it reads must be what Alembic wrote."""

from __future__ import annotations

from sqlalchemy import Engine

from worker.db import make_engine
from worker.migrate import head_revision, upgrade
from worker.schema_version import HEAD, current_revision


def test_the_expected_revision_is_the_newest_migration() -> None:
    assert head_revision() == HEAD


def test_a_migrated_database_is_at_head(engine: Engine) -> None:
    assert current_revision(engine) == HEAD


def test_an_older_or_new_database_is_not_at_head(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) is None  # never migrated
    upgrade(engine, "0008")
    assert current_revision(engine) == "0008"
    engine.dispose()
