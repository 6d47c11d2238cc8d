"""Every dated item is reminded: a target cell with several dates gets a milestone per date,
"Review <month>" is one review, and a target typed before its start is held back until an
admin confirms or corrects it. On the seed, over a real database and a real SMTP server."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from tests.conftest import SEED, Cli
from tests.smtp_server import SmtpServer
from tests.test_board import small_plan
from tests.test_remind import for_recipient, html_part, text_part, use_smtp
from worker.db import make_engine
from worker.plan.dates import Recurrence
from worker.plan.due import read_action_dates
from worker.rules.rag import Progress, RagPolicy, assess
from worker.rules.stages import ActionDates, ReminderPolicy, active_stage
from worker.rules.workdays import WorkingDays

DAYS = WorkingDays()
POLICY = ReminderPolicy()
WS3_09_LEAD = "health-improvement@example.org"  # "Health improvement"
# WS3-09's target cell, as the seed has it (the document's own two sub-items).
WS3_09_TARGET = "9th June 2012\nOn going throughout the one year programme to March 2013"


def run(cli: Cli, *args: str, ok: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli(*args, "--json", ok=ok).stdout)
    return data


def items_about(result: dict[str, Any], ref: str) -> list[tuple[str, str, str]]:
    """(date, recipient, rule) of each item about `ref` in a run's or simulation's messages."""
    return [
        (m.get("date", ""), m["to"], i["rule"])
        for m in result["messages"]
        for i in m["items"]
        if i["ref"] == ref
    ]


def check_findings(cli: Cli, kind: str) -> dict[str, str]:
    found = run(cli, "plan", "check")["findings"]
    return {f["subject"]: f["message"] for f in found if f["kind"] == kind}


def report_rows(cli: Cli, tmp_path: Path, day: str) -> dict[str, dict[str, str]]:
    out = tmp_path / f"report-{day}.csv"
    cli("report", "--format", "csv", "--as-of", day, "-o", str(out))
    rows = csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig")))
    return {row["ID"]: row for row in rows}


def derived_rag(cli: Cli, tmp_path: Path, day: str, ref: str) -> str:
    """The action's Derived RAG in the report; "" when the report does not list it."""
    return report_rows(cli, tmp_path, day).get(ref, {}).get("Derived RAG", "")


def seed_with(tmp_path: Path, ref: str, **fields: str) -> Path:
    """A copy of the seed with some fields of one action changed."""
    data = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    found = [a for ws in data["work_streams"] for a in ws["actions"] if a["id"] == ref]
    assert len(found) == 1
    found[0].update(fields)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


# --- reading a cell with several dated items (pure) ------------------------------------------


def test_ws3_09_has_a_june_milestone_before_its_ongoing_target() -> None:
    dates = read_action_dates("May 2012\nMay 2012", WS3_09_TARGET, "end")
    assert [(m.label, m.due) for m in dates.milestones] == [
        ("Milestone 1 of 2: 9th June 2012", date(2012, 6, 9)),
        (
            "Milestone 2 of 2: On going throughout the one year programme to March 2013",
            date(2013, 3, 31),
        ),
    ]
    assert dates.first_due == date(2012, 6, 9)
    assert dates.due == date(2013, 3, 31)


def test_ws3_05s_six_items_are_three_dates_each_written_once() -> None:
    target = "10th July 2012\n10th July 2012\nMay 2012\nApril 2012\nApril 2012\nMay 2012"
    dates = read_action_dates("May 2012", target, "end")
    assert [m.label for m in dates.milestones] == [
        "Milestone 1 of 3: April 2012",
        "Milestone 2 of 3: May 2012",
        "Milestone 3 of 3: 10th July 2012",
    ]
    assert [m.due for m in dates.milestones] == [
        date(2012, 4, 30),
        date(2012, 5, 31),
        date(2012, 7, 10),
    ]


def test_one_date_or_one_date_written_twice_is_no_milestone() -> None:
    assert read_action_dates("", "30 September 2012", "end").milestones == ()
    assert read_action_dates("", "Sept 2012\n30/09/2012", "end").first_due is None


_DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))
_FORMS = st.sampled_from(["{d.day} {d:%B %Y}", "{d:%d/%m/%Y}", "{d.day}th {d:%b %Y}"])


@given(st.lists(st.tuples(_DAYS, _FORMS), min_size=1, max_size=8))
def test_each_distinct_date_of_a_cell_is_one_milestone_in_date_order(
    items: list[tuple[date, str]],
) -> None:
    texts = [form.format(d=day) for day, form in items]
    dates = read_action_dates("", "\n".join(texts), "end")
    distinct = sorted({day for day, _ in items})
    if len(distinct) < 2:
        assert dates.milestones == () and dates.first_due is None
        return
    assert [m.due for m in dates.milestones] == distinct
    assert dates.first_due == distinct[0] and dates.due == distinct[-1]
    assert {m.count for m in dates.milestones} == {len(distinct)}
    for milestone in dates.milestones:
        # Each milestone shows the item(s) as written that gave its date.
        for shown in milestone.text.split(" / "):
            assert shown in texts
            assert read_action_dates("", shown, "end").due == milestone.due


