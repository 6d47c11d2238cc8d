"""The board digest's day (issue 13): on a bank holiday `digest` and `simulate` do the same
thing -- no digest, unless digest.on_holidays says to send one anyway."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tests.conftest import Cli
from tests.test_board import small_plan
from tests.test_service import at, make_service
from worker.db import session_factory
from worker.mail.memory import MemoryMailer
from worker.models import JobRun

# Bank-holiday Mondays: the summer bank holiday, Easter Monday, the early May bank holiday.
HOLIDAY_MONDAYS = ["2012-08-27", "2013-04-01", "2013-05-06"]


def run(cli: Cli, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli(*args, "--json").stdout)
    return data


def simulated_digests(cli: Cli, monday: date) -> set[str]:
    """The dates of the week of `monday` on which `simulate` sends the board digest."""
    sunday = monday + timedelta(days=6)
    timeline = run(
        cli, "simulate", "--from", monday.isoformat(), "--to", sunday.isoformat(), "--job", "digest"
    )
    return {m["date"] for m in timeline["messages"] if m["job"] == "digest"}


@pytest.fixture
def small(cli: Cli, tmp_path: Path) -> Cli:
    cli("plan", "import", str(small_plan(tmp_path)))
    return cli


@pytest.mark.parametrize("holiday", HOLIDAY_MONDAYS)
def test_no_digest_on_a_bank_holiday_monday_from_digest_or_simulate(
    small: Cli, holiday: str
) -> None:
    monday = date.fromisoformat(holiday)
    result = run(small, "digest", "--as-of", holiday)
    assert "bank holiday" in result["skipped"]
    assert run(small, "outbox")["messages"] == []
    assert not list(small.maildir.glob("new/*"))
    assert simulated_digests(small, monday) == set()
    # The next Monday is an ordinary one: both send.
    next_monday = monday + timedelta(days=7)
    assert simulated_digests(small, next_monday) == {next_monday.isoformat()}
    sent = run(small, "digest", "--as-of", next_monday.isoformat())
    assert sent["recipients"] and not sent["skipped"]


@pytest.mark.parametrize("holiday", HOLIDAY_MONDAYS)
def test_digest_on_holidays_sends_on_the_bank_holiday_in_digest_and_simulate(
    small: Cli, holiday: str
) -> None:
    small.env["PLANWORKER_DIGEST__ON_HOLIDAYS"] = "true"
    assert simulated_digests(small, date.fromisoformat(holiday)) == {holiday}
    result = run(small, "digest", "--as-of", holiday)
    assert result["recipients"] and not result["skipped"]
    assert len(run(small, "outbox")["messages"]) == len(result["recipients"])


def test_the_services_digest_job_skips_easter_monday_and_sends_the_next_monday(
    engine: Engine,
) -> None:
    mailer = MemoryMailer()
    service = make_service(engine, mailer)
    assert service.run_due("digest", at("2013-04-01", "07:30")) == "ran"
    assert mailer.count == 0
    with session_factory(engine)() as session:
        (summary,) = session.scalars(select(JobRun.summary).where(JobRun.job == "digest"))
    assert "Monday 1 April 2013 is a bank holiday" in json.loads(summary)["skipped"]
    assert service.run_due("digest", at("2013-04-08", "07:30")) == "ran"
    subjects = {message["Subject"] for _, message in mailer.sent}
    assert len(mailer.sent) >= 1 and all("8 April 2013" in s for s in subjects)
