"""Which risky actions a reminder says an action depends on: every one, in plan order, each
once, never itself, and no more than a readable number of them."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from tests.conftest import CONTACTS, SEED
from worker.contacts import load_directory
from worker.models import Action, ActionDependency, Plan, WorkStream
from worker.plan.data import DependencyRef
from worker.plan.importer import import_file
from worker.store.facts import load_facts
from worker.store.status import RISK_REFS_SHOWN, at_risk_from, risk_groups, risk_index

streams = st.integers(1, 3)
deliverables = st.none() | st.integers(1, 3)
risky_actions = st.lists(st.tuples(streams, deliverables), max_size=40)
dependencies = st.lists(st.builds(DependencyRef, streams, deliverables), max_size=4)


def _plan(actions: list[tuple[int, int | None]]) -> dict[int, list[tuple[int | None, str]]]:
    risky: dict[int, list[tuple[int | None, str]]] = {}
    for n, (stream, kd) in enumerate(actions):
        risky.setdefault(stream, []).append((kd, f"WS{stream}-{n:02d}"))
    return risky


def _every_risky_dependency(
    deps: list[DependencyRef], risky: dict[int, list[tuple[int | None, str]]], own: str
) -> list[str]:
    # The plain definition: walk each dependency's stream, keep what it names, once each.
    found: list[str] = []
    for dep in deps:
        for kd, ref in risky.get(dep.work_stream, ()):
            if dep.key_deliverable in (None, kd) and ref != own and ref not in found:
                found.append(ref)
    return found


@given(risky_actions, dependencies, st.integers(0, 45))
def test_lists_the_first_risky_dependencies_then_how_many_more(
    actions: list[tuple[int, int | None]], deps: list[DependencyRef], own_index: int
) -> None:
    risky = _plan(actions)
    own, own_groups = "none", ()
    if own_index < len(actions):  # the reader's action is risky itself
        stream, kd = actions[own_index]
        own, own_groups = f"WS{stream}-{own_index:02d}", risk_groups(stream, kd)
    every = _every_risky_dependency(deps, risky, own)
    shown = list(at_risk_from(deps, risk_index(risky), own, own_groups))
    more = len(every) - RISK_REFS_SHOWN
    if more > 0:
        assert shown[-1] == f"and {more} more"
        shown = shown[:-1]
    assert len(shown) == len(set(shown)) == min(len(every), RISK_REFS_SHOWN)
    assert set(shown) <= set(every)


def test_a_whole_stream_of_risky_actions_is_cut_short() -> None:
    risky = _plan([(4, 1)] * 25)
    shown = at_risk_from([DependencyRef(4)], risk_index(risky), "WS4-03", risk_groups(4, 1))
    assert shown[:3] == ("WS4-00", "WS4-01", "WS4-02")
    assert "WS4-03" not in shown
    assert shown[-1] == "and 14 more"  # 24 others, 10 shown


def test_an_action_at_risk_itself_is_not_counted_among_its_own_risks(engine: Engine) -> None:
    # Every action of work stream 1 reported Red, and one of them depending on the whole
    # stream: it is told about the others, first ten and how many more, never itself.
    with Session(engine) as s:
        import_file(s, SEED, None, "test", "end", load_directory(CONTACTS))
        plan_id = s.scalars(select(Plan.id)).one()
        stream = s.scalars(select(WorkStream.id).where(WorkStream.number == 1)).one()
        in_stream = Action.work_stream_id == stream
        s.execute(update(Action).where(in_stream).values(rag="red", state="in_progress"))
        refs = list(s.scalars(select(Action.ref).where(in_stream).order_by(Action.position)))
        own = refs[-1]
        own_id = s.scalars(select(Action.id).where(Action.ref == own)).one()
        s.add(ActionDependency(action_id=own_id, work_stream=1, key_deliverable=None))
        s.commit()
        [facts] = load_facts(s, Action.id == own_id, plan_id, date(2012, 9, 24))
    others = [ref for ref in refs if ref != own]
    assert len(others) > RISK_REFS_SHOWN
    expected = (*others[:RISK_REFS_SHOWN], f"and {len(others) - RISK_REFS_SHOWN} more")
    assert facts.at_risk_from == expected
