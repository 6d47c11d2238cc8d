"""Importing, re-importing, editing and exporting plans, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from tests.conftest import SEED, Cli, seed_data
from worker.models import Action, Plan, StatusChange
from worker.store.action_links import deps_by_action, roles_by_action
from worker.store.status import latest_notes

TABLES = (
    "plans",
    "phases",
    "work_streams",
    "outcomes",
    "actions",
    "lead_roles",
    "action_leads",
    "action_dependencies",
    "status_history",
    "contacts",
    "contact_keys",
)


def snapshot(engine: Engine) -> dict[str, list[Any]]:
    """Every row of every plan table, to show that an operation changed nothing."""
    with engine.connect() as conn:
        return {
            t: sorted(map(tuple, conn.execute(text(f"SELECT * FROM {t}"))), key=repr)
            for t in TABLES
        }


def seed_rows_per_work_stream() -> dict[int, int]:
    return {ws["number"]: len(ws["actions"]) for ws in seed_data()["work_streams"]}


def test_seed_imports_every_row_of_every_work_stream(cli: Cli, engine: Engine) -> None:
    result = cli("plan", "import", str(SEED), "--json")
    summary = json.loads(result.output)
    show = json.loads(cli("plan", "show", "--json").output)
    counts = {ws["number"]: ws["actions"] for ws in show["work_streams"]}
    # Three rows of the document list items that line up one to one, read from the source:
    # WS4 key deliverable 2's briefing/audit row (2 items), WS4 key deliverable 7's data-system
    # row (5 items) and WS7 key deliverable 10's peer-review row (2 items).
    rows = seed_rows_per_work_stream()
    extra = {4: 1 + 4, 7: 1}
    expected = {ws: n + extra.get(ws, 0) for ws, n in rows.items()}
    assert counts == expected
    assert summary["added"] == sum(expected.values())
    assert [ws["number"] for ws in show["work_streams"]] == list(range(1, 10))
    assert {ws["number"]: ws["phase"] for ws in show["work_streams"]} == {
        n: 1 if n <= 4 else 2 for n in range(1, 10)
    }


def test_importing_the_same_file_twice_changes_nothing(cli: Cli, engine: Engine) -> None:
    cli("plan", "import", str(SEED))
    before = snapshot(engine)
    again = json.loads(cli("plan", "import", str(SEED), "--json").output)
    assert again["added"] == again["updated"] == again["archived"] == 0
    assert snapshot(engine) == before


def test_a_file_with_a_bad_row_imports_nothing_and_names_the_row(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    cli("plan", "import", str(SEED))
    before = snapshot(engine)
    bad = tmp_path / "return.csv"
    bad.write_text(
        "ID,Work Stream,Actions,Lead,Target End Date,RAG\n"
        "WS1-01,1,Changed text,Head of QA,30 September 2012,Green\n"
        "WS1-02,one,Another,Head of QA,July 2012,\n"
        "WS1-03,1,Third,Head of QA,July 2012,Purple\n",
        encoding="utf-8",
    )
    result = cli("plan", "import", str(bad), ok=False)
    assert result.exit_code != 0
    assert "row 3, column 'Work Stream'" in result.output
    assert "'one' is not a work stream number" in result.output
    assert "row 4" in result.output and "'Purple' is not a RAG rating" in result.output
    assert snapshot(engine) == before


def test_an_edited_file_updates_what_changed_and_keeps_status_history(
    cli: Cli, engine: Engine, seed_copy: Path, tmp_path: Path
) -> None:
    cli("plan", "import", str(seed_copy))
    status = tmp_path / "status.csv"
    status.write_text("ID,Work Stream,Actions,Lead,Target End Date,RAG,Status\n", encoding="utf-8")
    with engine.begin() as conn:
        conn.execute(text("UPDATE actions SET rag = 'amber' WHERE ref = 'WS1-01'"))
        conn.execute(
            text(
                "INSERT INTO status_history"
                " (action_id, changed_at, changed_by, source, rag_to, note)"
                " SELECT id, CURRENT_TIMESTAMP, 'Head of QA', 'cli', 'amber', 'slipping'"
                " FROM actions WHERE ref = 'WS1-01'"
            )
        )
    text_before = seed_copy.read_text(encoding="utf-8")
    edited = text_before.replace("30 September 2012", "31 October 2012", 1)
    assert edited != text_before
    seed_copy.write_text(edited, encoding="utf-8")
    result = json.loads(cli("plan", "import", str(seed_copy), "--json").output)
    assert result["updated"] == 1 and result["added"] == 0
    with engine.connect() as conn:
        row = conn.execute(
            select(Action.target_text, Action.due_date, Action.rag).where(Action.ref == "WS1-01")
        ).one()
        trail = conn.execute(
            select(
                StatusChange.source,
                StatusChange.note,
                StatusChange.target_from,
                StatusChange.target_to,
            ).order_by(StatusChange.id)
        ).all()
    assert row.target_text == "31 October 2012"
    assert str(row.due_date) == "2012-10-31"
    assert row.rag == "amber"
    # The lead's note is kept, and the moved target is on the action's trail.
    assert [tuple(t) for t in trail] == [
        ("cli", "slipping", None, None),
        ("import plan.yaml", "imported from plan.yaml", "30 September 2012", "31 October 2012"),
    ]


def test_an_action_missing_from_a_new_file_is_archived_not_deleted(
    cli: Cli, engine: Engine, seed_copy: Path
) -> None:
    cli("plan", "import", str(seed_copy))
    data = yaml.safe_load(seed_copy.read_text(encoding="utf-8"))
    removed = data["work_streams"][0]["actions"].pop()["id"]
    seed_copy.write_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    result = json.loads(cli("plan", "import", str(seed_copy), "--json").output)
    assert result["archived"] == 1
    with engine.connect() as conn:
        archived = conn.execute(select(Action.archived).where(Action.ref == removed)).scalar_one()
    assert archived is True
    show = json.loads(cli("plan", "show", "--json").output)
    assert show["work_streams"][0]["actions"] == seed_rows_per_work_stream()[1] - 1


@pytest.mark.parametrize("fmt", ["yaml", "csv", "xlsx"])
def test_export_then_import_changes_nothing(
    cli: Cli, engine: Engine, tmp_path: Path, fmt: str
) -> None:
    cli("plan", "import", str(SEED))
    with engine.begin() as conn:  # statuses must survive the round trip too
        conn.execute(
            text("UPDATE actions SET rag = 'red', state = 'in progress' WHERE ref = 'WS2-01'")
        )
    before = snapshot(engine)
    out = tmp_path / f"plan.{fmt}"
    cli("plan", "export", "--format", fmt, "-o", str(out))
    result = json.loads(cli("plan", "import", str(out), "--json").output)
    assert (result["added"], result["updated"], result["archived"]) == (0, 0, 0)
    assert result["status_changes"] == 0
    assert snapshot(engine) == before


def test_csv_export_has_the_document_columns_and_what_was_read(cli: Cli, tmp_path: Path) -> None:
    cli("plan", "import", str(SEED))
    out = tmp_path / "plan.csv"
    cli("plan", "export", "--format", "csv", "-o", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    for heading in (
        "ID",
        "Work Stream",
        "Key Del",
        "Actions",
        "Description",
        "Lead",
        "Dependencies",
        "Start Date",
        "Target End Date",
        "Due",
        "Precision",
        "Recurrence",
        "RAG",
        "Status",
    ):
        assert heading in rows[0]
    first = rows[0]
    assert (first["ID"], first["Target End Date"], first["Due"], first["Precision"]) == (
        "WS1-01",
        "30 September 2012",
        "2012-09-30",
        "day",
    )
    ongoing = next(r for r in rows if r["Target End Date"] == "Sept 2012 and ongoing")
    assert (ongoing["Due"], ongoing["Recurrence"]) == ("2012-09-30", "ongoing")


def test_several_plans_live_in_one_database(cli: Cli, engine: Engine) -> None:
    cli("plan", "import", str(SEED))
    cli("plan", "import", str(SEED), "--plan", "copy-for-training")
    result = cli("plan", "show", ok=False)
    assert result.exit_code != 0
    assert "several plans (cbc-2012-13, copy-for-training): choose one with --plan" in result.output
    shown = json.loads(cli("plan", "show", "--plan", "copy-for-training", "--json").output)
    assert shown["plan"]["id"] == "copy-for-training"
    with engine.connect() as conn:
        assert conn.execute(select(Plan.slug).order_by(Plan.slug)).scalars().all() == [
            "cbc-2012-13",
            "copy-for-training",
        ]
    missing = cli("plan", "check", "--plan", "nope", ok=False)
    assert "no plan named 'nope'" in missing.output


def test_commands_on_an_empty_database_say_what_to_do(cli: Cli) -> None:
    result = cli("plan", "show", ok=False)
    assert result.exit_code != 0
    assert "planworker plan import" in result.output


def test_commands_refuse_a_database_that_was_not_migrated(db_url: str, tmp_path: Path) -> None:
    result = Cli(db_url, tmp_path)("plan", "show", ok=False)
    assert result.exit_code != 0
    assert "planworker db upgrade" in result.output


def test_import_mirrors_the_contacts_directory_for_queries(cli: Cli, engine: Engine) -> None:
    cli("plan", "import", str(SEED))
    with engine.connect() as conn:
        # Every lead role named in the plan joins to a directory contact by its key.
        unmatched = conn.execute(
            text(
                "SELECT lr.name FROM lead_roles lr"
                " LEFT JOIN contact_keys ck ON ck.key = lr.key WHERE ck.key IS NULL"
            )
        ).all()
        emails = conn.execute(text("SELECT email FROM contacts")).scalars().all()
    assert unmatched == []
    assert emails and all(e.endswith("@example.org") for e in emails if e)
    before = snapshot(engine)
    cli("plan", "import", str(SEED))
    assert snapshot(engine) == before


@pytest.mark.postgres
def test_postgres_has_statistics_for_the_plan_as_soon_as_it_is_imported(
    postgres_url: str, tmp_path: Path
) -> None:
    # Without them the planner guesses row counts for the first daily run after a bulk
    # import (autovacuum may be minutes away, or off), and deciding at 1M took twice as long.
    cli = Cli(postgres_url, tmp_path)
    cli("db", "upgrade")
    cli("plan", "import", str(SEED))
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        analysed = dict(
            conn.execute(
                text(
                    "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables "
                    "WHERE schemaname = current_schema()"
                )
            ).all()
        )
    engine.dispose()
    plan_tables = ("actions", "action_leads", "action_dependencies", "status_history")
    assert {t: analysed.get(t) for t in plan_tables} == dict.fromkeys(plan_tables, True)
    assert analysed["messages"] is False  # only what the import wrote


def test_leads_dependencies_and_notes_are_read_for_any_number_of_actions(
    cli: Cli, engine: Engine
) -> None:
    # A board digest reads a whole plan by id: more ids than one statement may hold
    # (32,766 values on SQLite, 65,535 on PostgreSQL) must give what the plan's own
    # condition gives.
    cli("plan", "import", str(SEED))
    for ref, note in (("WS1-02", "Blocked"), ("WS4-02", "Audit tool late")):
        cli("status", "set", ref, "--rag", "red", "--note", note, "--by", "JS", "--no-alert")
    with Session(engine) as s:
        ids = sorted(s.scalars(select(Action.id)))
        many = ids + list(range(ids[-1] + 1, ids[-1] + 70_001))
        whole_plan = Action.id.is_not(None)
        for read in (roles_by_action, deps_by_action, latest_notes):
            by_condition = read(s, whole_plan)
            assert by_condition  # the seed has leads, dependencies and (now) notes
            assert read(s, many) == by_condition


# --- an import that would replace a different plan ---------------------------------------

PLAN_HEAD = "Work Stream,Actions,Lead,Target End Date\n"


def other_councils_csv(path: Path, rows: int = 8) -> Path:
    """Another council's table, with no ID column: its rows are numbered WS1-01, WS1-02..."""
    lines = [
        f"1,Recruit {n} more social workers for team {n},Head of HR,June 2013" for n in range(rows)
    ]
    path.write_text(PLAN_HEAD + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_table_without_ids_is_not_allowed_to_replace_most_of_the_stored_plan(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    cli("plan", "import", str(SEED))
    before = snapshot(engine)
    path = other_councils_csv(tmp_path / "other.csv")
    result = cli("plan", "import", str(path), ok=False)
    assert result.exit_code == 1
    assert (
        f"Error: {path}: of the 110 actions in plan 'cbc-2012-13', this import would "
        "archive 102 and rewrite 8" in result.output
    )
    assert "--diff" in result.output and "--replace" in result.output
    assert snapshot(engine) == before


def test_replace_lets_a_table_replace_the_stored_plan(cli: Cli, tmp_path: Path) -> None:
    cli("plan", "import", str(SEED))
    path = other_councils_csv(tmp_path / "other.csv")
    result = json.loads(cli("plan", "import", str(path), "--replace", "--json").output)
    assert (result["updated"], result["archived"], result["added"]) == (8, 102, 0)


def test_a_row_inserted_into_a_table_without_ids_is_refused_as_renumbering_the_plan(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    # Every later row takes the ID, and so the history, of the row before it.
    texts = (
        "Audit adoption case files",
        "Recruit twenty foster carers",
        "Publish the leaving care offer",
        "Review short breaks for disabled children",
        "Open an early help hub in Dunstable",
    )
    actions = [f"1,{text},Head of QA,June 2013" for text in texts]
    path = tmp_path / "plan.csv"
    path.write_text(PLAN_HEAD + "\n".join(actions) + "\n", encoding="utf-8")
    cli("plan", "import", str(path), "--plan", "small")
    before = snapshot(engine)
    inserted = ["1,Train panel members on the new threshold,Head of QA,May 2013", *actions]
    path.write_text(PLAN_HEAD + "\n".join(inserted) + "\n", encoding="utf-8")
    result = cli("plan", "import", str(path), "--plan", "small", ok=False)
    assert "of the 5 actions in plan 'small', this import would rewrite 5" in result.output
    assert snapshot(engine) == before


def test_diff_lists_what_an_import_would_add_change_and_archive_and_writes_nothing(
    cli: Cli, engine: Engine, seed_copy: Path
) -> None:
    cli("plan", "import", str(seed_copy))
    data = yaml.safe_load(seed_copy.read_text(encoding="utf-8"))
    actions = data["work_streams"][0]["actions"]
    removed = actions.pop()["id"]
    actions[0]["target"] = "31 October 2012"
    actions.append({**copy.deepcopy(actions[1]), "id": "WS1-99"})
    seed_copy.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    before = snapshot(engine)
    found = json.loads(cli("plan", "import", str(seed_copy), "--diff", "--json").output)
    assert snapshot(engine) == before
    assert (found["add"], found["archive"]) == (["WS1-99"], [removed])
    assert found["change"] == [{"id": actions[0]["id"], "fields": ["target date"]}]
    assert found["needs_replace"] is None
    shown = cli("plan", "import", str(seed_copy), "--diff").output
    assert "would add 1, change 1 and archive 1 actions" in shown and "nothing was written" in shown
    assert f"  archive  {removed}\n" in shown
    assert snapshot(engine) == before
