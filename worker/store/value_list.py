"""`column IN (these values)` as one bound parameter, however many values there are.

SQLAlchemy writes `in_([...])` with one parameter per value, and compiles the statement
again for every new count: a run that reads thousands of actions by id spent more time
building such statements than the database spent answering them. Here the values travel
as one parameter: a JSON array read with `json_each` on SQLite, an array compared with
`= ANY` on PostgreSQL. Both still use the column's index.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import Boolean, TypeDecorator, TypeEngine


class _Values(TypeDecorator[Sequence[Any]]):
    """A list of values as one parameter: an array on PostgreSQL, JSON text elsewhere."""

    impl = String
    cache_ok = True

    def __init__(self, item: type[Integer] | type[String]) -> None:
        super().__init__()
        self.item = item

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(self.item()))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: Sequence[Any] | None, dialect: Dialect) -> Any:
        values = list(value or ())
        return values if dialect.name == "postgresql" else json.dumps(values)


class InValues(ColumnElement[bool]):
    """`column` is one of `values` (ints or strings)."""

    type = Boolean()
    inherit_cache = True
    # A condition in itself: without this, WHERE would compare it to true ("... = 1"),
    # and SQLite then no longer searches the column's index.
    _is_implicitly_boolean = True
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy's own declaration is a list)
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], values: Sequence[int] | Sequence[str]) -> None:
        self.column = column
        item = String if values and isinstance(values[0], str) else Integer
        self.values = bindparam(None, list(values), type_=_Values(item), unique=True)


@compiles(InValues, "postgresql")
def _any(element: InValues, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} = ANY({compiler.process(element.values, **kw)})"


@compiles(InValues)
def _json_each(element: InValues, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} IN (SELECT value FROM json_each({compiler.process(element.values, **kw)}))"


def in_values(column: Any, values: Sequence[int] | Sequence[str]) -> ColumnElement[bool]:
    """`column IN values`, written as one parameter (see the module's docstring)."""
    if any(isinstance(v, str) and "\x00" in v for v in values):
        # SQLite's JSON functions end a string at a NUL character: such values go as a
        # plain list. (No ledger key or id has one; PostgreSQL refuses them in text anyway.)
        return column.in_(list(values))  # type: ignore[no-any-return]
    return InValues(column, values)
