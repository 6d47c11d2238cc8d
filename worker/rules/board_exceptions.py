"""The exception digest (pure): from every action's RAG view and the cycle's status history,
what needs the board this week, what was reported, and how many returns came in.

"Newly" means in this digest's cycle (rules/board.py Cycle): a lead's report dated in it, a
target date that passed in it. An action overdue since an earlier cycle is not listed again:
it is counted (Red) in its work stream's row, and listed in full by `planworker report`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime

from worker.rules.board import (
    FLAG_KINDS,
    Cycle,
    Flagged,
    FlagKind,
    RagView,
    Report,
    ReportedChange,
)
from worker.rules.rag import LABEL

CLOSED = ("completed", "dropped")
ON_HOLD = "on hold"  # a state part (c) of issue 16 adds: no reminders, shown to the board


def _rag(name: str | None) -> str:
    found = name or "none"
    return next((word for rag, word in LABEL.items() if rag == found), found)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _with_note(text: str, note: str) -> str:
    return f"{text}: {note.strip()}" if note.strip() else text


def describe(report: Report) -> str:
    """One history row in words: 'first report: Green', 'Red to Amber', 'in progress to
    completed', 're-baselined from 30 September 2012 to 31 October 2012', or 'note'."""
    parts = []
    if report.rag_to != report.rag_from and report.rag_to is not None:
        if report.rag_from is None:
            parts.append(f"first report: {_rag(report.rag_to)}")
        else:
            parts.append(f"{_rag(report.rag_from)} to {_rag(report.rag_to)}")
    if report.state_to != report.state_from and report.state_to is not None:
        parts.append(f"{report.state_from or 'not started'} to {report.state_to}")
    if report.target_to is not None and report.target_to != report.target_from:
        parts.append(f"re-baselined from {report.target_from or 'no target'} to {report.target_to}")
    return "; ".join(parts) or "note"


def reported_change(view: RagView, report: Report) -> ReportedChange:
    """A report of the cycle as "What changed" shows it."""
    return ReportedChange(
        action_id=report.action_id,
        ref=view.ref,
        work_stream_number=view.work_stream_number,
        action_text=(view.action_text or view.description),
        what=describe(report),
        note=report.note,
        by=report.by,
        at=report.at,
    )


def reported_changes(
    views: Sequence[RagView], reports: Iterable[Report]
) -> tuple[ReportedChange, ...]:
    """Every report of the cycle, in plan order then time order."""
    by_id = {v.action_id: v for v in views}
    order = {v.action_id: i for i, v in enumerate(views)}
    found = [r for r in reports if r.action_id in by_id]
    found.sort(key=lambda r: (order[r.action_id], r.at))
    return tuple(reported_change(by_id[r.action_id], r) for r in found)


def _rag_at_start(reports: Iterable[Report]) -> dict[int, str | None]:
    """Each action's reported RAG when the cycle began: the `rag_from` of its first report in
    the cycle that touched the RAG."""
    start: dict[int, str | None] = {}
    for r in reports:
        if r.action_id not in start and r.rag_to != r.rag_from:
            start[r.action_id] = r.rag_from
    return start


def _newly_overdue(view: RagView, cycle: Cycle, as_of: date) -> bool:
    return view.due is not None and view.days_overdue > 0 and cycle.start <= view.due < as_of


def _own_flags(
    view: RagView, cycle: Cycle, was: dict[int, str | None], long_red_weeks: int, as_of: date
) -> list[tuple[FlagKind, str]]:
    flags: list[tuple[FlagKind, str]] = []
    if view.action_id in was and view.reported in ("red", "amber"):
        before = was[view.action_id]
        kind: FlagKind = "newly_red" if view.reported == "red" else "newly_amber"
        said = f"reported {_rag(view.reported)}"
        flags.append((kind, f"first {said}" if before is None else f"{said} (was {_rag(before)})"))
    if _newly_overdue(view, cycle, as_of):
        flags.append(
            ("newly_overdue", f"target passed: overdue by {_plural(view.days_overdue, 'day')}")
        )
    since = cycle.red_since.get(view.action_id)
    if view.reported == "red" and since is not None:
        weeks = (as_of - since).days // 7
        if long_red_weeks > 0 and weeks >= long_red_weeks:
            flags.append(("long_red", f"reported Red for {_plural(weeks, 'week')}"))
    return flags


def _history_flags(view: RagView, reports: Iterable[Report]) -> list[tuple[FlagKind, str]]:
    flags: list[tuple[FlagKind, str]] = []
    for r in reports:
        if r.target_to is not None and r.target_to != r.target_from:
            moved = f"re-baselined from {r.target_from or 'no target'} to {r.target_to}"
            flags.append(("rebaselined", _with_note(moved, r.note)))
        if r.state_to == ON_HOLD and r.state_from != ON_HOLD and view.state == ON_HOLD:
            flags.append(("on_hold", _with_note("put on hold", r.note)))
    return flags


