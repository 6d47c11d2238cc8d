"""The board's view of the plan (pure): each action's RAG, the per-work-stream summary, and
what changed since the previous digest (`board_changes.py`). Built from the same facts as
the reminders."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from sys import intern

from worker.rules.acknowledge import Acknowledged, standing
from worker.rules.board import (
    CHANGE_KINDS,
    BoardDigest,
    Change,
    Cycle,
    RagName,
    RagView,
    StreamSummary,
)
from worker.rules.board_changes import Seen, change_for, changes_since, seen_in
from worker.rules.board_exceptions import (
    ExceptionTally,
    Order,
    needs_the_board,
    reported_changes,
    returns_received,
)
from worker.rules.rag import ORDER, RagPolicy, assess
from worker.rules.reminders import ActionFacts, PlanFacts


@dataclass(frozen=True, slots=True)
class StreamInfo:
    number: int
    title: str
    phase: int
    strategic_lead: str


# One object per RAG name: the database gives each row its own copy of the word.
_RAG_NAMES: dict[str, RagName] = {name: name for name in ORDER}


def rag_view(action: ActionFacts, policy: RagPolicy, as_of: date) -> RagView:
    """The action as the board sees it. The texts that repeat from action to action (work
    stream, leads, state, target as written...) are interned: the digest keeps every Amber
    and Red action's view, and on a large plan copies of the same few words were half of it."""
    progress = action.progress()
    status = assess(progress, policy, as_of)
    return RagView(
        action_id=action.id,
        ref=action.ref,
        phase=action.phase,
        work_stream_number=action.work_stream_number,
        work_stream_title=intern(action.work_stream_title),
        key_deliverable=intern(action.key_deliverable),
        action_text=action.action_text,
        description=action.description,
        leads=tuple(intern(lead) for lead in action.leads),
        target_text=intern(action.target_text),
        due=action.due,
        precision=intern(action.precision),
        days_overdue=status.days_overdue,
        reported=_RAG_NAMES[progress.reported],
        derived=_RAG_NAMES[status.derived],
        effective=_RAG_NAMES[status.effective],
        disagreement=intern(status.disagreement(progress.reported)),
        state=intern(action.state),
        latest_note=action.latest_note,
        latest_note_by=intern(action.latest_note_by),
        latest_note_at=action.latest_note_at,
        at_risk_from=action.at_risk_from,
    )


Counts = dict[int, dict[str, int]]  # work stream number -> effective RAG (or "completed") -> n


def count_views(counts: Counts, views: Iterable[RagView]) -> None:
    """Add the actions to their work streams' counts (a dropped one counts nowhere)."""
    for view in views:
        if view.state == "dropped":
            continue
        bucket = counts.setdefault(view.work_stream_number, {})
        bucket[view.effective] = bucket.get(view.effective, 0) + 1
        if view.state == "completed":
            bucket["completed"] = bucket.get("completed", 0) + 1


def stream_summaries(streams: Sequence[StreamInfo], counts: Counts) -> tuple[StreamSummary, ...]:
    """Every work stream's counts, in number order."""
    return tuple(
        StreamSummary(
            number=s.number,
            title=s.title,
            phase=s.phase,
            strategic_lead=s.strategic_lead,
            green=counts.get(s.number, {}).get("green", 0),
            amber=counts.get(s.number, {}).get("amber", 0),
            red=counts.get(s.number, {}).get("red", 0),
            none=counts.get(s.number, {}).get("none", 0),
            completed=counts.get(s.number, {}).get("completed", 0),
        )
        for s in sorted(streams, key=lambda s: s.number)
    )


def _summaries(
    streams: Sequence[StreamInfo], views: Sequence[RagView]
) -> tuple[StreamSummary, ...]:
    counts: Counts = {}
    count_views(counts, views)
    return stream_summaries(streams, counts)


def build_board_digest(
    actions: Sequence[ActionFacts],
    streams: Sequence[StreamInfo],
    plan: PlanFacts,
    phases: Mapping[int, str],
    previous: tuple[date, Mapping[int, Seen]] | None,
    policy: RagPolicy,
    as_of: date,
    *,
    cycle: Cycle | None = None,
    long_red_weeks: int = 4,
    report_url: str = "",
) -> tuple[BoardDigest, dict[int, Seen]]:
    """The digest for `as_of`, and what it saw (to store for the next one). `cycle` is
    the status history since the previous digest (cycle_start gives its dates). Every
    action at once, in plan order: `planworker digest` reads a plan a chunk at a time with
    BoardTally instead, and tests hold the two to the same view."""
    views = [rag_view(a, policy, as_of) for a in actions]
    cycle = cycle or Cycle(cycle_start(previous[0] if previous else None, as_of))
    returns, open_actions = returns_received(views, cycle)
    seen = {v.action_id: seen_in(v) for v in views}
    changes = changes_since(previous[1], views) if previous is not None else ()
    attention = sorted(
        (v for v in views if v.effective in ("amber", "red") and v.state != "dropped"),
        key=lambda v: (v.phase, v.work_stream_number),  # stable: plan order within a stream
    )
    digest = BoardDigest(
        plan_title=plan.title,
        organisation=plan.organisation,
        as_of=as_of,
        previous=previous[0] if previous else None,
        phases=dict(phases),
        attention=tuple(attention),
        changes=changes,
        streams=_summaries(streams, views),
        cycle_start=cycle.start,
        needs=needs_the_board(views, cycle, long_red_weeks, as_of),
        reported=reported_changes(views, cycle.reports),
        returns=returns,
        open_actions=open_actions,
        report_url=report_url,
        acknowledged=standing_acknowledgements(actions),
        timezone=plan.timezone,
    )
    return digest, seen


