"""Reading rows by a long list of ids or ledger keys: one parameter, right on both databases,
whatever the list's length (SQLite takes at most 32,766 parameters in one statement)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, column, insert, select, table
from sqlalchemy.orm import Session

from worker.store.value_list import in_values

T = table("t", column("n"), column("s"))


def _table(engine: Engine, rows: int) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER PRIMARY KEY, s VARCHAR(40) NOT NULL)")
        conn.execute(insert(T), [{"n": n, "s": f"key|{n}"} for n in range(rows)])


def test_forty_thousand_ids_and_keys_in_one_statement(engine: Engine) -> None:
    _table(engine, 50_000)
    wanted = list(range(0, 80_000, 2))  # half of them not in the table
    with Session(engine) as s:
        found = set(s.scalars(select(T.c.n).where(in_values(T.c.n, wanted))))
        keys = [f"key|{n}" for n in wanted]
        by_key = set(s.scalars(select(T.c.s).where(in_values(T.c.s, keys))))
    assert found == {n for n in wanted if n < 50_000}
    assert by_key == {f"key|{n}" for n in wanted if n < 50_000}


def test_an_empty_list_matches_nothing(engine: Engine) -> None:
    _table(engine, 3)
    with Session(engine) as s:
        assert list(s.scalars(select(T.c.n).where(in_values(T.c.n, [])))) == []
        assert list(s.scalars(select(T.c.n).where(~in_values(T.c.n, [1])))) == [0, 2]


@settings(max_examples=40, deadline=None)
@given(keys=st.lists(st.text(min_size=0, max_size=12), max_size=30))
def test_any_text_is_matched_exactly_on_sqlite(keys: list[str]) -> None:
    # Quotes, backslashes, brackets and other characters JSON escapes come back as they were.
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER PRIMARY KEY, s VARCHAR(40) NOT NULL)")
        rows = [{"n": n, "s": k} for n, k in enumerate(dict.fromkeys(keys))]
        if rows:
            conn.execute(insert(T), rows)
        found = set(conn.scalars(select(T.c.s).where(in_values(T.c.s, keys))))
    assert found == set(keys)
