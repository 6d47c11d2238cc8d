"""Changes with a trail: `plan rebaseline` and re-imports record a moved target in the
action's history ("re-baselined from ... to ..."), reminders follow the new date, and an
action put "on hold" hears nothing until it resumes. Real databases, the seed plan and the
CLI as an administrator types it."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from tests.conftest import SEED, Cli
from tests.test_reminder_rules import facts
from worker.models import Action
from worker.rules.reminders import stage_of
from worker.rules.stages import ReminderPolicy
from worker.rules.workdays import WorkingDays
from worker.store.rebaseline import new_target_text, target_moves

# WS1-01 in the seed: lead "Audit Manager QA", starts May 2012, target "30 September 2012".
REF = "WS1-01"
OLD, NEW = "30 September 2012", "31 October 2012"
WHY = "FWi upgrade slipped to October"


def run(cli: Cli, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli(*args, "--json").stdout)
    return data


def trail(cli: Cli, ref: str = REF) -> list[dict[str, Any]]:
    """The action's history since it was first imported (the seed records no status)."""
    changes: list[dict[str, Any]] = run(cli, "status", "history", ref)["changes"]
    return changes


def items_for(cli: Cli, day: str, ref: str = REF) -> list[dict[str, Any]]:
    """The reminder items about `ref` a remind run on `day` would send."""
    found = run(cli, "remind", "--as-of", day, "--dry-run")
    return [i for m in found["messages"] for i in m["items"] if i["ref"] == ref]


def target_of(engine: Engine, ref: str = REF) -> tuple[str, date | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(Action.target_text, Action.due_date).where(Action.ref == ref)
        ).one()
    return row.target_text, row.due_date


@pytest.fixture
def seeded(cli: Cli) -> Cli:
    cli("plan", "import", str(SEED))
    return cli


# --- plan rebaseline -------------------------------------------------------------------------


def test_rebaseline_moves_the_target_records_why_and_reminders_follow(
    seeded: Cli, engine: Engine
) -> None:
    # Before: overdue the day after its target.
    assert [i["section"] for i in items_for(seeded, "2012-10-01")] == ["overdue"]
    said = seeded(
        "plan", "rebaseline", REF, "--to", "2012-10-31", "--note", WHY, "--by", "Head of QA"
    )
    assert f"re-baselined from {OLD} to {NEW}" in said.output
    assert target_of(engine) == (NEW, date(2012, 10, 31))
    [change] = trail(seeded)
    assert change["source"] == "rebaseline"
    assert change["target"] == [OLD, NEW]
    assert (change["by"], change["note"]) == ("Head of QA", WHY)
    assert change["what"] == f"re-baselined from {OLD} to {NEW}"
    # The RAG and the state are as they were.
    assert change["rag"][0] == change["rag"][1] and change["state"][0] == change["state"][1]
    text = seeded("status", "history", REF).output
    assert f"Head of QA (rebaseline): re-baselined from {OLD} to {NEW} — {WHY}" in text
    # After: nothing on 1 October; the week before the new date, a reminder naming it.
    assert items_for(seeded, "2012-10-01") == []
    [soon] = items_for(seeded, "2012-10-24")
    assert (soon["section"], soon["due"]) == ("due_soon", "2012-10-31")


def test_the_same_target_again_changes_nothing(seeded: Cli) -> None:
    seeded("plan", "rebaseline", REF, "--to", NEW, "--note", WHY, "--by", "Head of QA")
    again = seeded("plan", "rebaseline", REF, "--to", "2012-10-31", "--note", WHY, "--by", "Jo")
    assert "no change" in again.output
    assert len(trail(seeded)) == 1


def test_a_month_target_is_kept_as_typed(seeded: Cli, engine: Engine) -> None:
    seeded("plan", "rebaseline", REF, "--to", "November  2012", "--note", WHY, "--by", "Jo")
    assert target_of(engine) == ("November 2012", date(2012, 11, 30))
    assert trail(seeded)[0]["what"] == f"re-baselined from {OLD} to November 2012"


