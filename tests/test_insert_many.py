"""The ledger's rows written by store/rows.insert_many are stored exactly as SQLAlchemy Core
stores them (on SQLite it hands tuples to the driver itself), on both databases."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
)
from sqlalchemy.orm import Session

from worker.store.rows import insert_many

META = MetaData()


def _table(name: str) -> Table:
    return Table(
        name,
        META,
        Column("id", Integer, primary_key=True),
        Column("key", String(600), unique=True, nullable=False),
        Column("due", Date, nullable=True),
        Column("at", DateTime, nullable=True),
        Column("flag", Boolean, nullable=True),
        Column("note", Text, nullable=True),
    )


BY_CORE = _table("by_core")
BY_ROWS = _table("by_rows")
# Not the table's own order: insert_many places each value by its column's name.
COLUMNS = ("note", "key", "flag", "at", "due")

rows = st.lists(
    st.tuples(
        # Any text the databases take: no NUL, and no lone surrogate (not UTF-8).
        st.one_of(
            st.none(),
            st.text(
                st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                max_size=20,
            ),
        ),
        st.just(""),  # the unique key, filled in below
        st.one_of(st.none(), st.booleans()),
        st.one_of(st.none(), st.datetimes(min_value=datetime(1900, 1, 1))),
        st.one_of(st.none(), st.dates(min_value=date(1000, 1, 1))),
    ),
    max_size=30,
)


def _stored(engine: Engine, table: Table) -> list[tuple[Any, ...]]:
    """The values as the driver returns them: text on SQLite, no type of ours in between."""
    with engine.connect() as conn:
        query = f"SELECT key, due, at, flag, note FROM {table.name} ORDER BY key"
        return [tuple(r) for r in conn.exec_driver_sql(query)]


@pytest.fixture
def tables(engine: Engine) -> Engine:
    META.create_all(engine)
    return engine


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows)
def test_rows_are_stored_as_core_stores_them(
    tables: Engine, given_rows: list[tuple[Any, ...]]
) -> None:
    keyed = [(r[0], f"key|{i}", *r[2:]) for i, r in enumerate(given_rows)]
    with Session(tables) as s:
        s.execute(BY_CORE.delete())
        s.execute(BY_ROWS.delete())
        if keyed:
            s.execute(insert(BY_CORE), [dict(zip(COLUMNS, r, strict=True)) for r in keyed])
        insert_many(s, BY_ROWS, COLUMNS, keyed)
        s.commit()
    assert _stored(tables, BY_ROWS) == _stored(tables, BY_CORE)
    assert len(_stored(tables, BY_ROWS)) == len(keyed)


def test_a_duplicate_key_raises_and_the_caller_can_roll_back(tables: Engine) -> None:
    row = (None, "same", None, None, date(2012, 11, 15))
    with Session(tables) as s:
        insert_many(s, BY_ROWS, COLUMNS, [row])
        with pytest.raises(Exception, match=r"(?i)unique"):
            insert_many(s, BY_ROWS, COLUMNS, [(None, "other", None, None, None), row])
        s.rollback()
    assert _stored(tables, BY_ROWS) == []
