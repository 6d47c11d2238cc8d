"""`@frozen`: a read-only dataclass for values a run builds by the hundred thousand.

`dataclass(frozen=True)` writes each field through `object.__setattr__` in `__init__`, which
made building one of the rules' items (30 fields) four times dearer than a plain class's;
a 100k plan's daily run builds a few hundred thousand such values. Here mypy still refuses
any assignment to a field (`frozen_default`), equality and hashing are a frozen
dataclass's, and `__init__` is a plain class's. What is given up is the run-time guard
alone: code that mypy has not checked could change a field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, dataclass_transform, overload

T = TypeVar("T")


@overload
def frozen(cls: type[T], /) -> type[T]: ...


@overload
def frozen(*, kw_only: bool = False) -> Callable[[type[T]], type[T]]: ...


@dataclass_transform(frozen_default=True)
def frozen(
    cls: type[T] | None = None, /, *, kw_only: bool = False
) -> type[T] | Callable[[type[T]], type[T]]:
    def make(c: type[T]) -> type[T]:
        # unsafe_hash: the hash a frozen dataclass has, from every field.
        return dataclass(c, slots=True, unsafe_hash=True, kw_only=kw_only)

    return make if cls is None else make(cls)
