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
        # Nobody has reported: No return, never Amber, however the dates stand.
        (progress(state="not started", start=date(2012, 9, 1)), "green", "none", ""),
        (progress(due=date(2012, 10, 5)), "green", "none", ""),
        # A reported Green stays Green until its target passes.
        (progress(reported="green", due=date(2012, 10, 5)), "green", "green", ""),
        (progress(reported="amber"), "green", "amber", "reported Amber, on target by its dates"),
        (progress(due=None, start=None), "none", "none", ""),
        (progress(reported="red", due=None, start=None), "none", "red", ""),
        (progress(recurring=True, due=date(2012, 5, 31)), "green", "none", ""),  # ongoing
        (
            progress(reported="green", recurring=True, due=date(2012, 5, 31)),
            "green",
            "green",
            "",
        ),
        (progress(reported="red", state="dropped"), "none", "none", ""),
    ],
)
def test_documented_rules(case: Progress, derived: str, effective: str, said: str) -> None:
    result = assess(case, POLICY, AS_OF)
    assert (result.derived, result.effective) == (derived, effective)
    assert result.disagreement(case.reported) == said


def test_a_council_can_opt_in_to_amber_from_the_dates_alone() -> None:
    policy = RagPolicy(amber_within_days=7, amber_when_start_passed=True)
    soon = assess(progress(reported="green", due=date(2012, 10, 5)), policy, AS_OF)
    assert (soon.derived, soon.effective) == ("amber", "amber")
    assert soon.disagreement("green") == "reported Green, due in 4 days, not completed"
    late_start = progress(state="not started", start=date(2012, 9, 1))
    assert assess(late_start, policy, AS_OF).effective == "amber"


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
def test_effective_is_the_report_made_worse_only_by_the_dates(
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
        assert result.effective in (case.reported, result.derived)
        if result.derived in ("amber", "red"):
            assert ORDER[result.effective] >= ORDER[result.derived]
        # The default policy derives Amber only from slippage past the target.
        if result.derived == "amber":
            assert result.days_overdue > 0
        # Dates never stand in for a report: unreported and not late is No return.
        if case.reported == "none" and result.days_overdue == 0:
            assert result.effective == "none"
    assert (result.days_overdue > 0) == (
        due is not None and as_of > due and not recurring and state not in ("completed", "dropped")
    )
