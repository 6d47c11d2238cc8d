"""`simulate`'s volume summary: what an admin reads to judge, before going live, whether anyone
would be sent too much (per person and per week)."""

from __future__ import annotations

import json
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SEED, Cli
from worker.jobs.simulate import Delivery
from worker.jobs.volume import longest_streak, per_person, per_week, week_of
from worker.rules.workdays import WorkingDays

DAYS = WorkingDays()


def _sent(day: date, to: str = "lead@example.org", items: int = 1) -> Delivery:
    refs = tuple((f"WS1-{n:02d}", "overdue", "overdue by 1 day") for n in range(items))
    return Delivery(day, "remind", to, "", "subject", refs)


def test_a_lead_written_to_every_working_day_for_two_weeks_has_a_ten_day_streak() -> None:
    days = DAYS.between(date(2012, 9, 17), date(2012, 9, 28))
    (lead,) = per_person([_sent(d) for d in days], DAYS)
    assert lead.longest_daily_streak == 10
    assert lead.weeks == 2 and lead.most_messages_in_a_week == 5


def test_a_bank_holiday_neither_breaks_nor_extends_a_streak() -> None:
    # Monday 27 August 2012 was the summer bank holiday.
    friday, tuesday = date(2012, 8, 24), date(2012, 8, 28)
    assert longest_streak([friday, tuesday], DAYS) == 2
    # A working day missed does break it.
    assert longest_streak([friday, tuesday + timedelta(days=2)], DAYS) == 1


def test_the_busiest_person_comes_first() -> None:
    monday = date(2012, 10, 1)
    timeline = [
        _sent(monday, "quiet@example.org"),
        _sent(monday, "busy@example.org", items=12),
        _sent(monday + timedelta(days=1), "busy@example.org", items=3),
    ]
    busy, quiet = per_person(timeline, DAYS)
    assert (busy.email, busy.most_items_in_a_week, busy.messages) == ("busy@example.org", 15, 2)
    assert (quiet.email, quiet.items) == ("quiet@example.org", 1)


working_days = st.sampled_from(DAYS.between(date(2012, 5, 1), date(2013, 12, 31)))
deliveries = st.builds(
    _sent,
    working_days,
    st.sampled_from(["a@example.org", "B@example.org", "b@example.org", "c@example.org"]),
    st.integers(min_value=0, max_value=30),
)


@given(st.lists(deliveries, max_size=60))
def test_the_summaries_account_for_every_message_and_item(timeline: list[Delivery]) -> None:
    people, weeks = per_person(timeline, DAYS), per_week(timeline)
    items = sum(len(d.items) for d in timeline)
    assert sum(p.messages for p in people) == sum(w.messages for w in weeks) == len(timeline)
    assert sum(p.items for p in people) == sum(w.items for w in weeks) == items
    # Addresses that differ only in case are one person.
    assert len(people) == len({d.email.lower() for d in timeline})
    for p in people:
        assert 1 <= p.longest_daily_streak <= p.messages
        assert p.most_messages_in_a_week <= p.messages and p.most_items_in_a_week <= p.items
    assert all(w.monday == week_of(w.monday) and w.monday.weekday() == 0 for w in weeks)


def test_simulate_json_summarises_each_person_and_week_from_its_own_messages(cli: Cli) -> None:
    cli("plan", "import", str(SEED))
    out = json.loads(cli("simulate", "--from", "2012-09-17", "--to", "2012-10-12", "--json").stdout)
    messages = out["messages"]
    by_person = {p["email"]: p for p in out["per_person"]}
    for email in {m["to"].lower() for m in messages}:
        mine = [m for m in messages if m["to"].lower() == email]
        assert by_person[email]["messages"] == len(mine)
        assert by_person[email]["items"] == sum(len(m["items"]) for m in mine)
    assert sum(w["messages"] for w in out["per_week"]) == len(messages)
    assert [w["monday"] for w in out["per_week"]] == [
        "2012-09-17",
        "2012-09-24",
        "2012-10-01",
        "2012-10-08",
    ]
    text = cli("simulate", "--from", "2012-09-17", "--to", "2012-10-12").stdout
    assert "Per person, the busiest first" in text and "w/c Mon 2012-10-01" in text