class BoardTally:
    """The board's view built a chunk of actions at a time (pure), so a run holds one chunk
    of the plan's facts, not all of them. It keeps only what the digest holds: the counts
    per work stream, the Amber and Red actions, the changes, what needs the board, the
    cycle's reports and the standing acknowledgements, each with its place in plan order,
    and the actions at risk from a dependency (whether that is news is known only at the
    end). `digest()` gives what build_board_digest gives for the same actions at once."""

    def __init__(
        self,
        streams: Sequence[StreamInfo],
        plan: PlanFacts,
        phases: Mapping[int, str],
        previous: date | None,
        policy: RagPolicy,
        as_of: date,
        *,
        cycle: Cycle | None = None,
        long_red_weeks: int = 4,
        report_url: str = "",
    ) -> None:
        self._streams = tuple(streams)
        self._plan = plan
        self._phases = dict(phases)
        self._previous = previous
        self._policy = policy
        self._as_of = as_of
        self._cycle = cycle or Cycle(cycle_start(previous, as_of))
        self._long_red_weeks = long_red_weeks
        self._report_url = report_url
        self._exceptions = ExceptionTally(self._cycle, long_red_weeks, as_of)
        self._counts: Counts = {}
        self._attention: list[tuple[Order, RagView]] = []
        self._changes: list[tuple[int, Order, Change]] = []
        self._acknowledged: list[tuple[Order, int, tuple[Acknowledged, ...]]] = []
        self._next = 0  # plan order of actions given without positions
        # Each Seen value shared: a plan's worth of them holds a handful of distinct values.
        self._seen_values: dict[Seen, Seen] = {}

    def add(
        self,
        actions: Sequence[ActionFacts],
        positions: Sequence[int] | None = None,
        before: Mapping[int, Seen] | None = None,
    ) -> dict[int, Seen]:
        """Take the next chunk of actions, in plan order within it; `positions` (one each)
        place them in the whole plan's order when chunks are not read in that order.
        `before`: what the previous digest saw of them (None for the first digest). Gives
        what this digest saw of them."""
        if positions is None:
            positions = range(self._next, self._next + len(actions))
            self._next += len(actions)
        views = [rag_view(a, self._policy, self._as_of) for a in actions]
        order = [(p, v.action_id) for p, v in zip(positions, views, strict=True)]
        count_views(self._counts, views)
        for key, view in zip(order, views, strict=True):
            if view.effective in ("amber", "red") and view.state != "dropped":
                self._attention.append((key, view))
        if before is not None:
            for key, view in zip(order, views, strict=True):
                change = change_for(before.get(view.action_id), view)
                if change is not None:
                    self._changes.append((CHANGE_KINDS.index(change.kind), key, change))
        self._exceptions.add(order, views)
        for key, a in zip(order, actions, strict=True):
            acks = standing(a.acknowledged, a.snapshot()) if a.acknowledged else ()
            if acks:
                self._acknowledged.append((key, a.id, acks))
        return {v.action_id: self._shared(seen_in(v)) for v in views}

    def _shared(self, seen: Seen) -> Seen:
        return self._seen_values.setdefault(seen, seen)

    def digest(self) -> BoardDigest:
        """The digest of every action added so far."""
        # Phase, work stream, then plan order within a stream.
        attention = sorted(
            self._attention, key=lambda e: (e[1].phase, e[1].work_stream_number, e[0])
        )
        changes = sorted(self._changes, key=lambda e: (e[0], e[1]))
        acknowledged = sorted(self._acknowledged, key=lambda e: e[0])
        returns, open_actions = self._exceptions.returns()
        return BoardDigest(
            plan_title=self._plan.title,
            organisation=self._plan.organisation,
            as_of=self._as_of,
            previous=self._previous,
            phases=dict(self._phases),
            attention=tuple(v for _, v in attention),
            changes=tuple(c for _, _, c in changes) if self._previous is not None else (),
            streams=stream_summaries(self._streams, self._counts),
            cycle_start=self._cycle.start,
            needs=self._exceptions.needs(),
            reported=self._exceptions.reported(),
            returns=returns,
            open_actions=open_actions,
            report_url=self._report_url,
            acknowledged={action_id: acks for _, action_id, acks in acknowledged},
            timezone=self._plan.timezone,
        )


def standing_acknowledgements(
    actions: Sequence[ActionFacts],
) -> dict[int, tuple[Acknowledged, ...]]:
    """The acknowledgements of each action that still stand (it has not changed since)."""
    found = {a.id: standing(a.acknowledged, a.snapshot()) for a in actions if a.acknowledged}
    return {action_id: acks for action_id, acks in found.items() if acks}


def cycle_start(previous: date | None, as_of: date) -> date:
    """The first day of the digest's cycle: the previous digest's date, or a week back for
    the first digest (its cycle ends the day before `as_of`)."""
    return previous if previous is not None else as_of - timedelta(days=7)
