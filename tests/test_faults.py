"""The fault suite: workers killed with SIGKILL at random points and restarted, an SMTP server
that hangs up, answers 421 and 451 or goes away for a while, a database that is locked or cut
off, and a Maildir that cannot be written. Afterwards every due message has been delivered,
none more than twice, and nothing is marked sent that was not delivered.

Everything is real: `python -m worker` processes, aiosmtpd on loopback (tests/smtp_server.py),
SQLite files, the PostgreSQL server (through a TCP proxy in this file that a test can cut), and
Maildir folders on disk. Random choices come from a fixed seed; where a SIGKILL lands depends
on the machine's speed, but nothing asserted does.

CI runs a few kills (about 40 s for the file). The heavier variant, by hand:

    PLANWORKER_TEST_FAULT_ROUNDS=200 .venv/bin/pytest -s tests/test_faults.py -k killed

PLANWORKER_TEST_FAULT_ROUNDS is the number of SIGKILLs per database (by default 4 on SQLite
and 3 on PostgreSQL, on one day; four kills a day when it is given), and
PLANWORKER_TEST_FAULT_SEED the random seed. The kill test prints the number of duplicates the
SMTP server received (visible with -s) and records it as a test property
(--junitxml=FILE -o junit_family=xunit1).
docs/faults.md describes each fault, what is asserted and the figures of a heavy run.
"""

from __future__ import annotations

import asyncio
import json
import mailbox
import math
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import pytest
from click.testing import Result
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tests.conftest import POSTGRES_URL, ROOT, SEED, Cli
from tests.smtp_server import HOST, Received, SmtpServer
from worker.db import make_engine
from worker.errors import PlanworkerError

# Slow (killed workers, outages and full disks): left out by pytest -m 'not slow'.
pytestmark = pytest.mark.slow

# SIGKILLs per database: a few for CI (fewer on PostgreSQL, to keep the file quick), or as
# many as PLANWORKER_TEST_FAULT_ROUNDS says on both.
ROUNDS = {
    database: int(os.environ.get("PLANWORKER_TEST_FAULT_ROUNDS", default))
    for database, default in (("sqlite", "4"), ("postgresql", "3"))
}
RANDOM_SEED = int(os.environ.get("PLANWORKER_TEST_FAULT_SEED", "20120903"))
LEASE_SECONDS = 1  # the shortest claim a setting allows: a dead worker's message is free soon
# Every Monday of the plan year; a run uses as many as its number of kills calls for.
MONDAYS = tuple((date(2012, 9, 3) + timedelta(weeks=n)).isoformat() for n in range(43))
DAY = "2012-09-24"  # 22 messages
NEXT_DAY = "2012-10-15"  # 32 more

T = TypeVar("T")


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer("plain") as smtp:
        yield smtp


def use_smtp(cli: Cli, server: SmtpServer) -> None:
    cli.env.update(
        {
            "PLANWORKER_MAIL__BACKEND": "smtp",
            "PLANWORKER_SMTP__HOST": server.host,
            "PLANWORKER_SMTP__PORT": str(server.port),
            "PLANWORKER_SMTP__SECURITY": "none",
            "PLANWORKER_SMTP__TIMEOUT": "5",
            "PLANWORKER_MAIL__RETRY_AFTER_SECONDS": "0",
            "PLANWORKER_MAIL__LEASE_SECONDS": str(LEASE_SECONDS),
        }
    )


def seeded_cli(url: str, workdir: Path) -> Cli:
    cli = Cli(url, workdir)
    cli("db", "upgrade")
    cli("plan", "import", str(SEED))
    return cli


@pytest.fixture
def sqlite_cli(tmp_path: Path) -> Cli:
    """The seed plan in a SQLite database; messages go to the Maildir until a test says."""
    return seeded_cli(f"sqlite:///{tmp_path / 'faults.db'}", tmp_path)


@pytest.fixture
def seeded(sqlite_cli: Cli, server: SmtpServer) -> Cli:
    use_smtp(sqlite_cli, server)
    return sqlite_cli


