"""On SQLite, commands and pages that only read neither wait for a writer nor make one wait.

Writers take SQLite's write lock when their transaction begins, so two of them queue. A
reader used to take it too: an export of a large plan, `plan show` or a lead opening their
page then made the daily run's next batch wait (and fail once the busy timeout passed), and a
daily run's batch made the health check report the database unreachable. In WAL mode a
reader reads a snapshot beside a writer; these tests hold a real write lock from another
connection, with a busy timeout of one second, and run the real commands and pages."""

from __future__ import annotations

import html
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.conftest import SEED, Cli
from tests.test_acknowledge import STRATEGIC, acknowledgements, post_ack
from tests.test_web import KEY, OWN, fetch, report, serving, token_of
from worker.db import make_engine, session_factory
from worker.jobs import digest, per_action
from worker.models import Action
from worker.web import app as web_app
from worker.web import pages
from worker.web.links import ACK, sign


@pytest.fixture
def local(tmp_path: Path) -> Cli:
    """A SQLite database with the seed plan, whose commands wait at most a second for a lock."""
    runner = Cli(f"sqlite:///{tmp_path / 'plan.db'}?timeout=1", tmp_path)
    runner("db", "upgrade")
    runner("plan", "import", str(SEED))
    return runner


@contextmanager
def writer_holding_the_lock(cli: Cli) -> Iterator[None]:
    """Another process's write transaction, open (as a daily run's batch is)."""
    path = cli.db_url.removeprefix("sqlite:///").split("?")[0]
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE actions SET rag = rag WHERE id = (SELECT min(id) FROM actions)")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "export", "--format", "csv"],
        ["plan", "export", "--format", "yaml"],
        ["plan", "show"],
        ["plan", "check"],
        ["status", "history", "WS1-01"],
        ["outbox"],
        ["report", "--format", "md", "-o", "report.md"],
    ],
    ids=lambda args: " ".join(args[:3]),
)
def test_a_command_that_only_reads_runs_while_a_writer_holds_the_lock(
    local: Cli, args: list[str]
) -> None:
    if "-o" in args:
        args = [*args[:-1], str(local.workdir / args[-1])]
    with writer_holding_the_lock(local):
        result = local(*args, ok=False)
    assert result.exit_code == 0, result.output
    assert "locked" not in result.output


def test_a_command_that_writes_still_waits_for_the_writer_and_says_why(local: Cli) -> None:
    with writer_holding_the_lock(local):
        result = local(
            "status", "set", "WS1-01", "--rag", "amber", "--note", "n", "--by", "QA", ok=False
        )
    assert result.exit_code != 0
    assert "locked" in result.output


def test_a_long_read_does_not_make_a_writer_wait(local: Cli) -> None:
    engine = make_engine(local.db_url)
    try:
        with session_factory(engine, reads_only=True)() as reading:
            reading.query(Action).first()  # the reader's snapshot is open from here
            local("status", "set", "WS1-01", "--rag", "amber", "--note", "n", "--by", "QA")
            # The reader still sees the plan as it was when it began.
            rag = reading.query(Action.rag).filter(Action.ref == "WS1-01").scalar()
            assert rag != "amber"
    finally:
        engine.dispose()
    changes = json.loads(local("status", "history", "WS1-01", "--json").stdout)["changes"]
    assert changes[-1]["rag"] == [None, "amber"]


def test_health_does_not_call_the_database_unreachable_while_a_run_writes(local: Cli) -> None:
    with writer_holding_the_lock(local):
        result = local("health", "--json", ok=False)
    problems = json.loads(result.stdout)["problems"]
    assert not any("database" in p for p in problems), problems


