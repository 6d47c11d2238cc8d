"""Which risky actions a reminder says an action depends on: every one, in plan order, each
once, never itself, and no more than a readable number of them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from worker.plan.data import DependencyRef
from worker.status_store import RISK_REFS_SHOWN, at_risk_from, risk_index

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
    own = next(
        (ref for found in risky.values() for _, ref in found if ref.endswith(f"-{own_index:02d}")),
        "none",
    )
    every = _every_risky_dependency(deps, risky, own)
    shown = list(at_risk_from(deps, risk_index(risky), own))
    more = len(every) - RISK_REFS_SHOWN
    if more > 0:
        assert shown[-1] == f"and {more} more"
        shown = shown[:-1]
    assert len(shown) == len(set(shown)) == min(len(every), RISK_REFS_SHOWN)
    assert set(shown) <= set(every)


def test_a_whole_stream_of_risky_actions_is_cut_short() -> None:
    risky = _plan([(4, 1)] * 25)
    shown = at_risk_from([DependencyRef(4)], risk_index(risky), "WS4-03")
    assert shown[:3] == ("WS4-00", "WS4-01", "WS4-02")
    assert "WS4-03" not in shown
    assert shown[-1] == "and 14 more"  # 24 others, 10 shown
