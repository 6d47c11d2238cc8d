"""What a plan import reports, and who its status changes are recorded against."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

# Called with (actions read, actions written, done) as an import goes: after each chunk,
# and once at the end with done=True.
Progress = Callable[[int, int, bool], None]


@dataclass
class ImportChanges:
    """What an import changes, action by action (kept only when asked for: `plan import
    --diff`). `changed` maps an ID to the fields that change."""

    added: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)
    archived: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    plan: str
    created_plan: bool = False
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0
    status_changes: int = 0
    targets_moved: int = 0  # each recorded in the action's history
    warnings: list[str] = field(default_factory=list)
    # Live actions the plan held before, and how many of them keep their ID but get a text
    # that barely matches the old one: the signs of a different plan replacing this one.
    live_before: int = 0
    rewritten: int = 0
    changes: ImportChanges | None = None

    @property
    def changed(self) -> bool:
        return bool(
            self.created_plan or self.added or self.updated or self.archived or self.status_changes
        )


@dataclass(frozen=True, slots=True)
class Changer:
    """Who an import's status changes are recorded against, and when."""

    by: str
    at: datetime
    source: str = "import"  # "import <file name>" for a file
    note: str = ""
