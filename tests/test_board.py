"""Progress, escalation and the board end to end: `status`, `escalate`, `digest`, `report`
and `simulate` on a small plan and the seed, over a real database and a real SMTP server."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml

from tests.conftest import SEED, Cli
from tests.smtp_server import Received, SmtpServer
from tests.test_remind import html_part, remind, text_part, to_address, use_smtp

LEAD = "audit-manager@example.org"  # "Audit Manager QA"
STRATEGIC = "assistant-director-childrens-services-operations@example.org"  # also on the board
BOARD = {
    "director-of-childrens-services@example.org",
    "director-of-nursing-and-quality@example.org",
    STRATEGIC,
    "head-of-adoption-and-fostering@example.org",
}
STRATEGIC_LEAD_WS1 = (
    "Interim Assistant Director, Children’s Services Operations, Central Bedfordshire Council"
)


def small_plan(tmp_path: Path, **texts: str) -> Path:
    """Three actions of work stream 1 and one of work stream 2 that depends on WS1 KD1."""

    def action(ref: str, kd: str, target: str, **more: Any) -> dict[str, Any]:
        return {
            "id": ref,
            "key_deliverable": kd,
            "action": texts.get(ref, f"Action {ref}"),
            "lead": "Audit Manager QA",
            "lead_roles": ["Audit Manager QA"],
            "start": "May 2012",
            "target": target,
            "state": "in progress",
            **more,
        }

    plan = {
        "plan": {
            "id": "small",
            "title": "Small plan",
            "organisation": "Test Council",
            "phases": [{"number": 1, "title": "First six months"}],
        },
        "work_streams": [
            {
                "number": 1,
                "title": "Safeguarding",
                "phase": 1,
                "strategic_lead": STRATEGIC_LEAD_WS1,
                "actions": [
                    action("WS1-01", "1.", "30 September 2012"),
                    action("WS1-02", "2.", "31 December 2012"),
                    action("WS1-03", "3.", "31 December 2012"),
                ],
            },
            {
                "number": 2,
                "title": "Health",
                "phase": 1,
                "strategic_lead": STRATEGIC_LEAD_WS1,
                "actions": [
                    action(
                        "WS2-01",
                        "1.",
                        "30 November 2012",
                        depends_on=[{"work_stream": 1, "key_deliverable": 1}],
                    )
                ],
            },
        ],
    }
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer("plain") as smtp:
        yield smtp


@pytest.fixture
def small(cli: Cli, server: SmtpServer, tmp_path: Path) -> Cli:
    cli("plan", "import", str(small_plan(tmp_path)))
    use_smtp(cli, server)
    return cli


def run(cli: Cli, *args: str, ok: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli(*args, "--json", ok=ok).stdout)
    return data


def changes(cli: Cli, ref: str) -> list[dict[str, Any]]:
    """The action's status changes since the plan was imported."""
    found = run(cli, "status", "history", ref)["changes"]
    return [c for c in found if not c["source"].startswith("import")]


def subjects(server: SmtpServer, address: str) -> list[str]:
    return [r.message["Subject"] for r in server.received if to_address(r) == address]


def received_by(server: SmtpServer, address: str) -> list[Received]:
    return [r for r in server.received if to_address(r) == address]


# --- status ------------------------------------------------------------------------------


def test_status_set_records_who_when_what_and_why(small: Cli) -> None:
    small(
        "status",
        "set",
        "WS1-02",
        "--rag",
        "amber",
        "--note",
        "Recruitment delayed",
        "--by",
        "Jane Smith",
        "--no-alert",
    )
    small(
        "status",
        "set",
        "WS1-02",
        "--state",
        "completed",
        "--note",
        "Done",
        "--by",
        "Jane Smith",
        "--no-alert",
    )
    assert [(c["rag"], c["state"], c["note"], c["by"]) for c in changes(small, "WS1-02")] == [
        ([None, "amber"], ["in progress", "in progress"], "Recruitment delayed", "Jane Smith"),
        (["amber", "amber"], ["in progress", "completed"], "Done", "Jane Smith"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["WS9-99", "--rag", "red"], "no action 'WS9-99'"),
        (["WS1-01", "--rag", "purple"], "not a RAG rating"),
        (["WS1-01", "--state", "half done"], "not a progress state"),
    ],
)
def test_status_set_refuses_what_it_cannot_record(
    small: Cli, args: list[str], message: str
) -> None:
    result = small("status", "set", *args, "--note", "n", "--by", "me", ok=False)
    assert result.exit_code != 0
    assert message in result.output
    assert changes(small, "WS1-01") == []