def remind(cli: Cli, day: str, *, ok: bool = True) -> dict[str, Any]:
    result = cli("remind", "--as-of", day, "--json", ok=ok)
    if not ok:
        assert result.exit_code == 1, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def ledger(cli: Cli) -> dict[str, Any]:
    """The whole outbox: counts by state and every message (newest first)."""
    data: dict[str, Any] = json.loads(cli("outbox", "--json", "--limit", "1000000").stdout)
    return data


def states(cli: Cli) -> dict[str, str]:
    """Each message's state, by Message-ID."""
    return {m["message_id"]: m["state"] for m in ledger(cli)["messages"]}


def received_ids(server: SmtpServer) -> Counter[str]:
    return Counter(str(r.message["Message-ID"]) for r in server.received)


def clean_error(result: Result) -> str:
    """The command's error: exit status 1 and one line on stderr, never a traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def assert_all_delivered(cli: Cli, got: Counter[str]) -> dict[str, Any]:
    """Every message in the ledger is sent and reached the server; nothing else did."""
    outbox = ledger(cli)
    ids = [m["message_id"] for m in outbox["messages"]]
    assert len(ids) == len(set(ids)) > 0
    assert outbox["counts"] == {"pending": 0, "sending": 0, "sent": len(ids), "failed": 0}
    assert set(got) == set(ids)
    return outbox


def assert_only_in_flight_unrecorded(
    found: dict[str, str], in_flight: list[str], server: SmtpServer
) -> None:
    """After a run failed while the server held its third message: two sent, that one
    claimed but not recorded, and no other claimed message ever reached the server."""
    assert Counter(found.values())["sent"] == 2
    claimed = {mid for mid, state in found.items() if state == "sending"}
    assert set(in_flight) <= claimed
    reached = {str(r.message["Message-ID"]) for r in server.received}
    assert claimed & reached == set(in_flight)


def wait_lease_out(since: float) -> None:
    """Wait until a claim made before `since` (time.monotonic()) has run out: the message of
    a worker that died, or lost its database, is free for the next run then."""
    time.sleep(max(0.0, since + LEASE_SECONDS + 0.1 - time.monotonic()))


# --- a worker killed with SIGKILL at random points, many times ------------------------------

_reference: dict[tuple[str, ...], dict[str, set[str]]] = {}


def reference_messages(days: tuple[str, ...], workdir: Path) -> dict[str, set[str]]:
    """The Message-IDs a fault-free worker plans on each day, run one after another (the same
    on every database: Message-IDs come from the reminders' keys)."""
    if days not in _reference:
        cli = seeded_cli(f"sqlite:///{workdir / 'reference.db'}", workdir)
        _reference[days] = {
            day: {m["message_id"] for m in remind(cli, day)["messages"]} for day in days
        }
    return _reference[days]


@dataclass
class KillReport:
    rounds: int = 0
    kills: int = 0
    phases: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    history: list[str] = field(default_factory=list)  # one line per run, for failures
    # Claims a kill left unfinished, as (Message-ID, attempt): the messages it had in flight.
    in_flight: set[tuple[str, int]] = field(default_factory=set)

    def caught(self) -> Counter[str]:
        """How many kills caught each message in flight."""
        return Counter(mid for mid, _ in self.in_flight)

    def lines(self, got: Counter[str], messages: int) -> list[str]:
        duplicates = sum(n - 1 for n in got.values())
        times = Counter(got.values())
        return [
            f"{self.kills} SIGKILLs in {self.rounds} interrupted runs "
            f"({', '.join(f'{k}: {n}' for k, n in sorted(self.kinds.items()))})",
            "killed " + ", ".join(f"{p}: {n}" for p, n in sorted(self.phases.items())),
            f"{len(self.in_flight)} kills left a claimed message unrecorded; "
            f"{sum(1 for n in self.caught().values() if n > 1)} messages were caught by two "
            "kills or more",
            f"{messages} messages, {sum(got.values())} received, {duplicates} duplicates ("
            + ", ".join(f"{n} times: {k}" for n, k in sorted(times.items()) if n > 1)
            + ")",
        ]


class KillingRunner:
    """Starts `python -m worker remind` processes and kills them at chosen points."""

    def __init__(self, cli: Cli, server: SmtpServer, workdir: Path, rng: random.Random) -> None:
        self.cli = cli
        self.server = server
        self.workdir = workdir
        self.rng = rng
        self.report = KillReport()
        # Reads the ledger between runs directly, which is quicker than `planworker outbox`.
        self.database = create_engine(cli.db_url, poolclass=NullPool)
        self.horizon = 2.5  # how long a whole run took last time, in seconds
        self.last_exit = time.monotonic()
        self._runs = 0
        self._ids: list[str] = []  # Message-IDs of server.received, parsed once each

    def received_ids(self) -> list[str]:
        """The Message-ID of each message the server received, in order."""
        for received in self.server.received[len(self._ids) :]:
            head = received.data.partition(b"\r\n\r\n")[0]
            self._ids.append(str(BytesHeaderParser(policy=default).parsebytes(head)["Message-ID"]))
        return self._ids

    def messages(self) -> list[tuple[str, str, int]]:
        """Every message in the ledger: Message-ID, state, attempts."""
        with self.database.connect() as conn:
            rows = conn.execute(text("SELECT message_id, state, attempts FROM messages"))
            return [(mid, state, attempts) for mid, state, attempts in rows]

    def _start(self, day: str) -> subprocess.Popen[bytes]:
        self._runs += 1
        log = self.workdir / f"run-{self._runs}"
        command = [sys.executable, "-m", "worker", "remind", "--as-of", day, "--json"]
        with open(f"{log}.out", "wb") as out, open(f"{log}.err", "wb") as err:
            return subprocess.Popen(
                command,
                env={**os.environ, **self.cli.environment()},
                cwd=ROOT,
                stdout=out,
                stderr=err,
            )

    def _stderr(self) -> str:
        return (self.workdir / f"run-{self._runs}.err").read_text(errors="replace")

    def complete(self, day: str) -> None:
        """A run left alone: it must finish cleanly."""
        started = time.monotonic()
        received_before = len(self.server.received)
        process = self._start(day)
        assert process.wait(timeout=120) == 0, self._stderr()
        self.horizon = time.monotonic() - started
        sent = [mid[1:9] for mid in self.received_ids()[received_before:]]
        self.report.history.append(f"{day} left alone: {self.horizon:.2f} s, sent {sent}")

    def kill(self, day: str, kind: str, left: int) -> None:
        """A run killed at a point of `kind`: after a random time ("timed"), once the server
        has some of its messages ("after a send"), or by the server while it holds a message
        it has not answered yet ("inside DATA"). `left`: messages of this day not yet sent."""
        planned_before = len(self.messages())
        received_before = len(self.server.received)
        started = time.monotonic()
        process = self._start(day)
        if kind == "inside DATA":
            target = self.rng.randint(1, max(1, min(left, 8)))
            seen = 0

            def kill_before_answering(_: Received) -> None:
                nonlocal seen
                seen += 1
                if seen == target:
                    os.kill(process.pid, signal.SIGKILL)

            self.server.on_data = kill_before_answering
            try:
                process.wait(timeout=120)
            finally:
                self.server.on_data = None
        else:
            if kind == "after a send":
                target = received_before + self.rng.randint(1, max(1, min(left, 8)))
                deadline = math.inf
            else:
                target = sys.maxsize
                deadline = time.monotonic() + self.rng.uniform(0, self.horizon)
            while (
                process.poll() is None
                and len(self.server.received) < target
                and time.monotonic() < deadline
            ):
                time.sleep(0.001)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=120)
        self.last_exit = time.monotonic()
        self.report.rounds += 1
        sent = [mid[1:9] for mid in self.received_ids()[received_before:]]
        self.report.history.append(
            f"{day} {kind}: exit {process.returncode} after {time.monotonic() - started:.2f} s, "
            f"sent {sent}"
        )
        if process.returncode != -signal.SIGKILL:
            assert process.returncode == 0, self._stderr()
            return  # it finished before the chosen point
        self.report.kills += 1
        self.report.kinds[kind] += 1
        messages = self.messages()
        claims = {(mid, attempts) for mid, state, attempts in messages if state == "sending"}
        # A worker claims a batch but sends one message at a time: of the claims a kill
        # leaves unrecorded, only the one in flight can have reached the server (the rest
        # go out once, after their lease).
        reached = set(self.received_ids()[received_before:])
        caught = {(mid, a) for mid, a in claims - self.report.in_flight if mid in reached}
        assert len(caught) <= 1, (caught, self.report.history)
        self.report.in_flight |= caught
        if len(self.server.received) > received_before:
            phase = "while delivering"
        elif len(messages) > planned_before:
            phase = "after planning, before sending"
        else:
            phase = "starting or planning (rolled back)"
        self.report.phases[phase] += 1


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_workers_killed_at_random_points_deliver_everything_and_repeat_only_what_a_kill_caught(
    database: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    server: SmtpServer,
    record_property: Callable[[str, object], None],
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'killed.db'}"
        if database == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    rounds = ROUNDS[database]
    days = MONDAYS[: min(len(MONDAYS), math.ceil(rounds / 4))]
    expected = reference_messages(days, tmp_path)
    cli = seeded_cli(url, tmp_path)
    use_smtp(cli, server)
    rng = random.Random(f"{RANDOM_SEED}-{database}")
    kinds = [("timed", "after a send", "inside DATA")[n % 3] for n in range(rounds)]
    rng.shuffle(kinds)
    runner = KillingRunner(cli, server, tmp_path, rng)
    request.addfinalizer(runner.database.dispose)

    for index, day in enumerate(days):
        # Each day's worker is killed a few times and restarted…
        for kind in kinds[index :: len(days)]:
            left = len(expected[day] - set(runner.received_ids()))
            runner.kill(day, kind if left else "timed", left)
        # …and left to finish if no run got past planning (the next day's run, or the last
        # clean run, delivers whatever a killed worker left).
        planned = {mid for mid, _, _ in runner.messages()}
        if day != days[-1] and not expected[day] <= planned:
            runner.complete(day)
    wait_lease_out(runner.last_exit)
    last = remind(cli, days[-1])  # one clean run sends what killed workers left
    assert last["counts"]["failed"] == last["counts"]["pending"] == 0

    got = received_ids(server)
    outbox = assert_all_delivered(cli, got)
    # Every message due was planned: the same as a worker that was never killed.
    assert {m["message_id"] for m in outbox["messages"]} == set().union(*expected.values())
    duplicates = sum(n - 1 for n in got.values())
    lines = runner.report.lines(got, len(outbox["messages"]))
    print(f"\n[{database}] " + f"\n[{database}] ".join(lines))
    record_property("kills", runner.report.kills)
    record_property("messages", len(outbox["messages"]))
    record_property("duplicates", duplicates)
    assert runner.report.kills >= 1
    # Only a message a kill caught in flight can come again, and once per such kill: so none
    # comes more than twice unless two kills caught the same message (its resend, first
    # thing after a restart, killed again).
    caught = runner.report.caught()
    too_many = {mid: n for mid, n in got.items() if n > 1 + caught[mid]}
    assert too_many == {}, "\n".join(runner.report.history)
    assert duplicates <= runner.report.kills


