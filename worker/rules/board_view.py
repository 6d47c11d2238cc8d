"""The board's view of the plan (pure): each action's RAG, the per-work-stream summary, and
what changed since the previous digest (`board_changes.py`). Built from the same facts as
the reminders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from worker.rules.acknowledge import Acknowledged, standing
from worker.rules.board import BoardDigest, Cycle, RagView, StreamSummary
from worker.rules.board_changes import Seen, changes_since, seen_in
from worker.rules.board_exceptions import needs_the_board, reported_changes, returns_received
from worker.rules.rag import RagPolicy, assess
from worker.rules.reminders import ActionFacts, PlanFacts


@dataclass(frozen=True, slots=True)
class StreamInfo:
    number: int
    title: str
    phase: int
    strategic_lead: str


def rag_view(action: ActionFacts, policy: RagPolicy, as_of: date) -> RagView:
    progress = action.progress()
    status = assess(progress, policy, as_of)
    return RagView(
        action_id=action.id,
        ref=action.ref,
        phase=action.phase,
        work_stream_number=action.work_stream_number,
        work_stream_title=action.work_stream_title,
        key_deliverable=action.key_deliverable,
        action_text=action.action_text,
        description=action.description,
        leads=action.leads,
        target_text=action.target_text,
        due=action.due,
        precision=action.precision,
        days_overdue=status.days_overdue,
        reported=progress.reported,
        derived=status.derived,
        effective=status.effective,
        disagreement=status.disagreement(progress.reported),
        state=action.state,
        latest_note=action.latest_note,
        latest_note_by=action.latest_note_by,
        latest_note_at=action.latest_note_at,
        at_risk_from=action.at_risk_from,
    )


def _summaries(
    streams: Sequence[StreamInfo], views: Sequence[RagView]
) -> tuple[StreamSummary, ...]:
    counts: dict[int, dict[str, int]] = {s.number: {} for s in streams}
    for view in views:
        if view.state == "dropped":
            continue
        bucket = counts.setdefault(view.work_stream_number, {})
        bucket[view.effective] = bucket.get(view.effective, 0) + 1
        if view.state == "completed":
            bucket["completed"] = bucket.get("completed", 0) + 1
    return tuple(
        StreamSummary(
            number=s.number,
            title=s.title,
            phase=s.phase,
            strategic_lead=s.strategic_lead,
            green=counts[s.number].get("green", 0),
            amber=counts[s.number].get("amber", 0),
            red=counts[s.number].get("red", 0),
            none=counts[s.number].get("none", 0),
            completed=counts[s.number].get("completed", 0),
        )
        for s in sorted(streams, key=lambda s: s.number)
    )


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
    the status history since the previous digest (cycle_start gives its dates)."""
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
    )
    return digest, seen


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