def write_return(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([["ID", "RAG", "Status", "Note", "Updated By", "Date"], *rows])
    return path


def test_a_status_return_imports_all_or_nothing_and_twice_changes_nothing(
    small: Cli, tmp_path: Path
) -> None:
    good = write_return(
        tmp_path / "return.csv",
        [
            ["WS1-01", "Amber", "in progress", "Waiting for FWi", "Jane Smith", "28/09/2012"],
            ["WS1-02", "G", "", "On track", "Sam Jones", ""],
        ],
    )
    assert run(small, "status", "import", str(good), "--no-alert")["changed"] == 2
    assert run(small, "status", "import", str(good), "--no-alert") == {
        "changed": 0,
        "unchanged": 2,
        "refs": [],
    }
    bad = write_return(
        tmp_path / "bad.csv",
        [
            ["WS1-03", "Red", "", "Stuck", "Jane Smith", ""],
            ["WS1-99", "Red", "", "No such action", "Jane Smith", ""],
            ["WS1-02", "Purple", "", "", "Sam Jones", ""],
        ],
    )
    result = small("status", "import", str(bad), ok=False)
    assert result.exit_code != 0
    assert "row 4, column 'RAG'" in result.output and "row 4, column 'Note'" in result.output
    # Nothing from the bad file was applied, not even its good first row.
    assert changes(small, "WS1-03") == []
    unknown = write_return(
        tmp_path / "unknown.csv",
        [
            ["WS1-03", "Red", "", "Stuck", "Jane Smith", ""],
            ["WS1-99", "Red", "", "No such action", "Jane Smith", ""],
        ],
    )
    result = small("status", "import", str(unknown), ok=False)
    assert "row 3, column 'ID': no action 'WS1-99'" in result.output
    assert changes(small, "WS1-03") == []


def test_a_status_return_can_be_a_spreadsheet(small: Cli, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["ID", "RAG", "Status", "Note", "Updated By", "Date"])
    sheet.append(
        ["WS1-03", "Red", "In progress", "Supplier failed", "Jane Smith", date(2012, 9, 28)]
    )
    path = tmp_path / "return.xlsx"
    book.save(path)
    assert run(small, "status", "import", str(path), "--no-alert")["changed"] == 1
    (change,) = changes(small, "WS1-03")
    assert change["rag"] == [None, "red"] and change["at"].startswith("2012-09-28")


# --- escalation ladder -------------------------------------------------------------------


@pytest.mark.slow
def test_the_ladder_over_four_weeks(small: Cli, server: SmtpServer) -> None:
    """Leads daily, strategic lead weekly while Amber or Red, the board on Mondays and at
    digest when something turns Red. Worked out by hand from the dates:
    WS1-01 is due on Sunday 30 September. Nobody reports on it: No return until Monday 1
    October, then Red (overdue); its lead was first reminded on Monday 17, more than the
    grace period of 5 working days before, so it goes up at once. The others are due later
    and have no return."""
    day = date(2012, 9, 17)
    while day <= date(2012, 10, 12):
        if day.weekday() < 5:
            remind(small, day.isoformat())
            run(small, "escalate", "--as-of", day.isoformat())
            if day.weekday() == 0:
                run(small, "digest", "--as-of", day.isoformat())
        day += timedelta(days=1)
    by_day: dict[str, list[str]] = {}
    for r in server.received:
        job = r.message["X-Planworker-Job"]
        by_day.setdefault(to_address(r), []).append(job)
    # The lead: 14 days before (Fri 14, caught up Mon 17), 7 days before (Fri 21), on the
    # day (Fri 28), 1 day overdue (Mon 1), 8 days overdue (Mon 8).
    assert [j for j in by_day[LEAD] if j.startswith("remind")] == [
        "remind 2012-09-17",
        "remind 2012-09-21",
        "remind 2012-09-28",
        "remind 2012-10-01",
        "remind 2012-10-08",
    ]
    # The strategic lead (also on the board): the Red alert, then the weekly escalation while
    # it stays Red; on Mondays they read the digest, so their escalations come on Tuesday.
    assert [j for j in by_day[STRATEGIC] if j.startswith("escalate")] == [
        "escalate 2012-10-02",
        "escalate 2012-10-09",
    ]
    alert = next(
        r.message
        for r in received_by(server, STRATEGIC)
        if r.message["X-Planworker-Job"] == "escalate 2012-10-02"
    )
    assert "newly Red" in alert["Subject"]
    assert "WS1-01" in text_part(alert) and "Turned Red" in text_part(alert)
    # The rest of the board: a digest each Monday; the one of 1 October lists WS1-01 as
    # newly overdue (then it is counted in its work stream's row while nothing changes).
    director = "director-of-childrens-services@example.org"
    assert by_day[director] == [
        "digest 2012-09-17",
        "digest 2012-09-24",
        "digest 2012-10-01",
        "digest 2012-10-08",
    ]
    digest = next(
        r.message
        for r in received_by(server, director)
        if r.message["X-Planworker-Job"] == "digest 2012-10-01"
    )
    assert "WS1-01" in text_part(digest) and "overdue by 1 day" in text_part(digest)
    assert set(by_day) >= BOARD


def report_red(cli: Cli, ref: str, note: str, day: str) -> None:
    """The lead, Jane Smith, reports the action Red on `day` (`status set`, alert on)."""
    cli("status", "set", ref, "--rag", "red", "--note", note, "--by", "Jane Smith", "--as-of", day)


@pytest.mark.parametrize("to_board", [False, True])
def test_a_red_status_alerts_the_strategic_lead_at_once_and_the_board_if_configured(
    small: Cli, server: SmtpServer, to_board: bool
) -> None:
    if to_board:
        small.env["PLANWORKER_ESCALATION__RED_ALERT_TO_BOARD"] = "true"
    small(
        "status",
        "set",
        "WS1-02",
        "--rag",
        "amber",
        "--note",
        "Slipping",
        "--by",
        "JS",
        "--as-of",
        "2012-09-18",
    )
    assert server.received == []  # Amber is for the weekly escalation, not an alert
    report_red(small, "WS1-03", "Supplier failed", "2012-09-18")
    alerted = {to_address(r) for r in server.received}
    assert alerted == (BOARD if to_board else {STRATEGIC})  # else the board's next digest
    message = received_by(server, STRATEGIC)[0].message
    body = text_part(message)
    assert "WS1-03" in body and "Supplier failed" in body
    assert "RAG: Red (reported Red, on target by its dates)" in body
    # Once: setting it Red again (a new note) does not alert again.
    report_red(small, "WS1-03", "Still stuck", "2012-09-19")
    assert len(server.received) == len(alerted)


def test_a_red_report_reaches_the_strategic_lead_once_that_week(
    small: Cli, server: SmtpServer
) -> None:
    def about_ws1_03() -> list[str]:
        return [
            r.message["X-Planworker-Job"]
            for r in received_by(server, STRATEGIC)
            if "WS1-03" in text_part(r.message)
        ]

    report_red(small, "WS1-03", "Supplier failed", "2012-09-18")
    assert len(about_ws1_03()) == 1  # the Red alert, at once
    run(small, "escalate", "--as-of", "2012-09-19")
    assert len(about_ws1_03()) == 1  # the alert stands for that week's escalation
    run(small, "escalate", "--as-of", "2012-09-25")
    assert about_ws1_03()[1:] == ["escalate 2012-09-25"]  # the next week, as usual


def test_lead_reminders_say_when_a_dependency_is_at_risk(small: Cli, server: SmtpServer) -> None:
    # WS2-01 (due 30 November) depends on WS1 KD1, which is WS1-01: overdue from 1 October.
    remind(small, "2012-11-16")  # 14 days before WS2-01's target
    messages = [r.message for r in received_by(server, LEAD)]
    body = text_part(messages[0])
    assert "WS2-01" in body
    assert "At risk: depends on WS1-01 (Red or overdue)" in body


# --- the board's digest ------------------------------------------------------------------


def test_the_digest_twice_on_one_date_sends_nothing_new(small: Cli, server: SmtpServer) -> None:
    first = run(small, "digest", "--as-of", "2012-10-01")
    assert first["counts"]["sent"] == len(BOARD) == len(server.received)
    second = run(small, "digest", "--as-of", "2012-10-01")
    assert second["already_sent"] and second["counts"]["sent"] == 0
    assert len(server.received) == len(BOARD)


def test_changes_since_the_previous_digest_across_three_digests(
    small: Cli, server: SmtpServer
) -> None:
    first = run(small, "digest", "--as-of", "2012-09-24")
    assert first["previous"] is None and first["changes"] == []
    # WS1-01 is due in six days and nobody has reported on it: No return, not Amber.
    assert first["attention"] == []
    small(
        "status",
        "set",
        "WS1-03",
        "--rag",
        "amber",
        "--note",
        "Slipping",
        "--by",
        "JS",
        "--no-alert",
    )
    second = run(small, "digest", "--as-of", "2012-10-01")
    assert second["previous"] == "2012-09-24"
    assert [(c["kind"], c["ref"]) for c in second["changes"]] == [
        ("newly_red", "WS1-01"),
        ("newly_amber", "WS1-03"),
    ]
    small(
        "status",
        "set",
        "WS1-03",
        "--state",
        "completed",
        "--note",
        "Done",
        "--by",
        "JS",
        "--no-alert",
        "--as-of",
        "2012-10-03",
    )
    small(
        "status",
        "set",
        "WS1-02",
        "--rag",
        "red",
        "--note",
        "Blocked",
        "--by",
        "JS",
        "--no-alert",
        "--as-of",
        "2012-10-03",
    )
    third = run(small, "digest", "--as-of", "2012-10-08")
    assert [(c["kind"], c["ref"]) for c in third["changes"]] == [
        ("newly_red", "WS1-02"),
        ("completed", "WS1-03"),
    ]
    latest = [r.message for r in server.received if "8 October 2012" in r.message["Subject"]]
    body = text_part(latest[0])
    assert "What changed since Monday 1 October 2012" in body
    # The email is the exception digest: WS1-02 newly Red by report needs the board, and
    # both reports are in "What changed".
    needs = body[body.index("Needs the board") : body.index("What changed")]
    assert "WS1-02 [Red]" in needs and "first reported Red" in needs
    assert 'WS1-02 first report: Red: "Blocked"' in body
    assert 'WS1-03 in progress to completed: "Done"' in body


def test_hostile_action_text_is_inert_in_the_board_digest(
    cli: Cli, server: SmtpServer, tmp_path: Path
) -> None:
    hostile = '<script>alert("board")</script> & <img src="http://evil.example/x.png">'
    cli("plan", "import", str(small_plan(tmp_path, **{"WS1-01": hostile})))
    use_smtp(cli, server)
    run(cli, "digest", "--as-of", "2012-10-01")
    html = html_part(server.received[0].message)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert "&lt;img src=" in html  # shown as text, never fetched


# --- the board report --------------------------------------------------------------------


def test_the_board_report_as_csv_markdown_and_html(small: Cli, tmp_path: Path) -> None:
    for fmt, name in (("csv", "board.csv"), ("md", "board.md"), ("html", "board.html")):
        small("report", "--format", fmt, "-o", str(tmp_path / name), "--as-of", "2012-10-01")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "board.csv").read_text("utf-8"))))
    assert [(r["ID"], r["Effective RAG"], r["Days Overdue"]) for r in rows] == [
        ("WS1-01", "Red", "1")
    ]
    assert "| WS1 Safeguarding |" in (tmp_path / "board.md").read_text("utf-8")
    page = (tmp_path / "board.html").read_text("utf-8")
    assert "WS1-01" in page and "http://" not in page and "https://" not in page


