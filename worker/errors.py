"""Errors a user can act on: each names the file, the place in it and the reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    place: str  # "row 7, column 'Target End Date'" or "work_streams[2].actions[5].lead"
    reason: str

    def __str__(self) -> str:
        return f"{self.place}: {self.reason}" if self.place else self.reason


class PlanworkerError(Exception):
    """Base for errors shown to the user as a message, never as a traceback."""


class InputError(PlanworkerError):
    """A file that cannot be used, with every problem found in it."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            super().__init__(f"{source}: {self.problems[0]}")
            return
        shown = "\n".join(f"  {source}: {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        tail = f"\n  … and {more} more" if more > 0 else ""
        super().__init__(f"{source}: {len(self.problems)} problem(s):\n{shown}{tail}")