# --- the SMTP server misbehaving -------------------------------------------------------------


def test_hang_ups_during_data_are_retried_and_only_a_message_the_server_kept_comes_twice(
    seeded: Cli, server: SmtpServer
) -> None:
    # The 1st transfer of the run is cut and lost, the 4th is kept but never answered (the
    # worker cannot know it arrived), the 7th is cut and lost.
    server.hang_up_in_data.update({1: "lost", 4: "kept", 7: "lost"})
    first = remind(seeded, DAY)
    # The first message met a hang-up on a fresh connection: it waits for the next run. The
    # others were cut on a connection that had worked, and went again on a new one at once.
    assert first["counts"]["retrying"] == 1
    assert first["counts"]["sent"] == first["counts"]["planned"] - 1
    waiting = [m for m in ledger(seeded)["messages"] if m["state"] != "sent"]
    assert [m["state"] for m in waiting] == ["pending"]
    assert "connection closed by the server" in waiting[0]["last_error"]
    assert waiting[0]["message_id"] not in received_ids(server)

    second = remind(seeded, DAY)
    assert second["counts"]["sent"] == 1

    got = received_ids(server)
    assert_all_delivered(seeded, got)
    unanswered = {str(r.message["Message-ID"]) for r in server.received if not r.replied}
    assert len(unanswered) == 1
    # The one duplicate SMTP cannot avoid: the server kept a message and hung up unanswered.
    assert {mid: n for mid, n in got.items() if n > 1} == dict.fromkeys(unanswered, 2)


