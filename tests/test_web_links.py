"""Signed links and who may update what (pure): a link works for its plan, its address and
its purpose for the days it is given, and not after; another key, plan or purpose refuses
it; an action is someone's to update exactly when their lead reminders go to them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from worker.contacts import parse_directory
from worker.rules.reminders import Schedule
from worker.web.access import routed_refs
from worker.web.links import LEAD, LinkRefused, read, sign

KEY = "k" * 40
AGE = timedelta(days=45)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)
addresses = st.emails()
plans = st.integers(1, 2**31)


@given(plans, addresses, moments, st.integers(0, 45 * 86400))
def test_a_link_reads_back_its_plan_and_address_within_its_days(
    plan: int, email: str, signed: datetime, later: int
) -> None:
    token = sign(KEY, plan, email, LEAD, signed)
    now = signed + timedelta(seconds=later)
    claim = read(KEY, token, plan_id=plan, purpose=LEAD, max_age=AGE, now=now)
    assert (claim.plan_id, claim.email, claim.purpose) == (plan, email.lower(), LEAD)


@given(plans, addresses, moments, st.integers(45 * 86400 + 1, 3650 * 86400))
def test_a_link_is_refused_once_its_days_are_over(
    plan: int, email: str, signed: datetime, later: int
) -> None:
    token = sign(KEY, plan, email, LEAD, signed)
    now = signed + timedelta(seconds=later)
    with pytest.raises(LinkRefused) as caught:
        read(KEY, token, plan_id=plan, purpose=LEAD, max_age=AGE, now=now)
    assert caught.value.reason == "expired"


def test_another_key_plan_or_purpose_refuses_a_link() -> None:
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    token = sign(KEY, 1, "Lead@Example.org", LEAD, now)
    for kwargs, reason in [
        ({"key": "a new key after rotation" * 2}, "tampered"),
        ({"plan_id": 2}, "wrong plan"),
        ({"purpose": "board"}, "tampered"),
    ]:
        merged = {"plan_id": 1, "purpose": LEAD, "max_age": AGE, "now": now, **kwargs}
        key = str(merged.pop("key", KEY))
        with pytest.raises(LinkRefused) as caught:
            read(key, token, **merged)  # type: ignore[arg-type]
        assert caught.value.reason == reason, kwargs
    payload, stamp, signature = token.split(".")
    for bad in (f"{payload}x.{stamp}.{signature}", f"{payload}.{stamp}.{signature[:-3]}", ""):
        with pytest.raises(LinkRefused) as caught:
            read(KEY, bad, plan_id=1, purpose=LEAD, max_age=AGE, now=now)
        assert caught.value.reason == "tampered"


def test_the_token_does_not_say_why_it_was_refused_with_itself() -> None:
    token = sign(KEY, 1, "lead@example.org", LEAD, datetime(2026, 1, 5, tzinfo=UTC))
    with pytest.raises(LinkRefused) as caught:
        read(KEY, token + "x", plan_id=1, purpose=LEAD, max_age=AGE, now=datetime.now(UTC))
    assert token not in str(caught.value)


DIRECTORY = parse_directory(
    {
        "administrator": {"name": "Admin", "email": "admin@example.org"},
        "roles": {
            "Head of QA": {"person": "Ann Lee", "email": "Ann.Lee@example.org"},
            "Audit Manager": {"email": "", "deputy": "Head of QA"},  # vacant: covered
            "HOS Fostering": {"email": "fostering@example.org"},
            "Vacant post": {"email": ""},  # no one covers it: the administrator hears
        },
    },
    "contacts",
)


def schedule(ref: str, *leads: str) -> Schedule:
    return Schedule(
        id=hash(ref), ref=ref, due=None, start=None, recurrence=None, state="", leads=leads
    )


def test_a_lead_may_update_their_own_actions_and_those_they_cover_as_deputy() -> None:
    actions = [
        schedule("WS1-01", "Head of QA"),
        schedule("WS1-02", "Audit Manager"),
        schedule("WS1-03", "HOS Fostering"),
        schedule("WS1-04", "HOS Fostering", "head of qa."),
        schedule("WS1-05", "Vacant post"),
        schedule("WS1-06", "Not in the directory"),
        schedule("WS1-07"),
    ]
    routed = routed_refs(actions, DIRECTORY, "ANN.LEE@example.org")
    assert (routed.email, routed.name) == ("ann.lee@example.org", "Ann Lee")
    assert routed.refs == {
        "WS1-01": ("Head of QA",),
        "WS1-02": ("deputy for Audit Manager (post vacant)",),
        "WS1-04": ("head of qa.",),
    }
    assert routed_refs(actions, DIRECTORY, "admin@example.org").refs == {}
    nobody = routed_refs(actions, DIRECTORY, "stranger@example.org")
    assert (nobody.name, nobody.refs) == ("stranger@example.org", {})
