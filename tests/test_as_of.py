"""Runs dated in the future: a rehearsal with a later --as-of must never silence the real
run's Red alerts (issue 14). On the seed, every open action with a target date is long
overdue today, so a run dated weeks ahead sees the same Red actions as the real one."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import CONTACTS, SEED, Cli
from worker.configure import remind_config
from worker.contacts import load_directory
from worker.db import session_factory
from worker.jobs import catalogue
from worker.jobs.config import RemindConfig
from worker.jobs.pipeline import Request
from worker.jobs.results import DigestResult
from worker.models import Message
from worker.plan.importer import import_file
from worker.rules.workdays import WorkingDays
from worker.settings import Settings

DAYS = WorkingDays()


def _digest(
    sessions: sessionmaker[Session], config: RemindConfig, as_of: date, at: datetime, today: date
) -> DigestResult:
    """The board digest's planning, run at `at` on the wall-clock date `today`, no mail sent."""
    request = Request(sessions, 1, config, as_of, clock=lambda: at, today=today)
    result = catalogue.run("digest", request)
    assert isinstance(result, DigestResult)
    return result


def today() -> date:
    return datetime.now(ZoneInfo("Europe/London")).date()


def escalation_day(day: date, *, later: bool = False) -> str:
    """The working day on or before `day` (on or after, when `later`) that is not the
    board's digest morning: on a Monday board members' escalations wait for Tuesday
    (docs/escalation.md), and the seed's strategic leads all sit on the board, so these
    tests would find no escalation at all when run on a Monday."""
    step = DAYS.on_or_after if later else DAYS.on_or_before
    found = step(day)
    while found.weekday() == 0:
        found = step(found + timedelta(days=1 if later else -1))
    return found.isoformat()


def real_day() -> str:
    """The latest working day up to today, a Monday aside: a real run (not in the future)."""
    return escalation_day(today())


def future_day() -> str:
    """A working day about six weeks ahead: far beyond the default horizon of one day."""
    return escalation_day(today() + timedelta(days=40), later=True)


def run(cli: Cli, *args: str, ok: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli(*args, "--json", ok=ok).stdout)
    return data


def turned_red(result: dict[str, Any]) -> set[tuple[str, str]]:
    """(recipient, action) of every Red alert a run planned."""
    return {
        (m["to"], i["ref"])
        for m in result["messages"]
        for i in m["items"]
        if i["section"] == "turned_red"
    }


def ledger(cli: Cli) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = run(cli, "outbox", "--limit", "100000")["messages"]
    return messages


def history(cli: Cli, ref: str) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = run(cli, "status", "history", ref)["changes"]
    return [c for c in changes if not c["source"].startswith("import")]


def reminded_on(day: date) -> str:
    """A working day two weeks before `day`: leads reminded then have had their grace period
    by `day`, so their actions may go above them (leads first, rules/escalation.py)."""
    return DAYS.on_or_before(day - timedelta(days=14)).isoformat()


@pytest.fixture
def seed(cli: Cli, tmp_path: Path) -> Cli:
    """The seed plan, its leads reminded two weeks ago and every action but WS1-01 reported
    Red then, without alerts: what escalation runs on today. (An action merely long overdue
    is escalated as overdue, never "turned Red": planworker did not see it turn.)"""
    cli("plan", "import", str(SEED))
    reminded = reminded_on(date.fromisoformat(real_day()))
    cli("remind", "--as-of", reminded)
    report = tmp_path / "plan.csv"
    cli("report", "--format", "csv", "-o", str(report))
    refs = [r["ID"] for r in csv.DictReader(io.StringIO(report.read_text("utf-8")))]
    rows = "".join(f"{ref},Red,in progress,Stuck,Lead\n" for ref in refs if ref != "WS1-01")
    red = tmp_path / "red.csv"
    red.write_text("ID,RAG,Status,Note,Updated By\n" + rows, encoding="utf-8")
    cli("status", "import", str(red), "--no-alert", "--as-of", reminded)
    REMINDED[id(cli)] = len(ledger(cli))
    return cli


# How many messages each test's fixture recorded (by the Cli's id).
REMINDED: dict[int, int] = {}


def nothing_new(cli: Cli) -> bool:
    """Whether the ledger holds only the fixture's lead reminders."""
    return len(ledger(cli)) == REMINDED[id(cli)]


def test_a_future_escalation_is_refused_rehearsed_without_a_trace_and_the_real_run_alerts_all(
    seed: Cli,
) -> None:
    future = future_day()
    refused = seed("escalate", "--as-of", future, ok=False)
    assert refused.exit_code == 1
    assert f"--as-of {future}" in refused.output and "--dry-run" in refused.output
    assert "Traceback" not in refused.output
    assert nothing_new(seed)

    rehearsal = run(seed, "escalate", "--as-of", future, "--dry-run")
    rehearsed = turned_red(rehearsal)
    assert len({ref for _, ref in rehearsed}) > 50  # most of the seed is Red by now
    assert nothing_new(seed)  # a dry run records nothing

    real = run(seed, "escalate", "--as-of", real_day())
    assert turned_red(real) == rehearsed  # every Red alert, to every recipient
    assert real["counts"]["sent"] == len(real["messages"])


def test_a_run_dated_ahead_within_the_horizon_does_not_silence_the_real_run(seed: Cli) -> None:
    seed.env["PLANWORKER_SERVICE__AS_OF_HORIZON_DAYS"] = "31"
    ahead = escalation_day(today() + timedelta(days=20), later=True)
    early = run(seed, "escalate", "--as-of", ahead)
    assert turned_red(early)  # allowed, and sent
    real = run(seed, "escalate", "--as-of", real_day())
    assert turned_red(real) == turned_red(early)
    # Each kept apart once: running either again sends nothing new.
    assert run(seed, "escalate", "--as-of", ahead)["messages"] == []
    assert run(seed, "escalate", "--as-of", real_day())["messages"] == []