def test_a_server_answering_421_and_451_for_a_while_delays_mail_but_fails_none(
    seeded: Cli, server: SmtpServer
) -> None:
    # Busy: the next two connections are greeted with "421 try again later".
    server.refuse_sessions = 2
    for _ in range(2):
        busy = remind(seeded, DAY, ok=False)
        assert busy["counts"]["sent"] == 0
        assert "421" in busy["stopped_early"]
    outbox = ledger(seeded)
    assert outbox["counts"]["pending"] == busy["counts"]["pending"] == len(outbox["messages"])
    # The server was not available: no message used up an attempt.
    assert {m["attempts"] for m in outbox["messages"]} == {0}

    # Then 451 four times, and one 421 after which the server hangs up.
    server.fail_next_data.extend([(451, "4.3.0 Try again later")] * 4)
    server.fail_next_data.append((421, "4.3.2 Service shutting down"))
    third = remind(seeded, DAY, ok=False)
    assert third["counts"]["sent"] == 0
    assert third["stopped_early"].startswith("3 passing failures in a row")
    fourth = remind(seeded, DAY)  # 451 and 421 for two of the three, then all the rest
    assert fourth["counts"]["retrying"] == 2
    fifth = remind(seeded, DAY)
    assert fifth["counts"]["sent"] == 2
    assert server.fail_next_data == []

    got = received_ids(server)
    outbox = assert_all_delivered(seeded, got)
    assert set(got.values()) == {1}
    assert len(outbox["messages"]) == fourth["counts"]["sent"] + 2