def rebaseline_args(ref: str = REF, **given: str | None) -> list[str]:
    """`plan rebaseline` arguments: a good change, with `given` options replaced (None: left
    out)."""
    options = {"to": NEW, "note": WHY, "by": "Jo"} | given
    return [ref, *(a for k, v in options.items() if v is not None for a in (f"--{k}", v))]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (rebaseline_args("WS9-99"), ["no action 'WS9-99'"]),
        (rebaseline_args(to="32 October 2012"), ["'32 October 2012'", "day is out of range"]),
        (rebaseline_args(to="2012-02-30"), ["'2012-02-30'", "day is out of range"]),
        (rebaseline_args(to="soon"), ["'soon'", "not a date", "31 October 2012"]),
        (rebaseline_args(to="ongoing"), ["'ongoing'", "recurrence"]),
        (rebaseline_args(to=" "), ["--to must give the new target"]),
        (rebaseline_args(note=None), ["Missing option '--note'"]),
        (rebaseline_args(note="  "), ["--note must say why"]),
        (rebaseline_args(by=""), ["--by must name"]),
        (rebaseline_args(to="1 April 2012"), ["before WS1-01's start", "May 2012"]),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_changes_nothing(
    seeded: Cli, engine: Engine, args: list[str], says: list[str]
) -> None:
    result = seeded("plan", "rebaseline", *args, ok=False)
    assert result.exit_code != 0
    for words in says:
        assert words in result.output
    assert target_of(engine) == (OLD, date(2012, 9, 30))
    assert trail(seeded) == []


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)))
def test_any_day_typed_as_iso_or_in_words_is_stored_in_words(day: date) -> None:
    words = f"{day.day} {day:%B %Y}"
    assert new_target_text(day.isoformat(), "end") == (words, day)
    assert new_target_text(f"{day:%d/%m/%Y}", "end") == (words, day)
    assert new_target_text(words, "end") == (words, day)


# --- plan import -----------------------------------------------------------------------------


def test_a_reimport_that_moves_a_target_records_it_with_the_file_name(
    seeded: Cli, tmp_path: Path
) -> None:
    text = SEED.read_text(encoding="utf-8")
    moved = text.replace(f'target: "{OLD}"', f'target: "{NEW}"', 1)
    assert moved != text
    v2 = tmp_path / "plan-v2.yaml"
    v2.write_text(moved, encoding="utf-8")
    result = run(seeded, "plan", "import", str(v2), "--by", "Plan Admin")
    assert result["targets_moved"] == 1
    [change] = trail(seeded)
    assert (change["source"], change["by"]) == ("import plan-v2.yaml", "Plan Admin")
    assert change["target"] == [OLD, NEW]
    assert f"re-baselined from {OLD} to {NEW}" in seeded("status", "history", REF).output
    # The same file again: nothing moved, nothing recorded.
    assert run(seeded, "plan", "import", str(v2))["targets_moved"] == 0
    assert len(trail(seeded)) == 1
    # Every other action's history is untouched.
    assert trail(seeded, "WS1-02") == []


def test_a_refused_import_records_no_trail(seeded: Cli, tmp_path: Path) -> None:
    text = SEED.read_text(encoding="utf-8")
    moved = text.replace(f'target: "{OLD}"', f'target: "{NEW}"', 1)
    # WS1-02, further down, given a RAG that is not one.
    broken = moved.replace(
        'target: "30 July 2012"', 'target: "30 July 2012"\n        rag: "purple"', 1
    )
    assert broken != moved
    bad = tmp_path / "bad.yaml"
    bad.write_text(broken, encoding="utf-8")
    refused = seeded("plan", "import", str(bad), ok=False)
    assert refused.exit_code != 0 and "purple" in refused.output
    assert trail(seeded) == []


# --- on hold ---------------------------------------------------------------------------------


