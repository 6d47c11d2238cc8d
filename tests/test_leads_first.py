"""Leads first (issue 16): nothing about an action goes above its lead until the lead has been
sent a reminder about it and had a grace period to report, and an action nobody has reported
on is "No return", never Amber."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import SEED, Cli
from tests.test_reminder_rules import facts
from worker.rules.escalation import EscalationPolicy, leads_had_their_chance
from worker.rules.workdays import WorkingDays

DAYS = WorkingDays()
POLICY = EscalationPolicy()
some_days = st.dates(date(2012, 5, 1), date(2013, 12, 31))


@given(some_days, st.none() | some_days, st.sampled_from([None, "green", "amber", "red"]))
def test_an_unreported_action_goes_up_only_after_its_lead_was_told_and_had_the_grace(
    as_of: date, told: date | None, rag: str | None
) -> None:
    action = replace(facts(1, date(2012, 9, 30), ("Head of QA",)), rag=rag, first_told=told)
    allowed = leads_had_their_chance(action, POLICY, DAYS, as_of)
    if rag is not None:
        assert allowed  # the lead has spoken
    elif told is None or told >= as_of:
        assert not allowed
    else:
        grace = len(DAYS.between(told + timedelta(days=1), as_of))
        assert allowed == (grace >= POLICY.grace_days)


def test_the_grace_period_counts_working_days() -> None:
    told = date(2012, 8, 23)  # a Thursday; Monday 27 August was a bank holiday
    action = replace(facts(1, date(2012, 8, 1), ("Head of QA",)), first_told=told)
    # Fri 24, Tue 28, Wed 29, Thu 30 are four working days; Fri 31 is the fifth.
    assert not leads_had_their_chance(action, POLICY, DAYS, date(2012, 8, 30))
    assert leads_had_their_chance(action, POLICY, DAYS, date(2012, 8, 31))


def test_on_the_seed_nothing_is_escalated_before_its_lead_heard_of_it(cli: Cli) -> None:
    cli("plan", "import", str(SEED))
    result = cli("simulate", "--from", "2012-08-01", "--to", "2012-10-31", "--json")
    first_told: dict[str, str] = {}
    escalated = 0
    for message in json.loads(result.stdout)["messages"]:
        for item in message["items"]:
            if message["job"] == "remind":
                first_told.setdefault(item["ref"], message["date"])
            elif message["job"] == "escalate":
                escalated += 1
                assert first_told.get(item["ref"], "9999") < message["date"], item["ref"]
    assert escalated  # the overdue actions do go up, after their leads


def test_with_no_status_recorded_no_action_is_derived_amber(cli: Cli, tmp_path: Path) -> None:
    cli("plan", "import", str(SEED))
    report = tmp_path / "report.csv"
    cli("report", "--format", "csv", "--as-of", "2012-10-01", "-o", str(report))
    with report.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and {r["Derived RAG"] for r in rows} == {"Red"}
    assert all(int(r["Days Overdue"]) > 0 for r in rows)
