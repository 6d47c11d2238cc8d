"""Derived and effective RAG: the documented rules, table-driven and as properties."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.rules.rag import ORDER, Progress, RagPolicy, assess

AS_OF = date(2012, 10, 1)
POLICY = RagPolicy()


def progress(
    reported: str = "none",
    state: str = "in progress",
    due: date | None = date(2012, 12, 31),
    start: date | None = date(2012, 5, 1),
    recurring: bool = False,
) -> Progress:
    return Progress(reported, state, due, start, recurring)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("case", "derived", "effective", "said"),
    [
        (progress(due=date(2012, 9, 19)), "red", "red", ""),  # overdue by 12 days
        (
            progress(reported="green", due=date(2012, 9, 19)),
            "red",
            "red",
            "reported Green, overdue by 12 days",
        ),
        (
            progress(reported="green", state="completed", due=date(2012, 9, 19)),
            "green",
            "green",
            "",
        ),
        (progress(reported="red", state="completed"), "green", "green", "reported Red, completed"),
        (progress(state="not started", start=date(2012, 9, 1)), "amber", "amber", ""),
        (
            progress(reported="green", due=date(2012, 10, 5)),
            "amber",
            "amber",
            "reported Green, due in 4 days, not completed",
        ),
        (progress(reported="amber"), "green", "amber", "reported Amber, on target by its dates"),
        (progress(due=None, start=None), "none", "none", ""),
        (progress(reported="red", due=None, start=None), "none", "red", ""),
        (progress(recurring=True, due=date(2012, 5, 31)), "green", "green", ""),  # ongoing
        (progress(reported="red", state="dropped"), "none", "none", ""),
    ],
)
def test_documented_rules(case: Progress, derived: str, effective: str, said: str) -> None:
    result = assess(case, POLICY, AS_OF)
    assert (result.derived, result.effective) == (derived, effective)
    assert result.disagreement(case.reported) == said


def test_a_council_that_allows_a_month_of_slippage_calls_it_amber() -> None:
    policy = RagPolicy(red_after_overdue_days=31)
    assert assess(progress(due=AS_OF - timedelta(days=20)), policy, AS_OF).derived == "amber"
    assert assess(progress(due=AS_OF - timedelta(days=40)), policy, AS_OF).derived == "red"


rags = st.sampled_from(["none", "green", "amber", "red"])
states = st.sampled_from(["not started", "in progress", "completed", "dropped"])
maybe_dates = st.none() | st.dates(date(2011, 1, 1), date(2014, 12, 31))


@given(
    rags,
    states,
    maybe_dates,
    maybe_dates,
    st.booleans(),
    st.dates(date(2011, 1, 1), date(2014, 12, 31)),
)
def test_effective_is_never_better_than_either_unless_completed_or_dropped(
    reported: str, state: str, due: date | None, start: date | None, recurring: bool, as_of: date
) -> None:
    case = Progress(reported, state, due, start, recurring)  # type: ignore[arg-type]
    result = assess(case, RagPolicy(), as_of)
    if state == "completed":
        assert result.effective == "green"
    elif state == "dropped":
        assert result.effective == "none"
    else:
        assert ORDER[result.effective] >= ORDER[case.reported]
        assert ORDER[result.effective] >= ORDER[result.derived]
        assert result.effective in (case.reported, result.derived)
    assert (result.days_overdue > 0) == (
        due is not None and as_of > due and not recurring and state not in ("completed", "dropped")
    )
