"""The board's weekly email is an exception digest a board member reads in a minute: headline
counts, what needs the board, what was reported, a count per work stream. Over the seed's
plan year it stays small (under the ~100 KB at which mail clients clip it) and lists a few
actions a week, not every Amber and Red action every week."""

from __future__ import annotations

import dataclasses
import email
from datetime import date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jinja2
import pytest

from tests.conftest import SEED, Cli
from tests.test_board import BOARD, run, small_plan
from tests.test_board_render import TEMPLATES, attention, digest, page
from worker.mail.board import render_board_digest
from worker.mail.templating import make_environment
from worker.rules.board import Cycle, Flagged, Report, ReportedChange, listed_action_ids
from worker.rules.board_exceptions import needs_the_board, reported_changes

HTML_LIMIT = 100_000  # bytes: Gmail clips a message's HTML at about 102 KB


def mondays(first: date, last: date) -> list[date]:
    return [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]


def digest_messages(cli: Cli) -> list[EmailMessage]:
    folder = cli.maildir / "new"
    return [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for path in sorted(folder.iterdir())
    ]


def html_size(message: EmailMessage) -> int:
    body = message.get_body(("html",))
    assert body is not None
    return len(str(body.get_content()).encode("utf-8"))


def status(cli: Cli, ref: str, day: str, *args: str) -> None:
    cli("status", "set", ref, *args, "--by", "Head of QA", "--no-alert", "--as-of", day)


def needs(result: dict[str, Any]) -> dict[str, list[str]]:
    return {n["ref"]: n["reasons"] for n in result["needs"]}


@pytest.fixture
def small(cli: Cli, tmp_path: Path) -> Cli:
    cli("plan", "import", str(small_plan(tmp_path)))
    return cli


# --- the seed over the plan year ----------------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_monday_of_the_plan_year_the_html_stays_under_100_kb(cli: Cli) -> None:
    cli("plan", "import", str(SEED))
    cli.env["PLANWORKER_DIGEST__ON_HOLIDAYS"] = "true"  # every Monday, bank holidays too
    days = mondays(date(2012, 5, 7), date(2013, 12, 30))
    assert len(days) == 87
    for day in days:
        cli("digest", "--as-of", day.isoformat())
    messages = digest_messages(cli)
    assert len(messages) == len(BOARD) * len(days)
    sizes = {m["Subject"]: html_size(m) for m in messages}
    assert max(sizes.values()) < HTML_LIMIT, max(sizes.items(), key=lambda kv: kv[1])


def test_a_week_when_every_action_needs_the_board_still_fits(tmp_path: Path) -> None:
    env = make_environment([TEMPLATES])
    base = attention()[0]
    long_note = "Recruitment to the team has slipped again; " * 12
    views = [
        dataclasses.replace(base, action_id=n, ref=f"WS1-{n:03}", latest_note=long_note)
        for n in range(1, 301)
    ]
    flagged = tuple(
        Flagged(
            v, ("newly_red", "dependency_risk"), ("reported Red (was Green)", "depends on WS3-05")
        )
        for v in views
    )
    reported = tuple(
        ReportedChange(
            v.action_id,
            v.ref,
            1,
            v.action_text,
            "Green to Red",
            long_note,
            "Jane",
            datetime(2012, 9, 28, 12),
        )
        for v in views
    )
    rendered = render_board_digest(env, digest(needs=flagged, reported=reported))
    assert len(rendered.html.encode("utf-8")) < HTML_LIMIT
    text = page(rendered.html).text
    assert "And 260 more: every one is in the board report" in text  # needs
    assert "And 220 more: every one is in the board report" in text  # reports


# --- what the board is told ---------------------------------------------------------------


def test_a_green_report_on_an_action_not_yet_due_is_news_but_not_newly_amber(small: Cli) -> None:
    run(small, "digest", "--as-of", "2012-09-24")
    status(small, "WS1-02", "2012-09-26", "--rag", "green", "--note", "On track")
    second = run(small, "digest", "--as-of", "2012-10-01")
    assert "WS1-02" not in needs(second)
    assert {"ref": "WS1-02", "what": "first report: Green", "note": "On track"} in second[
        "reported"
    ]
    assert second["returns"]["received"] == 1
    # The same Green again, with a new note: a report, never Amber, never "recovered".
    status(small, "WS1-02", "2012-10-03", "--rag", "green", "--note", "Still on track")
    third = run(small, "digest", "--as-of", "2012-10-08")
    assert "WS1-02" not in needs(third)
    assert [r["what"] for r in third["reported"] if r["ref"] == "WS1-02"] == ["note"]


def test_a_first_report_is_labelled_first_report_never_recovered(
    small: Cli, tmp_path: Path
) -> None:
    run(small, "digest", "--as-of", "2012-09-24")
    status(small, "WS1-03", "2012-09-25", "--rag", "amber", "--note", "Staff off sick")
    small("digest", "--as-of", "2012-10-01")
    (message,) = [m for m in digest_messages(small) if "1 October" in m["Subject"]][:1]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert 'WS1-03 first report: Amber: "Staff off sick"' in text
    assert "WS1-03 [Amber]" in text and "first reported Amber" in text
    assert "Recovered" not in text and "recovered" not in text
    html = page(html_text(message)).text
    assert "first report: Amber" in html


