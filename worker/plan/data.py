"""Plain data for a plan as written: no database, no I/O.

A `Row` is one row of a work stream's action table, with each cell kept as the list of
items it holds. `split.py` turns rows into `ActionData`, the unit the rest of planworker
reminds people about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# A plan's time zone when its file names none.
DEFAULT_TIMEZONE = "Europe/London"


class Rag(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class State(StrEnum):
    NOT_STARTED = "not started"
    IN_PROGRESS = "in progress"
    COMPLETED = "completed"
    DROPPED = "dropped"
    # Paused by decision, with a reason: no reminders or escalations until it resumes.
    ON_HOLD = "on hold"


_RAG_WORDS = {
    "g": Rag.GREEN,
    "green": Rag.GREEN,
    "a": Rag.AMBER,
    "amber": Rag.AMBER,
    "r": Rag.RED,
    "red": Rag.RED,
}
_STATE_WORDS = {
    "not started": State.NOT_STARTED,
    "notstarted": State.NOT_STARTED,
    "in progress": State.IN_PROGRESS,
    "inprogress": State.IN_PROGRESS,
    "started": State.IN_PROGRESS,
    "completed": State.COMPLETED,
    "complete": State.COMPLETED,
    "done": State.COMPLETED,
    "dropped": State.DROPPED,
    "withdrawn": State.DROPPED,
    "cancelled": State.DROPPED,
    "on hold": State.ON_HOLD,
    "onhold": State.ON_HOLD,
    "paused": State.ON_HOLD,
}


def parse_rag(text: str) -> Rag | None:
    """Read a RAG cell ("Green", "G", "amber", ""). Raises ValueError naming the choices."""
    key = " ".join(text.split()).casefold()
    if not key:
        return None
    if key in _RAG_WORDS:
        return _RAG_WORDS[key]
    raise ValueError(f"{text!r} is not a RAG rating (use Green, Amber or Red)")


def parse_state(text: str) -> State | None:
    """Read a progress cell ("In progress", "completed", ""); ValueError names the choices."""
    key = " ".join(text.replace("-", " ").replace("_", " ").split()).casefold()
    if not key:
        return None
    if key in _STATE_WORDS:
        return _STATE_WORDS[key]
    choices = ", ".join(s.value for s in State)
    raise ValueError(f"{text!r} is not a progress state (use one of: {choices})")


@dataclass(frozen=True, slots=True, order=True)
class DependencyRef:
    """A dependency that names another work stream, and optionally one of its key deliverables."""

    work_stream: int
    key_deliverable: int | None = None

    def __str__(self) -> str:
        if self.key_deliverable is None:
            return f"WS{self.work_stream}"
        return f"WS{self.work_stream} KD{self.key_deliverable}"

    @classmethod
    def parse(cls, text: str) -> DependencyRef:
        """Inverse of `str()`: "WS1" or "WS4 KD6"."""
        parts = text.upper().split()
        try:
            if len(parts) in (1, 2) and parts[0].startswith("WS"):
                ws = int(parts[0][2:])
                if len(parts) == 1:
                    return cls(ws)
                if parts[1].startswith("KD"):
                    return cls(ws, int(parts[1][2:]))
        except ValueError:
            pass
        raise ValueError(
            f"{text!r} is not a dependency reference (write it like 'WS1' or 'WS4 KD6')"
        )


@dataclass(frozen=True, slots=True)
class Row:
    """One row of an action table, each cell as the items it lists."""

    ref: str
    work_stream: int
    key_deliverable: str
    action: tuple[str, ...]
    description: tuple[str, ...]
    lead: tuple[str, ...]
    # Role names: one tuple per lead item, or a single tuple for the row as a whole.
    lead_roles: tuple[tuple[str, ...], ...]
    dependencies: tuple[str, ...]
    depends_on: tuple[DependencyRef, ...]
    start: tuple[str, ...]
    target: tuple[str, ...]
    rag: Rag | None = None
    state: State | None = None
    # The source row a pre-split line belongs to (a CSV "Row" column); "" means `ref` itself.
    row_ref: str = ""


@dataclass(frozen=True, slots=True)
class ActionData:
    """One action as planworker tracks it. Multi-item cells are joined with newlines."""

    ref: str
    row_ref: str
    work_stream: int
    key_deliverable: str
    action: str
    description: str
    lead: str
    lead_roles: tuple[str, ...]
    dependencies: str
    depends_on: tuple[DependencyRef, ...]
    start: str
    target: str
    rag: Rag | None = None
    state: State | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    number: str
    text: str


@dataclass(frozen=True, slots=True)
class WorkStream:
    number: int
    title: str
    phase: int
    heading: str = ""
    strategic_lead: str = ""
    key_aim: str = ""
    outcomes: tuple[Outcome, ...] = ()


@dataclass(frozen=True, slots=True)
class PlanInfo:
    slug: str
    title: str
    organisation: str = ""
    source: str = ""
    timezone: str = DEFAULT_TIMEZONE
    rag_legend: dict[str, str] = field(default_factory=dict)
    phases: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlanDoc:
    """A whole plan as read from a file: metadata, work streams and actions."""

    info: PlanInfo
    work_streams: tuple[WorkStream, ...]
    actions: tuple[ActionData, ...]