def test_a_server_gone_for_several_runs_gets_everything_when_it_is_back(
    seeded: Cli, server: SmtpServer
) -> None:
    # It goes away in the middle of the first run…
    def go_away() -> None:
        while len(server.received) < 5:
            time.sleep(0.001)
        server.stop()

    stopper = threading.Thread(target=go_away)
    stopper.start()
    first = remind(seeded, DAY, ok=False)
    stopper.join()
    assert first["stopped_early"]
    assert 5 <= first["counts"]["sent"] < first["counts"]["planned"]
    assert ledger(seeded)["counts"]["failed"] == 0
    attempts = {m["message_id"]: m["attempts"] for m in ledger(seeded)["messages"]}

    # …and stays away for the next run, which plans more.
    second = remind(seeded, NEXT_DAY, ok=False)
    assert second["counts"]["sent"] == 0
    assert "cannot reach SMTP server" in second["stopped_early"]
    outbox = ledger(seeded)
    assert outbox["counts"]["failed"] == 0
    # Attempts are not used up while the server is away.
    assert {m["message_id"]: m["attempts"] for m in outbox["messages"]}.items() >= (
        attempts.items()
    )

    server.start()  # back, on the same port
    third = remind(seeded, NEXT_DAY)
    assert third["counts"]["planned"] == 0
    got = received_ids(server)
    assert_all_delivered(seeded, got)
    # At most the message on the wire when the server went away arrived twice.
    assert max(got.values()) <= 2
    assert sum(n - 1 for n in got.values()) <= 1


# --- the database locked or unavailable for a moment -------------------------------------


def dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return list(conn.iterdump())


def test_a_sqlite_urls_timeout_is_how_long_a_command_waits_for_a_lock(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'waits.db'}?timeout=0.2")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200
    engine.dispose()
    with pytest.raises(PlanworkerError, match="timeout 'soon' is not a number of seconds"):
        make_engine(f"sqlite:///{tmp_path / 'waits.db'}?timeout=soon")


