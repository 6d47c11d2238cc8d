"""What the project board's escalation digest (and the board report) shows: plain data,
built by the pure rules in `worker/rules/escalation.py` and read by the templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

# Effective RAG of an action as the board sees it; "none" when nothing was reported and
# nothing can be derived (no readable dates).
RagName = Literal["green", "amber", "red", "none"]
ChangeKind = Literal["newly_red", "newly_amber", "recovered", "completed"]
CHANGE_KINDS: tuple[ChangeKind, ...] = ("newly_red", "newly_amber", "recovered", "completed")


@dataclass(frozen=True, slots=True)
class RagView:
    """One action's status for the board."""

    action_id: int
    ref: str
    phase: int
    work_stream_number: int
    work_stream_title: str
    key_deliverable: str
    action_text: str
    description: str
    leads: tuple[str, ...]
    target_text: str  # as written
    due: date | None  # as read
    precision: str
    days_overdue: int  # > 0 when past the target date and not completed, else 0
    reported: RagName  # what the lead reported ("none" if nothing yet)
    derived: RagName  # what the dates and progress say (see worker/rules/rag.py)
    effective: RagName  # the worse of the two, unless completed
    disagreement: str  # "" or e.g. "reported Green, overdue by 12 days"
    state: str  # "not started", "in progress", "completed", "dropped"
    latest_note: str
    latest_note_by: str
    latest_note_at: datetime | None
    at_risk_from: tuple[str, ...]  # refs of dependencies that are Red or overdue


@dataclass(frozen=True, slots=True)
class Change:
    """How one action moved since the previous digest."""

    kind: ChangeKind
    ref: str
    work_stream_number: int
    action_text: str
    before: RagName
    after: RagName
    state: str


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """A work stream's count of actions by effective RAG (the picture in the digest)."""

    number: int
    title: str
    phase: int
    strategic_lead: str
    green: int
    amber: int
    red: int
    none: int
    completed: int  # included in green

    @property
    def total(self) -> int:
        return self.green + self.amber + self.red + self.none


@dataclass(frozen=True, slots=True)
class BoardDigest:
    plan_title: str
    organisation: str
    as_of: date
    previous: date | None  # the date of the previous digest, None for the first
    phases: dict[int, str]  # phase number -> title
    attention: tuple[RagView, ...]  # every Amber and Red action: phase, work stream, ref order
    changes: tuple[Change, ...]  # since the previous digest, in CHANGE_KINDS order
    streams: tuple[StreamSummary, ...]  # every work stream, in number order

    @property
    def red(self) -> tuple[RagView, ...]:
        return tuple(v for v in self.attention if v.effective == "red")

    @property
    def amber(self) -> tuple[RagView, ...]:
        return tuple(v for v in self.attention if v.effective == "amber")