def test_review_with_a_month_is_one_dated_review_not_a_cycle() -> None:
    review = read_action_dates("September 2012", "Review February 2013", "end")
    assert (review.due, review.recurrence) == (date(2013, 2, 28), None)
    stated = read_action_dates("", "October 2012 Review every two months", "end")
    assert stated.recurrence == Recurrence("every", 2)
    assert read_action_dates("", "Ongoing", "end").recurrence == Recurrence("ongoing")


# --- reminder stages (pure) ------------------------------------------------------------------


def ws3_09_stage(as_of: date) -> tuple[str, int, date] | None:
    dates = read_action_dates("May 2012", WS3_09_TARGET, "end")
    action = ActionDates(dates.due, dates.start, dates.recurrence, dates.milestones)
    found = active_stage(action, POLICY, DAYS, as_of)
    return None if found is None else (found.kind, found.threshold, found.due)


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        # 9 June 2012 is a Saturday: each reminder moves to the working day before.
        (date(2012, 5, 24), None),
        (date(2012, 5, 25), ("upcoming", 14, date(2012, 6, 9))),
        (date(2012, 5, 31), ("upcoming", 14, date(2012, 6, 9))),
        (date(2012, 6, 1), ("upcoming", 7, date(2012, 6, 9))),
        (date(2012, 6, 8), ("upcoming", 0, date(2012, 6, 9))),
        # An earlier milestone is never overdue: after it, nothing until the final target.
        (date(2012, 6, 11), None),
        (date(2012, 9, 3), None),
        (date(2013, 3, 15), ("upcoming", 14, date(2013, 3, 31))),
    ],
)
def test_ws3_09_june_milestone_is_reminded_on_its_own_days(
    as_of: date, expected: tuple[str, int, date] | None
) -> None:
    assert ws3_09_stage(as_of) == expected


def test_a_target_before_its_start_is_not_overdue_until_confirmed() -> None:
    target, start = date(2012, 2, 29), date(2012, 9, 1)
    as_of = date(2012, 10, 1)
    held = ActionDates(target, start, None, held=True)
    assert active_stage(held, POLICY, DAYS, as_of) is None
    confirmed = ActionDates(target, start, None)
    overdue = active_stage(confirmed, POLICY, DAYS, as_of)
    assert overdue is not None and overdue.kind == "overdue"
    progress = Progress("none", "not started", target, start, False, held=True)
    assert assess(progress, RagPolicy(), as_of).derived != "red"
    progress = Progress("none", "not started", target, start, False)
    assert assess(progress, RagPolicy(), as_of).derived == "red"


# --- on the seed -----------------------------------------------------------------------------


def test_ws3_09s_june_milestone_reaches_its_lead_before_9_june(cli: Cli) -> None:
    cli("plan", "import", str(SEED))
    june_milestone_reaches_its_lead(cli)


def june_milestone_reaches_its_lead(cli: Cli) -> None:
    found = run(cli, "simulate", "--from", "2012-05-01", "--to", "2012-07-31")
    lead = [(day, rule) for day, to, rule in items_about(found, "WS3-09") if to == WS3_09_LEAD]
    june = [(day, rule) for day, rule in lead if "milestone 1 of 2: 9th June 2012" in rule]
    assert {day for day, _ in june} == {"2012-05-25", "2012-06-01", "2012-06-08"}
    assert any("2012-05-26" <= day <= "2012-06-09" for day, _ in june)
    assert all(day <= "2012-06-09" for day, _ in lead)  # not overdue after it


def test_a_plan_stored_before_milestones_gets_them_from_db_upgrade(cli: Cli) -> None:
    # Revision 0008 added the first milestone's date as NULL, and only an import filled it
    # in: a plan stored before then had its milestones ignored. Rewind one to that state.
    cli("plan", "import", str(SEED))
    stored = "SELECT id, first_due_date FROM actions WHERE first_due_date IS NOT NULL"
    engine = make_engine(cli.db_url)
    with engine.begin() as connection:
        imported = connection.execute(text(stored)).all()
        connection.execute(text("UPDATE actions SET first_due_date = NULL"))
        connection.execute(text("UPDATE alembic_version SET version_num = '0009'"))
    cli("db", "upgrade")
    with engine.connect() as connection:
        assert sorted(connection.execute(text(stored)).all()) == sorted(imported) != []
    engine.dispose()
    june_milestone_reaches_its_lead(cli)


