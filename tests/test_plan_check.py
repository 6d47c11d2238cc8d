"""The data-quality report on the real plan, and the schema matches the models."""

from __future__ import annotations

import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from tests.conftest import SEED, Cli
from worker.models import Base


def test_check_finds_every_target_before_its_start_in_the_document(cli: Cli) -> None:
    cli("plan", "import", str(SEED))
    report = json.loads(cli("plan", "check", "--json").output)
    before = {f["subject"] for f in report["findings"] if f["kind"] == "target_before_start"}
    # Read from the document: WS5 key deliverable 2 (September 2012 -> February 2012),
    # WS5 key deliverable 5 (September 2012 -> Review Feb 2012) and WS6 key deliverable 6
    # (September 2012 -> Review February 2012).
    assert before == {"WS5-02", "WS5-05", "WS6-06"}
    assert report["counts"]["unreadable_date"] == 0
    assert report["counts"]["no_contact"] == 0
    no_target = {f["subject"] for f in report["findings"] if f["kind"] == "no_target"}
    assert no_target and all(s.startswith("WS") for s in no_target)
    split = {n["subject"] for n in report["rows"] if n["kind"] == "row_split"}
    assert split == {"WS4-03", "WS4-11", "WS7-10"}


def test_strict_check_fails_when_there_are_findings(cli: Cli) -> None:
    cli("plan", "import", str(SEED))
    assert cli("plan", "check").exit_code == 0
    strict = cli("plan", "check", "--strict", ok=False)
    assert strict.exit_code == 1
    assert "Target dates before start dates: 3" in strict.output


def test_show_prints_nine_work_streams_with_counts_and_findings(cli: Cli) -> None:
    cli("plan", "import", str(SEED))
    out = cli("plan", "show").output
    for number in range(1, 10):
        assert f"\n  {number:>2}. " in out
    assert "Data-quality findings:" in out and "target dates before start dates" in out


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