def html_text(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def test_red_to_amber_with_a_note_is_in_what_changed(small: Cli) -> None:
    run(small, "digest", "--as-of", "2012-09-24")
    status(small, "WS1-02", "2012-09-25", "--rag", "red", "--note", "Blocked by the FWi upgrade")
    second = run(small, "digest", "--as-of", "2012-10-01")
    assert "reported Red" in " ".join(needs(second)["WS1-02"])
    status(small, "WS1-02", "2012-10-02", "--rag", "amber", "--note", "FWi live, catching up")
    third = run(small, "digest", "--as-of", "2012-10-08")
    assert {"ref": "WS1-02", "what": "Red to Amber", "note": "FWi live, catching up"} in third[
        "reported"
    ]
    assert needs(third)["WS1-02"] == ["reported Amber (was Red)"]


def test_an_action_reported_red_for_four_weeks_is_listed_every_week(small: Cli) -> None:
    status(small, "WS1-03", "2012-09-03", "--rag", "red", "--note", "No budget")
    listed = {}
    for day in mondays(date(2012, 9, 10), date(2012, 10, 15)):
        result = run(small, "digest", "--as-of", day.isoformat())
        listed[day.isoformat()] = needs(result).get("WS1-03", [])
    assert listed == {
        "2012-09-10": ["first reported Red"],  # the report came in that cycle
        "2012-09-17": [],
        "2012-09-24": [],
        "2012-10-01": ["reported Red for 4 weeks"],
        "2012-10-08": ["reported Red for 5 weeks"],
        "2012-10-15": ["reported Red for 6 weeks"],
    }


def test_newly_overdue_once_then_counted(small: Cli) -> None:
    """WS1-01 is due 30 September 2012: listed the Monday after, then only counted."""
    run(small, "digest", "--as-of", "2012-09-24")
    first = run(small, "digest", "--as-of", "2012-10-01")
    assert needs(first)["WS1-01"] == ["target passed: overdue by 1 day"]
    later = run(small, "digest", "--as-of", "2012-10-08")
    assert "WS1-01" not in needs(later)
    assert later["rag"]["red"] == 1


def test_the_email_links_to_the_full_report_when_configured(small: Cli) -> None:
    small("digest", "--as-of", "2012-10-01")
    small.env["PLANWORKER_DIGEST__REPORT_URL"] = "https://intranet.example.org/board/report.html"
    small("digest", "--as-of", "2012-10-08")
    by_day = {m["Subject"].split(":")[0]: m for m in digest_messages(small)}
    unset = by_day["Board digest 1 October 2012"].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "run `planworker report`" in unset
    html = html_text(by_day["Board digest 8 October 2012"])
    assert 'href="https://intranet.example.org/board/report.html"' in html


def test_listed_action_ids_counts_each_action_once() -> None:
    views = attention()
    board = digest(
        needs=(Flagged(views[0], ("newly_red",), ("reported Red",)),),
        reported=(
            ReportedChange(
                views[0].action_id,
                views[0].ref,
                1,
                "",
                "first report: Red",
                "",
                "",
                datetime(2012, 9, 28),
            ),
            ReportedChange(
                views[1].action_id, views[1].ref, 1, "", "note", "", "", datetime(2012, 9, 28)
            ),
        ),
    )
    assert listed_action_ids(board) == (views[0].action_id, views[1].action_id)


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    return make_environment([TEMPLATES])


def test_nothing_to_report_says_so(env: jinja2.Environment) -> None:
    rendered = render_board_digest(env, digest())
    for text in (rendered.text, page(rendered.html).text):
        assert "Nothing new needs the board this week." in text
        assert "No reports." in text
        assert "Returns received: 0 of 0 open actions" in text


# --- re-baselined and on hold (the history rows `plan rebaseline` and `on hold` write) ------


def _report(action_id: int, **fields: Any) -> Report:
    base: dict[str, Any] = {
        "action_id": action_id,
        "at": datetime(2012, 9, 27, 12),
        "by": "Plan administrator",
        "source": "rebaseline",
        "rag_from": None,
        "rag_to": None,
        "state_from": "in progress",
        "state_to": "in progress",
        "note": "",
    }
    return Report(**(base | fields))


def test_a_rebaselined_target_and_a_newly_on_hold_action_need_the_board() -> None:
    views = attention()
    moved, held = views[3], dataclasses.replace(views[4], state="on hold")
    cycle = Cycle(
        date(2012, 9, 24),
        (
            _report(
                moved.action_id,
                target_from="30 September 2012",
                target_to="31 October 2012",
                note="Funding agreed late",
            ),
            _report(
                held.action_id,
                source="cli",
                state_to="on hold",
                note="Awaiting the new framework",
            ),
        ),
    )
    found = {f.view.ref: f for f in needs_the_board([moved, held], cycle, 4, date(2012, 10, 1))}
    assert found[moved.ref].kinds == ("rebaselined",)
    assert found[moved.ref].reasons == (
        "re-baselined from 30 September 2012 to 31 October 2012: Funding agreed late",
    )
    assert found[held.ref].reasons == ("put on hold: Awaiting the new framework",)
    changes = reported_changes([moved, held], cycle.reports)
    assert [c.what for c in changes] == [
        "re-baselined from 30 September 2012 to 31 October 2012",
        "in progress to on hold",
    ]
    assert not any("ecovered" in c.what for c in changes)
