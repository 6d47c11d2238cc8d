"""Plain rows, not ORM entities, for the statements a run makes per action or per item.

`Session.execute` sends a select of mapped columns through the ORM's result machinery,
which does per-row work that plain columns never need: about a quarter of the cost of
reading a chunk of the plan. These go to the session's connection instead, in the same
transaction, after flushing anything the session holds so the rows are as current.

Writing is the same story: SQLAlchemy Core turns each row of an insert into its parameters
one value at a time, which cost more than SQLite's own insert for the ledger's tens of
thousands of rows a run (`insert_many`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVarTuple

from sqlalchemy import Result, Select, Table, insert
from sqlalchemy.orm import Session

Columns = TypeVarTuple("Columns")


def plain_rows(session: Session, query: Select[*Columns]) -> Result[*Columns]:
    session.flush()  # what Session.execute's autoflush would do
    return session.connection().execute(query)


def insert_many(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert `rows`, each its values in `columns` order, in one statement.

    On SQLite the rows go to the driver's executemany as tuples, each value through its
    column type's own bind processor (a date becomes the same text SQLAlchemy writes), so
    what is stored is what Core would store. Elsewhere they go through Core, whose
    PostgreSQL insert sends many rows per round trip."""
    if not rows:
        return
    session.flush()
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "sqlite":
        connection.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
    names = compiled.positiontup or []
    if sorted(names) != sorted(columns):
        # A column with a default of its own, left out: Core would fill it in, this would not.
        raise ValueError(f"insert into {table.name}: columns {names}, not {list(columns)}")
    at = [columns.index(name) for name in names]
    convert: list[tuple[int, Callable[[Any], Any]]] = []
    for place, name in enumerate(names):
        found = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if found is not None:
            convert.append((place, found))
    values = [[row[i] for i in at] for row in rows]
    for row in values:
        for place, process in convert:
            row[place] = process(row[place])
    connection.exec_driver_sql(str(compiled), [tuple(row) for row in values])
