"""Rows listing several items become one action per item only when the items line up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from worker.plan.data import Row
from worker.plan.split import ITEM_SEPARATOR, items, row_shape, split_row


def row(lead_roles: tuple[tuple[str, ...], ...] | None = None, **cells: tuple[str, ...]) -> Row:
    base: dict[str, tuple[str, ...]] = {
        "action": ("Do it",),
        "description": ("One",),
        "lead": ("Head of QA",),
        "dependencies": (),
        "start": ("May 2012",),
        "target": ("June 2012",),
    }
    base.update(cells)
    roles = lead_roles if lead_roles is not None else tuple((x,) for x in base["lead"])
    return Row(
        ref="WS1-01", work_stream=1, key_deliverable="1.", depends_on=(), lead_roles=roles, **base
    )  # type: ignore[arg-type]


def test_items_that_line_up_become_one_action_each_with_their_own_lead_and_date() -> None:
    actions = split_row(
        row(
            description=("Brief staff", "Audit plans"),
            lead=("Team Manager", "Audit Manager"),
            start=("May 2012", "September 2012"),
            target=("June 2012", "October 2012"),
        )
    )
    assert [(a.ref, a.description, a.lead_roles, a.target) for a in actions] == [
        ("WS1-01.1", "Brief staff", ("Team Manager",), "June 2012"),
        ("WS1-01.2", "Audit plans", ("Audit Manager",), "October 2012"),
    ]
    assert {a.row_ref for a in actions} == {"WS1-01"}


def test_a_single_lead_is_shared_by_every_item() -> None:
    actions = split_row(row(description=("A", "B"), target=("May 2012", "June 2012")))
    assert [a.lead for a in actions] == ["Head of QA", "Head of QA"]


def test_six_descriptions_four_leads_three_dates_stay_one_action_with_everything() -> None:
    cells = {
        "description": tuple("abcdef"),
        "lead": ("L1", "L2", "L3", "L4"),
        "target": ("October 2012",) * 3,
        "start": ("April 2012", "June 2012"),
    }
    actions = split_row(row(**cells))
    assert len(actions) == 1
    (whole,) = actions
    assert items(whole.description) == tuple("abcdef")
    assert whole.lead_roles == ("L1", "L2", "L3", "L4")
    assert not row_shape(row(**cells)).split


def test_more_descriptions_than_dates_are_never_given_invented_dates() -> None:
    assert len(split_row(row(description=("A", "B", "C"), target=("May 2012", "June 2012")))) == 1


cell = st.lists(st.text(alphabet="abc xyz", min_size=1).map(str.strip).filter(bool), max_size=4)


@given(description=cell, lead=cell, start=cell, target=cell)
def test_splitting_keeps_every_item_and_invents_none(
    description: list[str], lead: list[str], start: list[str], target: list[str]
) -> None:
    r = row(
        description=tuple(description),
        lead=tuple(lead),
        start=tuple(start),
        target=tuple(target),
        lead_roles=tuple((x,) for x in lead) or ((),),
    )
    actions = split_row(r)
    got_descriptions = [d for a in actions for d in items(a.description)]
    got_targets = [t for a in actions for t in a.target.split(ITEM_SEPARATOR) if t]
    assert got_descriptions == [d for d in description if d]
    assert sorted(got_targets) == sorted(t for t in target if t)
    assert len(actions) == (len(description) if row_shape(r).split else 1)
    assert len({a.ref for a in actions}) == len(actions)
