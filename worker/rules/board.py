"""What the project board's escalation digest (and the board report) shows: plain data,
built by the pure rules in `worker/rules/escalation.py` and read by the templates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from worker.plan.data import DEFAULT_TIMEZONE
from worker.rules.acknowledge import Acknowledged

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


# Why an action "needs the board" this week (worker/rules/board_exceptions.py), in the order
# the digest lists them.
FlagKind = Literal[
    "newly_red",
    "newly_amber",
    "newly_overdue",
    "rebaselined",
    "on_hold",
    "dependency_risk",
    "long_red",
]
FLAG_KINDS: tuple[FlagKind, ...] = (
    "newly_red",
    "newly_amber",
    "newly_overdue",
    "rebaselined",
    "on_hold",
    "dependency_risk",
    "long_red",
)


@dataclass(frozen=True, slots=True)
class Report:
    """One row of an action's status history: a lead's return, an import, a re-baselined
    target. Plain data read by the shell (worker/store/board.py)."""

    action_id: int
    at: datetime
    by: str
    source: str  # "cli", "status return <file>", "import", "rebaseline"
    rag_from: str | None
    rag_to: str | None
    state_from: str | None
    state_to: str | None
    note: str
    target_from: str | None = None
    target_to: str | None = None


@dataclass(frozen=True, slots=True)
class Cycle:
    """The digest cycle: from the previous digest's date (or a week back, for the first) to
    the day before this one's. A report or a passed target dated in it is news."""

    start: date
    reports: tuple[Report, ...] = ()  # status history dated in the cycle, oldest first
    # For each action reported Red now: the date its lead last reported it Red after it was not.
    red_since: dict[int, date] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Flagged:
    """An action the board needs to see, and why (one entry however many reasons)."""

    view: RagView
    kinds: tuple[FlagKind, ...]
    reasons: tuple[str, ...]  # in words, one per kind


@dataclass(frozen=True, slots=True)
class ReportedChange:
    """One reported change in the cycle, as "What changed" shows it."""

    action_id: int
    ref: str
    work_stream_number: int
    action_text: str
    what: str  # "first report: Green", "Red to Amber", "re-baselined from ... to ..."
    note: str
    by: str
    at: datetime


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
    # The exception digest (rules/board_exceptions.py): what the email lists.
    cycle_start: date | None = None
    needs: tuple[Flagged, ...] = ()  # "Needs the board", in FLAG_KINDS then plan order
    reported: tuple[ReportedChange, ...] = ()  # "What changed": every report in the cycle
    returns: int = 0  # open actions with a return dated in the cycle
    open_actions: int = 0  # actions neither dropped nor completed before the cycle
    report_url: str = ""  # where the full report is (digest.report_url), "" if unset
    # Acknowledgements that still stand (the action unchanged since), by action id.
    acknowledged: dict[int, tuple[Acknowledged, ...]] = field(default_factory=dict)
    # The plan's time zone: stored moments are UTC, and its readers are shown local times.
    timezone: str = DEFAULT_TIMEZONE

    @property
    def red(self) -> tuple[RagView, ...]:
        return tuple(v for v in self.attention if v.effective == "red")

    @property
    def amber(self) -> tuple[RagView, ...]:
        return tuple(v for v in self.attention if v.effective == "amber")


def listed_action_ids(digest: BoardDigest) -> tuple[int, ...]:
    """The actions the digest lists by name (Needs the board, What changed), each once, in
    the order they first appear: what `simulate` counts as a board member's entries."""
    ids = [f.view.action_id for f in digest.needs] + [c.action_id for c in digest.reported]
    return tuple(dict.fromkeys(ids))