def test_each_milestone_is_shown_on_its_own_with_its_date_as_written(
    cli: Cli, tmp_path: Path
) -> None:
    cli("plan", "import", str(SEED))
    with SmtpServer("plain") as server:
        use_smtp(cli, server)
        cli("remind", "--as-of", "2012-06-01")
        cli("remind", "--as-of", "2012-05-24")
        messages = for_recipient(server, WS3_09_LEAD)
        text, html = text_part(messages[0]), html_part(messages[0])
        assert "Milestone 1 of 2: 9th June 2012, read as Saturday 9 June 2012" in text
        assert (
            "Target dates: 9th June 2012; On going throughout the one year programme to "
            "March 2013 (as written)" in text
        )
        assert "Milestone 1 of 2: 9th June 2012" in html
        # Its calendar file holds the milestone's own day.
        calendar = next(
            p for p in messages[0].iter_attachments() if p.get_filename() == "deadlines.ics"
        )
        events = icalendar.Calendar.from_ical(calendar.get_content()).walk("VEVENT")
        days = {e.decoded("DTSTART") for e in events if str(e["SUMMARY"]).startswith("WS3-09")}
        assert days == {date(2012, 6, 9)}
        # WS3-05's six items, three dates: shown apart, each once.
        ws3_05 = [text_part(r.message) for r in server.received if "WS3-05" in text_part(r.message)]
        assert ws3_05
        assert "Milestone 2 of 3: May 2012, read as Thursday 31 May 2012" in ws3_05[0]
        assert "Target dates: 10th July 2012; May 2012; April 2012 (as written)" in ws3_05[0]
    rows = report_rows(cli, tmp_path, "2012-07-12")  # overdue: in the report
    assert rows["WS3-05"]["Target End Date"] == "10th July 2012; May 2012; April 2012"


def test_review_february_2013_is_reminded_once_as_a_dated_review(cli: Cli) -> None:
    cli("plan", "import", str(SEED))
    found = run(cli, "simulate", "--from", "2013-02-01", "--to", "2013-06-30")
    rules = {rule for _, _, rule in items_about(found, "WS5-04")}
    assert "14 days before the target date" in rules
    assert not any("review" in rule for rule in rules)  # no invented quarterly cycle


def test_a_target_before_its_start_is_held_until_confirmed(cli: Cli, tmp_path: Path) -> None:
    cli("plan", "import", str(SEED))
    held = check_findings(cli, "target_before_start")
    assert "'February 2012' (read as 29 Feb 2012)" in held["WS5-02"]
    assert "'September 2012' (read as 01 Sep 2012)" in held["WS5-02"]
    assert "status set WS5-02 --confirm-date" in held["WS5-02"]
    day = "2012-10-01"
    assert items_about(run(cli, "remind", "--as-of", day), "WS5-02") == []
    assert derived_rag(cli, tmp_path, day, "WS5-02") != "Red"

    said = cli(
        "status", "set", "WS5-02", "--confirm-date", "--note", "as written", "--by", "Admin"
    ).stdout
    assert "WS5-02: target date confirmed as written" in said
    assert "WS5-02" not in check_findings(cli, "target_before_start")
    overdue = items_about(run(cli, "remind", "--as-of", "2012-10-02"), "WS5-02")
    assert overdue and all(rule.startswith("overdue") for _, _, rule in overdue)
    assert derived_rag(cli, tmp_path, "2012-10-02", "WS5-02") == "Red"

    # A new import that moves the dates asks again: the old confirmation was for old dates.
    cli("plan", "import", str(seed_with(tmp_path, "WS5-02", target="March 2012")))
    assert "WS5-02" in check_findings(cli, "target_before_start")
    assert derived_rag(cli, tmp_path, "2012-10-03", "WS5-02") != "Red"


def test_a_corrected_import_clears_the_hold(cli: Cli, tmp_path: Path) -> None:
    cli("plan", "import", str(seed_with(tmp_path, "WS5-02", target="February 2013")))
    assert "WS5-02" not in check_findings(cli, "target_before_start")
    due_soon = items_about(run(cli, "remind", "--as-of", "2013-02-14"), "WS5-02")
    assert due_soon and all("before the target date" in rule for _, _, rule in due_soon)
    overdue_day = str(date(2013, 2, 28) + timedelta(days=1))
    assert derived_rag(cli, tmp_path, overdue_day, "WS5-02") == "Red"


def test_confirming_an_unknown_action_is_refused(cli: Cli) -> None:
    cli("plan", "import", str(SEED))
    result = cli(
        "status", "set", "WS99-01", "--confirm-date", "--note", "x", "--by", "Admin", ok=False
    )
    assert result.exit_code != 0
    assert "no action 'WS99-01'" in result.output


def test_a_held_target_puts_no_dependant_at_risk(cli: Cli, tmp_path: Path) -> None:
    # WS2-01 (due 30 November 2012) depends on WS1 KD1, WS1-01: here due April 2012, before
    # its May 2012 start, so held back rather than overdue.
    path = small_plan(tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["work_streams"][0]["actions"][0]["target"] = "April 2012"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    cli("plan", "import", str(path))
    with SmtpServer("plain") as server:
        use_smtp(cli, server)
        cli("remind", "--as-of", "2012-11-16")  # 14 days before WS2-01's target
        (message,) = for_recipient(server, "audit-manager@example.org")
        assert "WS2-01" in text_part(message)
        assert "At risk" not in text_part(message)
        cli("status", "set", "WS1-01", "--confirm-date", "--note", "right", "--by", "Admin")
        cli("remind", "--as-of", "2012-11-23")  # 7 days before
        confirmed = text_part(for_recipient(server, "audit-manager@example.org")[-1])
        assert "At risk: depends on WS1-01 (Red or overdue)" in confirmed.split("WS2-01 —")[1]