def test_a_run_dated_ahead_repeats_no_alert_the_real_run_already_sent(seed: Cli) -> None:
    seed.env["PLANWORKER_SERVICE__AS_OF_HORIZON_DAYS"] = "31"
    real = run(seed, "escalate", "--as-of", real_day())
    assert turned_red(real)
    ahead = escalation_day(today() + timedelta(days=20), later=True)
    assert turned_red(run(seed, "escalate", "--as-of", ahead)) == set()
    assert turned_red(run(seed, "escalate", "--as-of", future_day(), "--dry-run")) == set()


def test_a_future_reminder_run_is_refused(seed: Cli) -> None:
    future = future_day()
    refused = seed("remind", "--as-of", future, ok=False)
    assert refused.exit_code == 1 and f"--as-of {future}" in refused.output
    assert nothing_new(seed)
    assert run(seed, "remind", "--as-of", future, "--dry-run")["messages"]


def test_a_future_status_set_is_refused_before_anything_is_recorded(seed: Cli) -> None:
    future = future_day()
    refused = seed(
        "status",
        "set",
        "WS1-01",
        "--rag",
        "red",
        "--note",
        "Rehearsal",
        "--by",
        "Head of QA",
        "--as-of",
        future,
        ok=False,
    )
    assert refused.exit_code == 1 and f"--as-of {future}" in refused.output
    assert history(seed, "WS1-01") == [] and nothing_new(seed)
    real = run(seed, "escalate", "--as-of", real_day())
    assert turned_red(real)  # the others' alerts go out
    assert "WS1-01" not in {ref for _, ref in turned_red(real)}  # the refused Red did not


def test_a_future_status_import_is_refused_before_anything_is_recorded(
    seed: Cli, tmp_path: Path
) -> None:
    future = future_day()
    rows = "ID,RAG,Status,Note,Updated By\nWS1-01,Red,in progress,Stuck,Head of QA\n"
    undated = tmp_path / "return.csv"
    undated.write_text(rows, encoding="utf-8")
    refused = seed("status", "import", str(undated), "--as-of", future, ok=False)
    assert refused.exit_code == 1 and f"--as-of {future}" in refused.output
    # A row dated in the future is refused as well, naming the row and the column.
    dated = tmp_path / "dated.csv"
    day = date.fromisoformat(future)
    dated.write_text(
        "ID,RAG,Status,Note,Updated By,Date\n"
        f"WS1-01,Red,in progress,Stuck,Head of QA,{day:%d/%m/%Y}\n",
        encoding="utf-8",
    )
    refused_row = seed("status", "import", str(dated), ok=False)
    assert refused_row.exit_code == 1 and "row 2" in refused_row.output
    assert "future" in refused_row.output
    assert history(seed, "WS1-01") == [] and nothing_new(seed)
    real = run(seed, "escalate", "--as-of", real_day())
    assert turned_red(real)  # the others' alerts go out
    assert "WS1-01" not in {ref for _, ref in turned_red(real)}  # the refused Red did not


def test_a_future_digest_is_refused_but_can_be_rehearsed(seed: Cli) -> None:
    future = future_day()
    refused = seed("digest", "--as-of", future, ok=False)
    assert refused.exit_code == 1 and f"--as-of {future}" in refused.output
    rehearsal = run(seed, "digest", "--as-of", future, "--dry-run")
    assert rehearsal["recipients"] and rehearsal["counts"]["sent"] == 0
    assert nothing_new(seed)


def test_past_dates_work_as_before(seed: Cli) -> None:
    run(seed, "remind", "--as-of", reminded_on(date(2012, 10, 2)))
    first = run(seed, "escalate", "--as-of", "2012-10-02")  # a Tuesday: not the digest's
    assert first["messages"]
    assert run(seed, "escalate", "--as-of", "2012-10-02")["messages"] == []


def test_status_set_as_of_dates_the_history_entry(seed: Cli) -> None:
    seed(
        "status",
        "set",
        "WS1-01",
        "--rag",
        "amber",
        "--state",
        "in progress",
        "--note",
        "FWi upgrade slipped to October",
        "--by",
        "Head of QA",
        "--as-of",
        "2012-09-28",
    )
    (change,) = history(seed, "WS1-01")
    assert change["at"].startswith("2012-09-28")
    assert change["rag"] == [None, "amber"]


def test_a_digest_dated_ahead_is_sent_but_the_real_digest_of_that_date_still_goes(
    engine: Engine,
) -> None:
    directory = load_directory(CONTACTS)
    sessions = session_factory(engine)
    with sessions() as session:
        import_file(session, SEED, None, "test", "end", directory)
        session.commit()
    config = remind_config(Settings(), directory)
    board = len(directory.board)
    previous, monday, sunday = date(2012, 10, 1), date(2012, 10, 8), date(2012, 10, 7)
    evening = datetime(2012, 10, 7, 19, 0, tzinfo=UTC)
    _digest(sessions, config, previous, evening, previous)

    early = _digest(sessions, config, monday, evening, sunday)
    assert len(early.recipients) == board and not early.already_sent
    assert _digest(sessions, config, monday, evening, sunday).already_sent

    real = _digest(sessions, config, monday, evening, monday)
    assert not real.already_sent and real.digest is not None
    assert real.digest.previous == previous  # compared with the last real digest
    with sessions() as session:
        sent = session.scalars(select(Message.as_of).where(Message.job == "digest")).all()
    assert sorted(sent) == [previous] * board + [monday] * (2 * board)
