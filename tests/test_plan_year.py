"""The seed's whole plan year, as the council would live it with no status recorded (issue 16's
"done when"): one replay of `simulate --from 2012-05-01 --to 2013-12-31`, read as each reader
would read it. One replay serves every check here: it takes the better part of a minute."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SEED, Cli

pytestmark = pytest.mark.slow

BOARD = {
    "director-of-childrens-services@example.org",
    "director-of-nursing-and-quality@example.org",
    "assistant-director-childrens-services-operations@example.org",
    "head-of-adoption-and-fostering@example.org",
}
ADMIN = "planworker-admin@example.org"


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir: Path = tmp_path_factory.mktemp("year")
    cli = Cli(f"sqlite:///{workdir / 'planworker.db'}", workdir)
    cli("db", "upgrade")
    cli("plan", "import", str(SEED))
    result = cli("simulate", "--from", "2012-05-01", "--to", "2013-12-31", "--json")
    timeline: dict[str, Any] = json.loads(result.stdout)
    return timeline


def test_a_board_member_gets_a_weekly_digest_of_at_most_2000_action_entries(
    year: dict[str, Any],
) -> None:
    entries: Counter[str] = Counter()
    digests: Counter[str] = Counter()
    for m in year["messages"]:
        if m["job"] == "digest":
            entries[m["to"]] += len(m["items"])
            digests[m["to"]] += 1
    assert set(entries) == BOARD
    assert min(digests.values()) >= 80  # weekly, bank holidays aside
    assert max(entries.values()) <= 2000, entries  # 8,311 each before the exception digest


def test_nothing_is_escalated_before_its_lead_or_the_administrator_was_told(
    year: dict[str, Any],
) -> None:
    told: dict[str, str] = {}  # ref -> first day a lead reminder or weekly summary named it
    escalated = 0
    for m in sorted(year["messages"], key=lambda m: m["date"]):
        for item in m["items"]:
            if m["job"] == "remind":
                told.setdefault(item["ref"], m["date"])
            elif m["job"] == "escalate":
                escalated += 1
                assert told.get(item["ref"], "9999") < m["date"], (item["ref"], m["date"])
    assert escalated


def test_ws3_09s_june_milestone_reaches_its_leads_before_the_day(year: dict[str, Any]) -> None:
    # WS3-09's target cell: "9th June 2012" and a later date; the June one is a milestone.
    days = {
        m["date"]
        for m in year["messages"]
        if m["job"] == "remind"
        for i in m["items"]
        if i["ref"] == "WS3-09" and "9th June 2012" in i["rule"]
    }
    assert any("2012-05-26" <= d <= "2012-06-09" for d in days), sorted(days)


def test_the_administrator_hears_weekly_not_daily(year: dict[str, Any]) -> None:
    (admin,) = [p for p in year["per_person"] if p["email"] == ADMIN]
    assert admin["most_messages_in_a_week"] == 1  # 422 working days in a row before
    assert admin["longest_daily_streak"] == 1
    assert admin["messages"] <= admin["weeks"]
    # Each work stream's strategic lead sees their own unroutable or undated rows.
    nursing = {
        i["ref"]
        for m in year["messages"]
        if m["to"] == "director-of-nursing-and-quality@example.org"
        for i in m["items"]
        if i["section"] == "unassigned"
    }
    assert {"WS8-13", "WS3-02"} <= nursing