def test_a_locked_sqlite_database_fails_runs_cleanly_and_the_next_run_catches_up(
    tmp_path: Path, server: SmtpServer
) -> None:
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}?timeout=0.2"  # wait 0.2 s for another program's lock
    cli = seeded_cli(url, tmp_path)
    use_smtp(cli, server)
    remind(cli, DAY)
    before = dump(path)
    delivered = len(server.received)
    lock = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    # Another program is writing, for longer than a command waits, when the run starts…
    lock.execute("BEGIN EXCLUSIVE")
    try:
        error = clean_error(cli("remind", "--as-of", NEXT_DAY, ok=False))
    finally:
        lock.execute("ROLLBACK")
    # The plan is found by a reader (a snapshot beside the writer); the run's first write
    # is what waits, and gives up.
    assert error == f"Error: cannot use the database {url}: database is locked"
    assert dump(path) == before
    assert len(server.received) == delivered

    # …or takes the database while the server holds the run's third message: the worker
    # cannot record the "250" it then gets.
    in_flight: list[str] = []

    def lock_while_answering(received: Received) -> None:
        if len(server.received) == delivered + 3:
            in_flight.append(str(received.message["Message-ID"]))
            lock.execute("BEGIN EXCLUSIVE")

    server.on_data = lock_while_answering
    try:
        error = clean_error(cli("remind", "--as-of", NEXT_DAY, ok=False))
        failed_at = time.monotonic()
        assert error == f"Error: cannot use the database {url}: database is locked"
        # Read while still locked: the ledger says what happened, and no more.
        rows = lock.execute("SELECT message_id, state FROM messages WHERE as_of = ?", [NEXT_DAY])
        found = dict(rows.fetchall())
    finally:
        server.on_data = None
        lock.execute("ROLLBACK")
        lock.close()
    # The message the server took is not marked sent: the worker never recorded its 250.
    # (The rest of the batch it had claimed is still claimed, but the server never saw it.)
    assert_only_in_flight_unrecorded(found, in_flight, server)

    wait_lease_out(failed_at)
    remind(cli, NEXT_DAY)
    got = received_ids(server)
    assert_all_delivered(cli, got)
    # The documented duplicate: the message whose 250 could not be recorded went again.
    assert {mid: n for mid, n in got.items() if n > 1} == dict.fromkeys(in_flight, 2)


_Coroutine = Coroutine[Any, Any, T]


