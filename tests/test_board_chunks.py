"""The board's view built a chunk of the plan at a time (`BoardTally`, as `planworker digest`
reads a plan) is the view built from every action at once: the same counts, Amber and Red
lists, changes, "Needs the board", reports, returns and acknowledgements, in the same order,
and the same record of what it saw, however the plan is cut into chunks and whatever order
the chunks (id ranges) come in against the plan's own order (position, then id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.conftest import CONTACTS, SEED, Cli
from worker.configure import remind_config
from worker.contacts import load_directory
from worker.db import make_engine
from worker.jobs.digest import board_view
from worker.models import Action, BoardDigestEntry, Plan
from worker.rules.acknowledge import Acknowledged, Snapshot
from worker.rules.board import BoardDigest, Cycle, Report
from worker.rules.board_changes import Seen
from worker.rules.board_view import BoardTally, StreamInfo, build_board_digest, cycle_start
from worker.rules.rag import RagPolicy
from worker.rules.reminders import ActionFacts, PlanFacts
from worker.settings import Settings
from worker.store import board
from worker.store.facts import load_facts, plan_actions

AS_OF = date(2012, 11, 15)
PREVIOUS = date(2012, 11, 8)
STATES = ("not started", "in progress", "on hold", "completed", "dropped")
RAGS = (None, "green", "amber", "red")
POLICY = RagPolicy(red_after_overdue_days=14, amber_within_days=14)
# Work stream 3 is missing on purpose: its actions are counted, not shown, as before.
STREAMS = (StreamInfo(2, "Health", 1, "B"), StreamInfo(1, "Safeguarding", 1, "A"))
PLAN = PlanFacts("Plan", "Council")


@dataclass(frozen=True)
class Case:
    actions: list[ActionFacts]  # in id order, as chunk_bounds reads them
    positions: dict[int, int]  # id -> position: plan order is (position, id)
    previous: dict[int, Seen] | None
    cycle: Cycle
    chunk_size: int

    def plan_order(self, actions: Sequence[ActionFacts]) -> list[ActionFacts]:
        return sorted(actions, key=lambda a: (self.positions[a.id], a.id))


def _acks(draw: st.DrawFn, snapshot: Snapshot) -> tuple[Acknowledged, ...]:
    if not draw(st.booleans()):
        return ()
    # Standing when the action is as it saw it, lifted when its RAG changed since.
    saw = snapshot if draw(st.booleans()) else Snapshot("red", "completed", "", "", None)
    return (Acknowledged("b@example.org", "B", datetime(2012, 11, 9, tzinfo=UTC), "", saw),)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n = draw(st.integers(1, 30))
    refs = [f"R{i}" for i in range(n)]
    actions = []
    for i in range(n):
        facts = ActionFacts(
            id=i + 1,
            ref=refs[i],
            due=draw(st.none() | st.dates(date(2012, 10, 1), date(2012, 12, 31))),
            start=None,
            recurrence=None,
            state=draw(st.sampled_from(STATES)),
            leads=("Lead",),
            work_stream_number=draw(st.integers(1, 3)),
            work_stream_title="Stream",
            strategic_lead="",
            key_deliverable="1.",
            action_text=draw(st.sampled_from(("", f"Action {i}"))),
            description=f"Description {i}",
            target_text="November 2012",
            precision="day",
            dependencies_text="",
            rag=draw(st.sampled_from(RAGS)),
            phase=draw(st.integers(1, 2)),
            at_risk_from=tuple(draw(st.lists(st.sampled_from(refs), max_size=2, unique=True))),
        )
        acks = _acks(draw, facts.snapshot())
        actions.append(ActionFacts(**{**_fields(facts), "acknowledged": acks}))
    # Positions tie and run against ids: plan order is not the chunks' order.
    positions = {a.id: draw(st.integers(0, 8)) for a in actions}
    seen = st.builds(
        Seen, st.sampled_from(("green", "amber", "red", "none")), st.sampled_from(STATES)
    )
    previous = draw(st.none() | st.dictionaries(st.integers(1, n + 2), seen))
    start = cycle_start(PREVIOUS if previous is not None else None, AS_OF)
    return Case(actions, positions, previous, _cycle(draw, start, n), draw(st.integers(1, n + 1)))


def _fields(facts: ActionFacts) -> dict[str, object]:
    return {name: getattr(facts, name) for name in facts.__dataclass_fields__}


def _cycle(draw: st.DrawFn, start: date, n: int) -> Cycle:
    """Reports dated in the cycle, oldest first, some about actions not in the plan."""
    rag = st.sampled_from(RAGS)
    state = st.sampled_from((None, *STATES))
    target = st.sampled_from((None, "October 2012", "December 2012"))
    reports = draw(
        st.lists(
            st.builds(
                Report,
                action_id=st.integers(1, n + 2),
                at=st.integers(0, 6 * 24).map(
                    lambda h: datetime(start.year, start.month, start.day) + timedelta(hours=h)
                ),
                by=st.just("Lead"),
                source=st.sampled_from(("cli", "import", "status return r.xlsx")),
                rag_from=rag,
                rag_to=rag,
                state_from=state,
                state_to=state,
                note=st.sampled_from(("", "A note")),
                target_from=target,
                target_to=target,
            ),
            max_size=12,
        )
    )
    reports.sort(key=lambda r: r.at)
    red_since = draw(st.dictionaries(st.integers(1, n), st.dates(date(2012, 8, 1), start)))
    return Cycle(start, tuple(reports), red_since)


def _at_once(case: Case) -> tuple[BoardDigest, dict[int, Seen]]:
    previous = (PREVIOUS, case.previous) if case.previous is not None else None
    return build_board_digest(
        case.plan_order(case.actions),
        STREAMS,
        PLAN,
        {1: "First", 2: "Second"},
        previous,
        POLICY,
        AS_OF,
        cycle=case.cycle,
        long_red_weeks=2,
    )


def _chunk_wise(case: Case) -> tuple[BoardDigest, dict[int, Seen]]:
    tally = BoardTally(
        STREAMS,
        PLAN,
        {1: "First", 2: "Second"},
        PREVIOUS if case.previous is not None else None,
        POLICY,
        AS_OF,
        cycle=case.cycle,
        long_red_weeks=2,
    )
    seen: dict[int, Seen] = {}
    size = case.chunk_size
    for first in range(0, len(case.actions), size):
        # A chunk is an id range, read in plan order within it (as load_facts reads it).
        chunk = case.plan_order(case.actions[first : first + size])
        before = None
        if case.previous is not None:
            before = {a.id: case.previous[a.id] for a in chunk if a.id in case.previous}
        seen.update(tally.add(chunk, [case.positions[a.id] for a in chunk], before))
    return tally.digest(), seen


@settings(max_examples=300, deadline=None)
@given(cases())
def test_the_view_built_a_chunk_at_a_time_is_the_view_built_at_once(case: Case) -> None:
    assert _chunk_wise(case) == _at_once(case)


# --- over a database: the job's reader --------------------------------------------------------


def test_the_digest_job_reads_the_plan_in_chunks_and_sees_what_it_saw_at_once(
    cli: Cli, tmp_path: Path
) -> None:
    """The seed's plan, its positions shuffled against its ids, with a previous digest and a
    cycle of reports: the job's view read 7 actions at a time is the view of every action."""
    cli("plan", "import", str(SEED))
    cli("digest", "--as-of", "2012-10-01")
    engine = make_engine(cli.db_url)
    with Session(engine) as session:
        refs = session.scalars(select(Action.ref).order_by(Action.id).limit(12)).all()
    for ref, rag, state in zip(
        refs,
        ["red", "amber", "green", "red", "amber", "green"] * 2,
        ["in progress", "on hold", "completed", "dropped", "in progress", "not started"] * 2,
        strict=True,
    ):
        cli(
            "status",
            "set",
            ref,
            "--rag",
            rag,
            "--state",
            state,
            "--note",
            "Moved",
            "--by",
            "QA",
            "--no-alert",
            "--as-of",
            "2012-10-03",
        )
    with Session(engine) as session:
        session.execute(update(Action).values(position=(Action.id * 7) % 13))
        session.commit()
        plan = session.scalars(select(Plan)).one()
        config = remind_config(Settings(), load_directory(CONTACTS))
        as_of = date(2012, 10, 8)
        chunked = board_view(session, plan, config, as_of, chunk_size=7)
        last = board.last_digest(session, plan.id, as_of)
        assert last is not None and last[1] == date(2012, 10, 1)
        entries = select(BoardDigestEntry.action_id, BoardDigestEntry.rag, BoardDigestEntry.state)
        rows = session.execute(entries.where(BoardDigestEntry.digest_id == last[0]))
        before = {a: Seen(rag, state) for a, rag, state in rows}
        start = cycle_start(last[1], as_of)
        at_once = build_board_digest(
            load_facts(session, plan_actions(plan.id), plan.id, as_of, acknowledged=True),
            board.streams(session, plan.id),
            PlanFacts(plan.title, plan.organisation),
            board.phases(session, plan.id),
            (last[1], before),
            config.rag,
            as_of,
            cycle=board.cycle(session, plan.id, start, as_of, plan.timezone),
            long_red_weeks=config.digest_long_red_weeks,
            report_url=config.digest_report_url,
        )
    engine.dispose()
    assert chunked[0] == at_once[0]
    assert dict(chunked[1].items()) == at_once[1] and len(chunked[1]) == len(at_once[1])
    digest = chunked[0]
    assert digest.changes and digest.reported and digest.attention  # the test saw something