def test_a_lead_opens_their_page_while_a_run_writes(
    local: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(local, tmp_path, monkeypatch) as served:
        link = served.link()
        with writer_holding_the_lock(local):
            status, page = fetch(link)
            health = fetch(f"{served.base_url}/health")
    assert status == 200, page
    assert 'id="action-WS1-02"' in page
    assert health == (200, "ok")


def test_a_report_sent_while_a_run_holds_the_lock_is_not_lost(
    local: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daily run's batches can hold the write lock past the page's busy timeout: the lead
    is told plainly that nothing was recorded, and gets the form back as they filled it in."""
    note = "Chased the <audit> team & re-booked"
    with serving(local, tmp_path, monkeypatch) as served:
        before = served.history(OWN)
        form = report(token_of(served.link()), OWN, rag="red", state="on hold", note=note)
        with writer_holding_the_lock(local):
            status, page = served.post(form)
        assert status == 503, page
        assert f"{OWN}: not recorded" in page
        section = page.split(f'id="action-{OWN}"')[1].split("</section>")[0]
        assert f">{html.escape(note, quote=False)}</textarea>" in section
        assert 'value="red" checked' in section
        assert 'value="on hold" selected' in section
        assert served.history(OWN) == before
        # Sent again once the run has let go: recorded, once.
        status, page = served.post(form)
        assert status == 200 and f"{OWN}: recorded" in page
    changes = served.history(OWN)
    assert len(changes) == len(before) + 1 and changes[-1]["note"] == note


def test_an_acknowledgement_sent_while_a_run_holds_the_lock_is_not_lost(
    local: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local("status", "set", OWN, "--rag", "amber", "--note", "Audit slipped", "--by", "Head of QA")
    note = "Spoke to the Head of QA: audit re-booked"
    with serving(local, tmp_path, monkeypatch) as served:
        served.now = datetime.now(UTC)
        fields = {"token": sign(KEY, 1, STRATEGIC, ACK, served.now), "ref": OWN, "note": note}
        with writer_holding_the_lock(local):
            status, page = post_ack(served, fields)
        assert status == 503, page
        section = page.split(f'id="action-{OWN}"')[1].split("</section>")[0]
        assert f">{note}</textarea>" in section
        assert acknowledgements(local) == 0
        status, page = post_ack(served, fields)
        assert status == 200 and f"{OWN}: acknowledged" in page
    assert acknowledgements(local) == 1


def another_writer(cli: Cli) -> str:
    """ "written" when another connection can write at once (no wait), else why not."""
    path = cli.db_url.removeprefix("sqlite:///").split("?")[0]
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE actions SET rag = rag WHERE id = (SELECT min(id) FROM actions)")
        other.execute("COMMIT")
        return "written"
    except sqlite3.OperationalError as exc:
        return str(exc)
    finally:
        other.close()


@pytest.mark.parametrize("job", ["remind", "escalate", "digest"])
def test_a_run_holds_the_write_lock_only_to_record(
    local: Cli, monkeypatch: pytest.MonkeyPatch, job: str
) -> None:
    """While a run decides and renders (a batch of reminders, the board's digest), another
    writer (a lead's report, `status set`) gets the lock at once: a large plan's run is
    minutes of batches back to back, and writers waiting on it failed after their busy
    timeout."""
    local("status", "set", "WS1-02", "--rag", "amber", "--note", "n", "--by", "QA", "--no-alert")
    tries: list[str] = []
    module, name = (digest, "render_board_digest") if job == "digest" else (per_action, "messages")
    rendering = getattr(module, name)

    def rendering_beside_a_writer(*args: Any, **kwargs: Any) -> Any:
        tries.append(another_writer(local))
        return rendering(*args, **kwargs)

    monkeypatch.setattr(module, name, rendering_beside_a_writer)
    day = "2012-10-08" if job == "digest" else "2012-10-02"  # the board's Monday; a Tuesday
    result = json.loads(local(job, "--as-of", day, "--json").stdout)
    assert result.get("messages") or result.get("recipients"), (
        "nothing sent: the test shows nothing"
    )
    assert tries and set(tries) == {"written"}, tries


def ledger(cli: Cli) -> list[tuple[str, str]]:
    """Every recorded item: its key and its message's recipient."""
    path = cli.db_url.removeprefix("sqlite:///").split("?")[0]
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT n.key, m.recipient_email FROM notifications n"
            " JOIN messages m ON m.id = n.message_id ORDER BY n.key"
        )
        return [(str(key), str(to)) for key, to in rows]


def test_a_run_records_a_group_at_a_time_and_a_crash_between_loses_nothing(
    local: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's messages are recorded a group at a time, each group its own transaction, so
    another writer gets in between (a large reader's 30 parts take seconds each at 1M). A
    run that dies after the first group leaves it recorded, and the next run plans the rest:
    every item once, to the reader a run without the crash gives it to."""
    clean = Cli(f"sqlite:///{tmp_path / 'clean.db'}?timeout=1", tmp_path)
    clean("db", "upgrade")
    clean("plan", "import", str(SEED))
    clean("remind", "--as-of", "2012-10-02")
    expected = ledger(clean)

    monkeypatch.setattr(per_action, "RECORD_BYTES", 1)  # each message a group of its own
    recording = per_action.record
    tries: list[str] = []

    def record_then_die(*args: Any, **kwargs: Any) -> Any:
        tries.append(another_writer(local))
        if len(tries) == 3:
            raise RuntimeError("the process dies here")
        return recording(*args, **kwargs)

    monkeypatch.setattr(per_action, "record", record_then_die)
    with pytest.raises(RuntimeError):
        local("remind", "--as-of", "2012-10-02")
    assert tries == ["written"] * 3
    kept = ledger(local)
    assert kept and len(kept) < len(expected)  # the first two groups, not the rest

    monkeypatch.setattr(per_action, "record", recording)
    local("remind", "--as-of", "2012-10-02")
    assert ledger(local) == expected


def test_a_recorded_report_is_never_called_not_recorded(
    local: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that takes the write lock just after the report is committed does not turn the
    page into "not recorded" (the lead would send it again): the page is read from a
    snapshot."""
    path = local.db_url.removeprefix("sqlite:///").split("?")[0]
    others: list[sqlite3.Connection] = []
    recording = web_app.record

    def record_then_a_run_writes(*args: Any, **kwargs: Any) -> Any:
        done = recording(*args, **kwargs)
        # Opened in the server's thread, let go in the test's.
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        others.append(other)
        return done

    monkeypatch.setattr(web_app, "record", record_then_a_run_writes)
    with serving(local, tmp_path, monkeypatch) as served:
        try:
            status, page = served.post(report(token_of(served.link()), OWN, note="Re-booked"))
        finally:
            for other in others:
                other.execute("ROLLBACK")
                other.close()
        assert others, "the report was not recorded: the test shows nothing"
        assert status == 200, page
        assert f"{OWN}: recorded" in page
        assert served.history(OWN)[-1]["note"] == "Re-booked"


def test_a_report_the_database_cannot_take_or_show_is_quoted_back(
    local: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the page cannot even be read back (the database not answering), the 503 page
    still says nothing was recorded and quotes the note, so it can be sent again."""

    def not_answering(self: pages.Pages) -> Any:
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("disk I/O error"))

    note = "Chased the <audit> team"
    with serving(local, tmp_path, monkeypatch) as served:
        form = report(token_of(served.link()), OWN, note=note)
        monkeypatch.setattr(pages.Pages, "reading", not_answering)
        with writer_holding_the_lock(local):
            status, page = served.post(form)
    assert status == 503, page
    assert f"{OWN}: not recorded" in page
    assert html.escape(note, quote=False) in page and note not in page


def test_a_recorded_report_whose_page_cannot_be_read_still_says_recorded(
    local: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_answering(self: pages.Pages) -> Any:
        raise OperationalError("SELECT 1", {}, sqlite3.OperationalError("disk I/O error"))

    with serving(local, tmp_path, monkeypatch) as served:
        form = report(token_of(served.link()), OWN, note="Re-booked")
        monkeypatch.setattr(pages.Pages, "reading", not_answering)
        status, page = served.post(form)
        monkeypatch.undo()
        assert status == 200, page
        assert f"{OWN}: recorded" in page and "Nothing has been recorded" not in page
        assert served.history(OWN)[-1]["note"] == "Re-booked"