class TcpProxy:
    """A TCP proxy on loopback in front of another server, which a test can cut (refuse new
    connections and break the open ones, as a failed network or server would) and restore."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self.port = 0

    def __enter__(self) -> Self:
        self._thread.start()
        self.restore()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def _call(self, coroutine: _Coroutine[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    def restore(self) -> None:
        self._call(self._listen())

    def cut(self) -> None:
        self._call(self._cut())

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, HOST, self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()
        await asyncio.sleep(0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        if self._server is None:  # cut while connecting
            writer.transport.abort()
            upstream.transport.abort()
            return
        self._links |= {writer, upstream}
        await asyncio.gather(self._pump(reader, upstream), self._pump(upstream_reader, writer))
        self._links -= {writer, upstream}

    @staticmethod
    async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except OSError:
            sink.transport.abort()
        else:
            sink.close()


@pytest.fixture
def postgres_proxy() -> Iterator[TcpProxy]:
    target = make_url(POSTGRES_URL)
    with TcpProxy(target.host or HOST, target.port or 5432) as proxy:
        yield proxy


@pytest.mark.postgres
def test_postgresql_cut_off_before_and_during_a_run_fails_it_cleanly_and_the_next_catches_up(
    postgres_url: str, postgres_proxy: TcpProxy, tmp_path: Path, server: SmtpServer
) -> None:
    # Through the proxy, with a password the server does not ask for (trust), which no
    # message may show.
    url = make_url(postgres_url).set(port=postgres_proxy.port, password="s3cret-pw")
    cli = seeded_cli(url.render_as_string(hide_password=False), tmp_path)
    use_smtp(cli, server)
    shown = url.render_as_string(hide_password=True)

    postgres_proxy.cut()
    error = clean_error(cli("remind", "--as-of", DAY, ok=False))
    assert error.startswith(f"Error: cannot open the database {shown}: connection failed")
    assert "s3cret-pw" not in error
    assert server.received == []
    postgres_proxy.restore()

    in_flight: list[str] = []

    def cut_while_answering(received: Received) -> None:
        # The third message is on the server; before the worker hears "250", the database
        # goes away.
        if len(server.received) == 3:
            in_flight.append(str(received.message["Message-ID"]))
            postgres_proxy.cut()

    server.on_data = cut_while_answering
    try:
        error = clean_error(cli("remind", "--as-of", DAY, ok=False))
    finally:
        server.on_data = None
    failed_at = time.monotonic()
    assert error.startswith(f"Error: cannot use the database {shown}: ")
    assert "s3cret-pw" not in error
    postgres_proxy.restore()
    found = states(cli)
    assert_only_in_flight_unrecorded(found, in_flight, server)

    wait_lease_out(failed_at)
    remind(cli, DAY)
    got = received_ids(server)
    assert_all_delivered(cli, got)
    assert {mid: n for mid, n in got.items() if n > 1} == dict.fromkeys(in_flight, 2)


# --- a Maildir that cannot be written --------------------------------------------------------


def maildir_ids(folder: Path) -> Counter[str]:
    assert not any((folder / "tmp").iterdir()), "a partial message was left in tmp/"
    return Counter(str(m["Message-ID"]) for m in mailbox.Maildir(folder, create=False))


def test_a_maildir_that_cannot_be_written_sends_nothing_and_the_fixed_one_gets_each_once(
    sqlite_cli: Cli,
) -> None:
    # Not with permission bits, which do not stop root: tmp/ is a file, not a folder.
    folder = sqlite_cli.maildir
    folder.mkdir()
    (folder / "tmp").write_text("not a folder\n")
    error = clean_error(sqlite_cli("remind", "--as-of", DAY, ok=False))
    assert error == f"error: cannot write to Maildir {folder}: {folder / 'tmp'}: not a folder"
    assert not (folder / "new").exists() or not any((folder / "new").iterdir())
    outbox = ledger(sqlite_cli)
    assert outbox["counts"]["pending"] == len(outbox["messages"]) > 0
    assert {m["attempts"] for m in outbox["messages"]} == {0}

    (folder / "tmp").unlink()
    sqlite_cli("remind", "--as-of", DAY)
    written = maildir_ids(folder)
    assert_all_delivered(sqlite_cli, written)
    assert set(written.values()) == {1}


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        # Writing past `limit` bytes then fails with EFBIG, as on a full disk.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.postgres
def test_a_full_disk_stops_the_run_and_only_messages_written_whole_are_marked_sent(
    postgres_url: str, tmp_path: Path
) -> None:
    # The worker may write no file beyond 16 KiB: some messages fit, the larger ones do not.
    # (The database is PostgreSQL, so the limit touches nothing but the Maildir.)
    cli = seeded_cli(postgres_url, tmp_path)
    folder = cli.maildir
    full = subprocess.run(
        [sys.executable, "-m", "worker", "remind", "--as-of", DAY],
        env={**os.environ, **cli.environment()},
        cwd=ROOT,
        capture_output=True,
        text=True,
        preexec_fn=_file_size_limit(16 * 1024),
        timeout=120,
    )
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr
    assert f"error: cannot write to Maildir {folder}: File too large" in full.stderr.splitlines()

    found = states(cli)
    written = maildir_ids(folder)
    sent = {mid for mid, state in found.items() if state == "sent"}
    assert set(written) == sent  # marked sent exactly when written whole
    assert set(written.values()) == {1}
    assert 0 < len(sent) < len(found)
    assert set(found.values()) == {"sent", "pending"}

    cli("remind", "--as-of", DAY)  # room again
    written = maildir_ids(folder)
    assert_all_delivered(cli, written)
    assert set(written.values()) == {1}
