"""When a status report was made, as the board and the admin read it: in the plan's time
zone (the seed's is Europe/London), on SQLite and PostgreSQL alike, whichever way the
report came in. A change dated with --as-of is recorded at noon that day in the plan's
zone; a report made on the web page is stamped by the UTC clock. Both are stored as UTC
(models.UtcDateTime), so they sort as they happened and show as the plan tells the time.
"""

from __future__ import annotations

import csv
import io
import mailbox
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tests.conftest import SEED, Cli
from tests.test_remind import text_part
from worker.db import make_engine
from worker.models import Action, Plan
from worker.rules.acknowledge import Acknowledged, standing
from worker.store.acknowledgements import acknowledgements, record_acknowledgement
from worker.store.facts import load_facts, of_ids
from worker.store.status import StatusUpdate, apply_updates

REF = "WS1-02"
# Where a time was stored in two zones on SQLite before revision 0011.
COLUMNS = (("status_history", "changed_at"), ("acknowledgements", "latest_note_at"))


def board_row(cli: Cli, tmp_path: Path, ref: str = REF) -> dict[str, str]:
    """The action's row in the board's CSV report (it lists Red and Amber actions)."""
    out = tmp_path / "report.csv"
    cli("report", "--format", "csv", "--as-of", "2012-10-15", "-o", str(out))
    rows = csv.DictReader(io.StringIO(out.read_text("utf-8-sig")))
    return next(row for row in rows if row["ID"] == ref)


def history_lines(cli: Cli, ref: str = REF) -> list[str]:
    return cli("status", "history", ref).output.splitlines()


def noted_on_9_october(cli: Cli, note: str) -> None:
    """The seed, and REF reported Red with `note` by `status set --as-of 2012-10-09`: at
    noon that day in London, British Summer Time, which is 11:00 UTC."""
    cli("plan", "import", str(SEED))
    cli("status", "set", REF, "--rag", "red", "--note", note, "--by", "Jane Smith",
        "--as-of", "2012-10-09")  # fmt: skip


def report_online(cli: Cli, note: str, at: datetime) -> None:
    """A report as the web page records it: stamped with the (UTC) clock."""
    engine = make_engine(cli.db_url)
    with Session(engine) as session:
        plan_id = session.scalars(select(Plan.id)).one()
        update = StatusUpdate(REF, None, None, note, "Jane Smith", at, "the web page")
        apply_updates(session, plan_id, [update], ["the form"], "the web page")
        session.commit()
    engine.dispose()


def test_a_change_dated_with_as_of_is_shown_at_noon_in_the_plans_zone(
    cli: Cli, tmp_path: Path
) -> None:
    noted_on_9_october(cli, "Audit booked")
    row = board_row(cli, tmp_path)
    assert (row["Latest Note"], row["Note Date"]) == ("Audit booked", "2012-10-09 12:00")
    assert history_lines(cli)[-1].startswith("2012-10-09 12:00  Jane Smith")


def test_the_latest_note_is_the_last_one_made_whichever_way_it_came(
    cli: Cli, tmp_path: Path
) -> None:
    noted_on_9_october(cli, "Dated at noon")
    # Half an hour later, on the web page: 11:30 UTC is 12:30 in London.
    report_online(
        cli, "Reported online at half past twelve", datetime(2012, 10, 9, 11, 30, tzinfo=UTC)
    )
    row = board_row(cli, tmp_path)
    assert row["Latest Note"] == "Reported online at half past twelve"
    assert row["Note Date"] == "2012-10-09 12:30"
    assert [line[:16] for line in history_lines(cli)[-2:]] == [
        "2012-10-09 12:00",
        "2012-10-09 12:30",
    ]


def test_a_report_made_after_midnight_in_summer_is_dated_that_day(cli: Cli, tmp_path: Path) -> None:
    cli("plan", "import", str(SEED))
    cli("status", "set", REF, "--rag", "red", "--note", "Stuck", "--by", "Head of QA",
        "--as-of", "2012-10-08", "--no-alert")  # fmt: skip
    # 23:30 UTC on the 9th is 00:30 on Wednesday 10 October in London.
    report_online(cli, "Still stuck", datetime(2012, 10, 9, 23, 30, tzinfo=UTC))
    assert board_row(cli, tmp_path)["Note Date"] == "2012-10-10 00:30"
    # The board's digest the next Monday names the day as the plan tells it.
    cli("digest", "--as-of", "2012-10-15")
    folder = mailbox.Maildir(cli.maildir, factory=None, create=False)
    messages = [message_from_bytes(m.as_bytes(), policy=policy.default) for m in folder]
    assert messages
    for message in messages:
        assert isinstance(message, EmailMessage)
        body = text_part(message)
        assert "Jane Smith, 10 October 2012" in body
        assert "9 October 2012" not in body


def test_dated_changes_stored_before_on_sqlite_read_as_noon_in_the_plans_zone(
    tmp_path: Path,
) -> None:
    # Before revision 0011, SQLite kept a dated change's noon as 12:00 local time (and the
    # note time an acknowledgement saw likewise), while other times were UTC. Rewind one.
    cli = Cli(f"sqlite:///{tmp_path / 'planworker.db'}", tmp_path)
    cli("db", "upgrade")
    noted_on_9_october(cli, "Audit booked")
    engine = make_engine(cli.db_url)
    with Session(engine) as session:
        action_id = session.scalars(select(Action.id).where(Action.ref == REF)).one()
        plan_id = session.scalars(select(Plan.id)).one()
        (seen,) = load_facts(session, of_ids([action_id]), plan_id, date(2012, 10, 10))
        at = datetime(2012, 10, 10, 9, 0, tzinfo=UTC)
        chair = Acknowledged("chair@example.org", "Chair", at, "Noted", seen.snapshot())
        record_acknowledgement(session, action_id, chair)
        session.commit()
    stored, local = "'2012-10-09 11:00:00.000000'", "'2012-10-09 12:00:00.000000'"
    with engine.begin() as connection:
        for table, column in COLUMNS:
            moved = connection.execute(
                text(f"UPDATE {table} SET {column} = {local} WHERE {column} = {stored}")
            )
            assert moved.rowcount == 1, f"{table}.{column} was not stored as UTC"
        connection.execute(text("UPDATE alembic_version SET version_num = '0010'"))
    cli("db", "upgrade")
    assert board_row(cli, tmp_path)["Note Date"] == "2012-10-09 12:00"
    with Session(engine) as session:
        (now,) = load_facts(session, of_ids([action_id]), plan_id, date(2012, 10, 10))
        assert now.latest_note_at == datetime(2012, 10, 9, 11, 0, tzinfo=UTC)
        # The acknowledgement still matches the note it saw: it still stands.
        assert standing(acknowledgements(session, [action_id])[action_id], now.snapshot())
    engine.dispose()