def needs_the_board(
    views: Sequence[RagView], cycle: Cycle, long_red_weeks: int, as_of: date
) -> tuple[Flagged, ...]:
    """The actions the board needs to see this week, each once with every reason: newly Red
    or Amber by report, newly overdue, re-baselined, newly on hold, at risk from a dependency
    that is newly Red or overdue, reported Red for `long_red_weeks` weeks or more."""
    was = _rag_at_start(cycle.reports)
    by_action: dict[int, list[Report]] = {}
    for r in cycle.reports:
        by_action.setdefault(r.action_id, []).append(r)
    flags: dict[int, list[tuple[FlagKind, str]]] = {}
    for view in views:
        if view.state in CLOSED:
            continue
        found = _own_flags(view, cycle, was, long_red_weeks, as_of)
        found += _history_flags(view, by_action.get(view.action_id, ()))
        if found:
            flags[view.action_id] = found
    # Dependency risk is news when what it depends on became Red or overdue this cycle.
    news = {
        v.ref
        for v in views
        if any(k in ("newly_red", "newly_overdue") for k, _ in flags.get(v.action_id, ()))
    }
    for view in views:
        if view.state in CLOSED:
            continue
        risky = [ref for ref in view.at_risk_from if ref in news]
        if risky:
            text = f"depends on {', '.join(risky)}, newly Red or overdue"
            flags.setdefault(view.action_id, []).append(("dependency_risk", text))
    listed = [
        Flagged(
            view,
            tuple(k for k, _ in flags[view.action_id]),
            tuple(t for _, t in flags[view.action_id]),
        )
        for view in views
        if view.action_id in flags
    ]
    listed.sort(key=lambda f: min(FLAG_KINDS.index(k) for k in f.kinds))  # stable: plan order
    return tuple(listed)


def _is_open(view: RagView, completed_now: Collection[int]) -> bool:
    """Open in the cycle: neither dropped nor completed before it."""
    return view.state != "dropped" and (
        view.state != "completed" or view.action_id in completed_now
    )


def returns_received(views: Sequence[RagView], cycle: Cycle) -> tuple[int, int]:
    """(n, m): of the m actions open in the cycle (not dropped, not completed before it), the
    n with a lead's return dated in it (an import is not a return)."""
    returned = {r.action_id for r in cycle.reports if r.source != "import"}
    completed_now = {r.action_id for r in cycle.reports if r.state_to == "completed"}
    open_ids = [v.action_id for v in views if _is_open(v, completed_now)]
    return sum(1 for a in open_ids if a in returned), len(open_ids)


# An action's place in plan order, however the plan is read in chunks: (position, id).
Order = tuple[int, int]
Flags = list[tuple[FlagKind, str]]


class ExceptionTally:
    """The exception digest built a chunk of actions at a time (pure): what needs the board,
    the cycle's reports and the returns, each kept with its action's place in plan order.
    Whether a dependency is news is known only once every action is in, so the actions at
    risk from one are kept until `needs()`."""

    def __init__(self, cycle: Cycle, long_red_weeks: int, as_of: date) -> None:
        self._cycle = cycle
        self._long_red_weeks = long_red_weeks
        self._as_of = as_of
        self._was = _rag_at_start(cycle.reports)
        # Each action's reports, with their place in the cycle (oldest first).
        self._by_action: dict[int, list[tuple[int, Report]]] = {}
        for i, r in enumerate(cycle.reports):
            self._by_action.setdefault(r.action_id, []).append((i, r))
        self._returned = {r.action_id for r in cycle.reports if r.source != "import"}
        self._completed_now = {r.action_id for r in cycle.reports if r.state_to == "completed"}
        self._returns = 0
        self._open = 0
        self._flags: dict[int, tuple[Order, RagView, Flags]] = {}
        self._news: set[str] = set()  # refs newly Red or overdue this cycle
        self._at_risk: list[tuple[Order, RagView]] = []
        self._reported: list[tuple[tuple[Order, datetime, int], ReportedChange]] = []

    def add(self, order: Sequence[Order], views: Sequence[RagView]) -> None:
        """Take the next chunk of actions, each with its place in plan order."""
        for key, view in zip(order, views, strict=True):
            if _is_open(view, self._completed_now):
                self._open += 1
                self._returns += view.action_id in self._returned
            mine = self._by_action.get(view.action_id, [])
            self._reported += [((key, r.at, i), reported_change(view, r)) for i, r in mine]
            if view.state in CLOSED:
                continue
            found = _own_flags(view, self._cycle, self._was, self._long_red_weeks, self._as_of)
            found += _history_flags(view, (r for _, r in mine))
            if found:
                self._flags[view.action_id] = (key, view, found)
                if any(k in ("newly_red", "newly_overdue") for k, _ in found):
                    self._news.add(view.ref)
            if view.at_risk_from:
                self._at_risk.append((key, view))

    def needs(self) -> tuple[Flagged, ...]:
        """What needs the board, in FLAG_KINDS order then plan order."""
        flags = {a: (key, view, list(found)) for a, (key, view, found) in self._flags.items()}
        # Dependency risk is news when what it depends on became Red or overdue this cycle.
        for key, view in self._at_risk:
            risky = [ref for ref in view.at_risk_from if ref in self._news]
            if risky:
                text = f"depends on {', '.join(risky)}, newly Red or overdue"
                flags.setdefault(view.action_id, (key, view, []))[2].append(
                    ("dependency_risk", text)
                )
        listed = sorted(
            flags.values(), key=lambda e: (min(FLAG_KINDS.index(k) for k, _ in e[2]), e[0])
        )
        return tuple(
            Flagged(view, tuple(k for k, _ in found), tuple(t for _, t in found))
            for _, view, found in listed
        )

    def reported(self) -> tuple[ReportedChange, ...]:
        """Every report of the cycle, in plan order then time order."""
        return tuple(change for _, change in sorted(self._reported, key=lambda e: e[0]))

    def returns(self) -> tuple[int, int]:
        """(n, m) as returns_received gives them."""
        return self._returns, self._open