def test_an_action_on_hold_gets_no_reminders_or_escalations(seeded: Cli, tmp_path: Path) -> None:
    hold = ("status", "set", REF, "--state", "on hold", "--by", "Assistant Director")
    assert seeded(*hold, ok=False).exit_code != 0  # a reason is required
    # Reported Amber, then paused: the report still lists it, as on hold.
    seeded(*hold, "--rag", "amber", "--note", "Paused until the FWi upgrade lands", "--no-alert")
    found = run(seeded, "simulate", "--from", "2012-09-10", "--to", "2012-10-31")
    jobs = {m["job"] for m in found["messages"] for i in m["items"] if i["ref"] == REF}
    assert not jobs & {"remind", "escalate"}, jobs
    # Others are still reminded and escalated over the same weeks.
    assert {"remind", "escalate"} <= {m["job"] for m in found["messages"]}
    # The report shows the state, and its dates do not make it Red.
    report = tmp_path / "report.csv"
    seeded("report", "--format", "csv", "--as-of", "2012-10-15", "-o", str(report))
    with report.open(encoding="utf-8", newline="") as f:
        [row] = [r for r in csv.DictReader(f) if r["ID"] == REF]
    assert (row["State"], row["Reported RAG"]) == ("on hold", "Amber")
    assert row["Derived RAG"] != "Red" and row["Effective RAG"] == "Amber"
    papers = tmp_path / "report.md"
    seeded("report", "--format", "md", "--as-of", "2012-10-15", "-o", str(papers))
    [line] = [x for x in papers.read_text(encoding="utf-8").splitlines() if f"| {REF} |" in x]
    assert "On hold" in line
    # Resumed: reminded again.
    seeded("status", "set", REF, "--state", "in progress", "--note", "Resumed", "--by", "AD")
    assert items_for(seeded, "2012-10-01")


def test_a_status_return_can_put_an_action_on_hold(seeded: Cli, tmp_path: Path) -> None:
    path = tmp_path / "return.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["ID", "RAG", "Status", "Note", "Updated By"])
        writer.writerow([REF, "", "On hold", "Waiting for the restructure", "Audit Manager"])
    seeded("status", "import", str(path), "--no-alert")
    [change] = trail(seeded)
    assert change["state"] == ["not started", "on hold"]
    assert items_for(seeded, "2012-10-01") == []


def test_the_rule_gives_a_paused_action_no_stage() -> None:
    policy, days = ReminderPolicy(), WorkingDays()
    due = date(2012, 9, 30)
    for day in (date(2012, 9, 28), date(2012, 10, 1), date(2013, 3, 1)):
        assert stage_of(facts(1, due, ("Lead",), state="in progress"), policy, days, day)
        assert stage_of(facts(1, due, ("Lead",), state="on hold"), policy, days, day) is None


# --- the trail, as the board reads it ----------------------------------------------------------


def test_moves_since_a_date_read_from_the_first_target_to_the_last(
    seeded: Cli, engine: Engine
) -> None:
    def move(ref: str, to: str, on: str) -> None:
        seeded(
            "plan", "rebaseline", ref, "--to", to, "--note", f"to {to}", "--by", "Jo", "--as-of", on
        )

    move(REF, NEW, "2012-09-20")  # before the period
    move(REF, "30 November 2012", "2012-10-10")
    move(REF, "14 December 2012", "2012-10-12")
    move("WS1-02", "31 August 2012", "2012-10-10")
    move("WS1-02", "30 July 2012", "2012-10-11")  # and back: no move to report
    with Session(engine) as session:
        ids = {ref: id_ for ref, id_ in session.execute(select(Action.ref, Action.id))}
        moves = target_moves(session, list(ids.values()), datetime(2012, 10, 1, tzinfo=UTC))
    assert {ids[REF]} == set(moves)
    found = moves[ids[REF]]
    assert (found.target_from, found.target_to) == (NEW, "14 December 2012")
    assert (found.note, found.by, found.at.date()) == (
        "to 14 December 2012",
        "Jo",
        date(2012, 10, 12),
    )
