"""Derived and effective RAG, by the plan's own legend (pure).

The legend: Green = on target or completed; Amber = in progress with slippage or issues;
Red = incomplete or not started past its target. Only a lead knows about slippage, so Amber
comes from a lead's report; what the dates alone can say is *derived*, by rules an admin can
tune in `[rag]`:

1. completed -> Green; dropped -> none (no longer assessed); on hold -> none (paused by
   decision: its dates say nothing while it lasts, and its reported RAG stands);
2. past the target date and not completed (one-off actions only: recurring ones have no
   end) -> Red when overdue by more than `red_after_overdue_days` (default 0), else Amber;
   not while its target reads as before its start and no admin has confirmed it (`held`):
   such dates are likely a slip, so the dates alone then say nothing of it;
3. opt-in, off by default: not started although its start date has passed -> Amber
   (`amber_when_start_passed`); not completed with the target within `amber_within_days`
   days -> Amber (0: never);
4. otherwise Green ("on target by its dates") when it has a readable target or start date,
   none when it has neither.

The *effective* RAG is the reported one, made worse only by a derived Amber or Red: a
reported Green stays Green until its target passes, and a derived Green never stands in
for a report. An open action nobody has reported on, not past its target, is **No return**
("none"): a state of its own, never Amber. A completed action is Green. When reported and
derived disagree the reader is told why, e.g. "reported Green, overdue by 12 days".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from worker.frozen import frozen
from worker.rules.board import RagName

ORDER: dict[RagName, int] = {"none": 0, "green": 1, "amber": 2, "red": 3}
LABEL: dict[RagName, str] = {
    "none": "No return",
    "green": "Green",
    "amber": "Amber",
    "red": "Red",
}


@dataclass(frozen=True, slots=True)
class RagPolicy:
    red_after_overdue_days: int = 0
    amber_within_days: int = 0  # 0: a target coming up never makes an action Amber
    amber_when_start_passed: bool = False


@frozen
class Progress:
    """What the rules need to know about one action."""

    reported: RagName
    state: str
    due: date | None
    start: date | None
    recurring: bool
    held: bool = False  # target before start, not confirmed: not overdue by its dates


@frozen
class Assessment:
    derived: RagName
    reason: str  # why derived is what it is, in words ("overdue by 12 days"); "" for Green
    effective: RagName
    days_overdue: int

    def disagreement(self, reported: RagName) -> str:
        if reported == "none" or self.derived == "none" or reported == self.derived:
            return ""
        return f"reported {LABEL[reported]}, {self.reason or 'on target by its dates'}"


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _derive(progress: Progress, policy: RagPolicy, as_of: date) -> tuple[RagName, str, int]:
    if progress.state == "completed":
        return "green", "completed", 0
    if progress.state == "dropped":
        return "none", "", 0
    if progress.state == "on hold":
        return "none", "on hold", 0
    due, start = progress.due, progress.start
    if due is not None and as_of > due and not progress.recurring:
        if progress.held:
            return "none", "target before its start date: held until confirmed", 0
        late = (as_of - due).days
        colour: RagName = "red" if late > policy.red_after_overdue_days else "amber"
        return colour, f"overdue by {_days(late)}", late
    if (
        policy.amber_when_start_passed
        and progress.state == "not started"
        and start is not None
        and as_of > start
    ):
        return "amber", f"not started, due to start {start:%d %B %Y}", 0
    if (
        policy.amber_within_days > 0
        and due is not None
        and 0 <= (due - as_of).days <= policy.amber_within_days
    ):
        left = (due - as_of).days
        return (
            "amber",
            ("due today" if left == 0 else f"due in {_days(left)}") + ", not completed",
            0,
        )
    if due is None and start is None:
        return "none", "", 0
    return "green", "", 0


def assess(progress: Progress, policy: RagPolicy, as_of: date) -> Assessment:
    derived, reason, late = _derive(progress, policy, as_of)
    if progress.state == "completed":
        effective: RagName = "green"
    elif progress.state == "dropped":
        effective = "none"  # no longer part of the plan's delivery
    else:
        # Dates can make a report worse, never stand in for one.
        said_by_dates: RagName = "none" if derived == "green" else derived
        effective = max(progress.reported, said_by_dates, key=ORDER.__getitem__)
    return Assessment(derived, reason, effective, late)