def test_simulate_shows_reminders_escalations_and_digests_together(small: Cli) -> None:
    timeline = run(small, "simulate", "--from", "2012-09-17", "--to", "2012-10-12")
    jobs = {(m["date"], m["job"]) for m in timeline["messages"]}
    assert ("2012-09-17", "digest") in jobs and ("2012-10-08", "digest") in jobs
    assert ("2012-09-21", "remind") in jobs
    # Leads first: WS1-01 goes to its strategic lead once Red (Monday 1 October), its lead
    # having been reminded more than the grace period before. That Monday is the digest's
    # morning and the strategic lead sits on the board: the alert waits for Tuesday.
    assert ("2012-10-01", "escalate") not in jobs
    assert ("2012-10-02", "escalate") in jobs
    assert min(d for d, j in jobs if j == "remind") < min(d for d, j in jobs if j == "escalate")
    assert not any(j == "digest" and d == "2012-09-18" for d, j in jobs)
    assert run(small, "outbox")["messages"] == []  # the real database is untouched


def test_the_seed_digest_reads_as_the_readme_says(cli: Cli, server: SmtpServer) -> None:
    cli("plan", "import", str(SEED))
    use_smtp(cli, server)
    cli(
        "status",
        "set",
        "WS1-01",
        "--rag",
        "amber",
        "--state",
        "in progress",
        "--note",
        "FWi upgrade slipped",
        "--by",
        "Head of QA",
        "--no-alert",
    )
    summary = run(cli, "digest", "--as-of", "2012-10-01")
    assert summary["counts"]["sent"] == len(BOARD)
    ws1_01 = next(v for v in summary["attention"] if v["ref"] == "WS1-01")
    assert ws1_01["reported"] == "amber" and ws1_01["effective"] == "red"
    assert ws1_01["disagreement"] == "reported Amber, overdue by 1 day"
