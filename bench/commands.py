"""Benchmark of the real commands, each run as a process the way an admin or cron runs it.

For each size (default 10k and 100k actions) and database (a SQLite file in a temporary
folder; a fresh PostgreSQL database, dropped afterwards), bench/generate.py writes a synthetic
plan as import CSV with its contacts directory, and for each delivery mode (a Maildir
folder; a minimal SMTP sink on loopback, in a process of its own) this script runs, each as
a separate `python -m worker` process of this checkout with its settings in the environment
(PLANWORKER_DATABASE_URL, PLANWORKER_CONTACTS_FILE, PLANWORKER_CONFIG="" and the mail
settings; started in a temporary folder, so no config file is found):

    db upgrade                         not timed: an empty migrated database
    plan import PLAN.csv               the whole plan into it
    remind --as-of DAY                 the first run, with an empty ledger
    remind --as-of NEXT                the next working day, the ledger holding the first run
    escalate --as-of NEXT
    digest --as-of NEXT

Each command's wall time, CPU (user + system) and peak resident memory come from the OS
(os.wait4 on the child), and on PostgreSQL the server's CPU during the command (utime +
stime from /proc of the backends serving the run's own database, sampled every 50 ms; the
JSON also has the whole server's, exited backends included). Messages are the "N sent" of
the command's "delivered to ..." line; in SMTP mode the sink also counts them and times the
first to the last.

On PostgreSQL it also starts two `remind` processes at once on one database and date and
compares the time until both finish with one process on a fresh copy of the same plan; the
two together must send each message once (the ledger's count equals the single run's).

    .venv/bin/python bench/commands.py                                # 10k and 100k
    .venv/bin/python bench/commands.py --sizes 10k --backends sqlite --modes maildir
    .venv/bin/python bench/commands.py --sizes 100k --json var/bench/commands.json
    .venv/bin/python bench/commands.py --sizes 100k --backends postgresql --modes ""  # pairs

(`bench/commands.py serve-sink` is the SMTP sink's own process.)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    AS_OF,
    DEFAULT_PG,
    PYTHON,
    _clean_env,
    compiled,
    database,
    leads_for,
    machine,
    next_working_day,
    parse_size,
)

MODES = ("maildir", "smtp")
COMMANDS = (
    "import",
    "remind",
    "remind next",
    "escalate",
    "digest",
    "export csv",
    "export yaml",
    "export xlsx",
)
SENT = re.compile(r"^\s*delivered to .*: (\d+) sent, (\d+) failed", re.M)
ERROR_LINE = re.compile(r"^(Error: |[\w.]*(Error|Exception|Violation)\b)")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    command: str
    size: int
    backend: str
    mode: str
    wall_s: float | None = None
    cpu_s: float | None = None
    peak_rss_mb: float | None = None
    messages: int | None = None
    msg_per_s: float | None = None
    pg_server_cpu_s: float | None = None
    status: str = "ok"
    note: str = ""
    reproduce: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Child:
    argv: list[str]
    wall: float = 0.0
    cpu: float = 0.0
    rss_mb: float = 0.0
    returncode: int | None = None
    timed_out: bool = False
    stdout: str = ""
    stderr: str = ""

    def problem(self) -> str:
        """Empty when it worked; else "timeout" or "failed (exit N): the error line"."""
        if self.timed_out:
            return "timeout"
        if self.returncode == 0:
            return ""
        lines = self.stderr.strip().splitlines()
        # The exception's own line (a traceback's last lines are often SQL parameters).
        errors = [ln for ln in lines if ERROR_LINE.match(ln)]
        tail = (errors or lines or ["no output on stderr"])[-1]
        return f"failed (exit {self.returncode}): {tail[:300]}"

    def sent(self) -> int | None:
        """Messages sent, from the summary line ("delivered to ...: N sent, F failed")."""
        found = SENT.findall(self.stdout)
        return sum(int(sent) for sent, _ in found) if found else None


# --- processes ---------------------------------------------------------------------------


def run_measured(
    argvs: Sequence[Sequence[str]], env: dict[str, str], cwd: Path, timeout: float
) -> tuple[list[Child], float]:
    """Start every argv at once and wait for all; each child's own wall time, CPU and
    peak RSS (os.wait4), and the wall time until the last one finished. A child still
    running after `timeout` seconds is killed (its process group) and marked timed out."""
    children = [Child(list(argv)) for argv in argvs]
    outputs = []
    files = ExitStack()
    procs: list[subprocess.Popen[bytes]] = []
    threads = []
    began = time.perf_counter()
    for child in children:
        out = files.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 (closed by files)
        err = files.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
        outputs.append((out, err))
        procs.append(
            subprocess.Popen(
                child.argv, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True
            )
        )

    def reap(child: Child, proc: subprocess.Popen[bytes]) -> None:
        _, status, usage = os.wait4(proc.pid, 0)
        child.wall = time.perf_counter() - began
        child.cpu = usage.ru_utime + usage.ru_stime
        child.rss_mb = usage.ru_maxrss / 1024  # KiB on Linux
        child.returncode = os.waitstatus_to_exitcode(status)
        proc.returncode = child.returncode  # reaped here: Popen must not wait again

    for child, proc in zip(children, procs, strict=True):
        thread = threading.Thread(target=reap, args=(child, proc), daemon=True)
        thread.start()
        threads.append(thread)
    deadline = began + timeout
    for child, proc, thread in zip(children, procs, threads, strict=True):
        thread.join(max(0.0, deadline - time.perf_counter()))
        if thread.is_alive():
            child.timed_out = True
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            thread.join()
    together = time.perf_counter() - began
    for child, (out, err) in zip(children, outputs, strict=True):
        for stream, name in ((out, "stdout"), (err, "stderr")):
            stream.seek(0)
            setattr(child, name, stream.read().decode("utf-8", "replace"))
    files.close()
    return children, together


def _postgres_processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (utime + stime, cutime + cstime, command line) of every `postgres` process,
    in clock ticks."""
    found: dict[int, tuple[int, int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if stat[stat.find("(") + 1 : stat.rfind(")")] != "postgres":
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        # fields[11..14]: utime, stime, cutime, cstime (the 14th to 17th of /proc/pid/stat)
        own, reaped = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
        found[int(entry.name)] = (own, reaped, cmdline)
    return found


@contextmanager
def pg_server_cpu(database_name: str | None) -> Iterator[dict[str, float]]:
    """The PostgreSQL server's CPU seconds while the body runs.

    result["seconds"]: the backends serving `database_name` (the benchmark's own database,
    so other users of the server do not count), sampled every 50 ms because they exit with
    their client: a backend's last 50 ms may be missed. result["all_seconds"]: every
    `postgres` process, backends that exited included (their times are in the postmaster's
    cutime + cstime), whoever they served. The end is taken once the processes that appeared
    meanwhile have gone (at most 2 s)."""
    result: dict[str, float] = {}
    if not database_name or not Path("/proc").is_dir():
        yield result
        return
    marker = f" {database_name} "
    before = _postgres_processes()
    ours: dict[int, int] = {}
    done = threading.Event()

    def sample() -> dict[int, tuple[int, int, str]]:
        now = _postgres_processes()
        for pid, (own, _, cmdline) in now.items():
            if marker in cmdline:
                ours[pid] = own
        return now

    def sampler() -> None:
        while not done.wait(0.05):
            sample()

    thread = threading.Thread(target=sampler, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        give_up = time.perf_counter() + 2.0
        after = sample()
        while set(after) - set(before) and time.perf_counter() < give_up:
            time.sleep(0.05)
            after = sample()
        done.set()
        thread.join()
    start = sum(before[pid][0] for pid in ours if pid in before)
    result["seconds"] = (sum(ours.values()) - start) / CLOCK_TICKS
    total = sum(own + reaped for own, reaped, _ in after.values())
    result["all_seconds"] = (total - sum(o + r for o, r, _ in before.values())) / CLOCK_TICKS


@contextmanager
def fresh_database(
    backend: str, folder: Path, name: str, pg_url: str
) -> Iterator[tuple[str, str | None]]:
    """An empty database and, on PostgreSQL, its name: a SQLite file (bench/run.py's
    `database`), or a PostgreSQL database of its own (so its backends can be told from the
    server's other clients), dropped afterwards."""
    if backend == "sqlite":
        with database(backend, folder, name, pg_url) as url:
            yield url, None
        return
    from sqlalchemy import create_engine, make_url, text

    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    dbname = f"bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{dbname}"'))
    try:
        yield make_url(pg_url).set(database=dbname).render_as_string(hide_password=False), dbname
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{dbname}" WITH (FORCE)'))
        admin.dispose()


# --- one database's sequence of commands ------------------------------------------------


def command_env(
    url: str, contacts: Path, mode: str, where: Path, port: int | None
) -> dict[str, str]:
    env = _clean_env()
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PLANWORKER_DATABASE_URL": url,
            "PLANWORKER_CONTACTS_FILE": str(contacts),
            "PLANWORKER_CONFIG": "",
            "PLANWORKER_MAIL__MAILDIR": str(where / "outbox"),
        }
    )
    if mode == "smtp":
        env.update(
            {
                "PLANWORKER_MAIL__BACKEND": "smtp",
                "PLANWORKER_SMTP__HOST": "127.0.0.1",
                "PLANWORKER_SMTP__PORT": str(port),
                "PLANWORKER_SMTP__SECURITY": "none",
            }
        )
    else:
        env["PLANWORKER_MAIL__BACKEND"] = "maildir"
    return env


def shell_line(env: dict[str, str], args: Sequence[str]) -> str:
    """The command as one shell line, with the settings this script gave it."""
    settings = [
        f"{k}={shlex.quote(v)}"
        for k, v in env.items()
        if k.startswith("PLANWORKER_") or k == "PYTHONPATH"
    ]
    line = " ".join([*settings, "python -m worker", *map(shlex.quote, args)])
    # The run's temporary folder and PostgreSQL database are gone afterwards.
    line = re.sub(r"/bench_[0-9a-f]{10}\b", "/$DATABASE", line)
    return re.sub(re.escape(tempfile.gettempdir()) + r"/planworker-commands-\w+", "$DIR", line)


def worker(*args: str) -> list[str]:
    return [PYTHON, "-m", "worker", *args]


def outbox_count(url: str) -> int | None:
    """Messages in the ledger (the `messages` table)."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url)
        with engine.connect() as conn:
            count = int(conn.execute(text("SELECT count(*) FROM messages")).scalar_one())
        engine.dispose()
        return count
    except Exception as exc:  # reported, not raised: the benchmark goes on
        print(f"  could not count the outbox: {exc}", file=sys.stderr)
        return None


def _timed(
    row: Row,
    args: Sequence[str],
    env: dict[str, str],
    cwd: Path,
    timeout: float,
    dbname: str | None,
) -> Child:
    with pg_server_cpu(dbname) as server:
        (child,), _ = run_measured([worker(*args)], env, cwd, timeout)
    row.reproduce = shell_line(env, args)
    row.wall_s, row.cpu_s, row.peak_rss_mb = child.wall, child.cpu, child.rss_mb
    row.pg_server_cpu_s = server.get("seconds")
    if "all_seconds" in server:
        row.extra["pg_server_cpu_all_s"] = server["all_seconds"]
    problem = child.problem()
    if problem:
        row.status = problem
    if row.command.startswith("export"):
        written = cwd / row.command.replace("export ", "plan.")
        if written.exists():
            row.note = f"{written.stat().st_size / 1e6:,.0f} MB written"
            written.unlink()
    elif row.command != "import":
        row.messages = child.sent()
        if row.messages is not None and child.wall:
            row.msg_per_s = row.messages / child.wall
    print(
        f"  {row.backend} {row.size:,} {row.mode} {row.command}: {child.wall:.2f} s wall, "
        f"{child.cpu:.2f} s CPU, {child.rss_mb:.0f} MB, {row.messages} sent"
        + (f" [{problem[:200]}]" if problem else ""),
        file=sys.stderr,
    )
    return child


def _untimed(args: Sequence[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    (child,), _ = run_measured([worker(*args)], env, cwd, timeout)
    return child.problem()


def _sink_note(row: Row, received: int, span: float) -> None:
    """The sink's count, and its rate from the first message to the last (from 10)."""
    row.extra.update(sink_received=received, sink_span_s=span)
    row.note = f"sink received {received:,}"
    if received >= 10 and span > 0:
        row.extra["sink_msg_per_s"] = received / span
        row.note += f", {received / span:,.0f} msg/s first to last"


def run_sequence(
    size: int,
    backend: str,
    mode: str,
    files: tuple[Path, Path],
    options: argparse.Namespace,
    folder: Path,
) -> list[Row]:
    csv_file, contacts = files
    day, next_day = options.as_of.isoformat(), next_working_day(options.as_of).isoformat()
    plan: list[tuple[str, list[str]]] = [
        ("import", ["plan", "import", str(csv_file), "--json"]),
        ("remind", ["remind", "--as-of", day]),
        ("remind next", ["remind", "--as-of", next_day]),
        ("escalate", ["escalate", "--as-of", next_day]),
        ("digest", ["digest", "--as-of", next_day]),
        *(
            (f"export {fmt}", ["plan", "export", "--format", fmt, "-o", f"plan.{fmt}"])
            for fmt in ("csv", "yaml", "xlsx")
        ),
    ]
    rows = [Row(name, size, backend, mode) for name, _ in plan]
    where = folder / f"{backend}-{mode}"
    where.mkdir()
    with (
        fresh_database(backend, folder, f"{backend}-{mode}", options.pg_url) as (url, dbname),
        sink(mode) as srv,
    ):
        env = command_env(url, contacts, mode, where, srv.port if srv else None)
        problem = _untimed(["db", "upgrade"], env, where, options.timeout)
        stop = f"skipped: db upgrade {problem}" if problem else ""
        for row, (_, args) in zip(rows, plan, strict=True):
            if stop:
                row.status = stop
                continue
            child = _timed(row, args, env, where, options.timeout, dbname)
            if srv:
                _sink_note(row, *srv.tally())
            if row.command == "import" and not child.problem():
                with suppress(ValueError, KeyError):
                    row.note = f"{json.loads(child.stdout)['added']:,} actions added"
            if row.status != "ok" and row.command == "import":
                stop = "skipped: the import did not finish"
        count = outbox_count(url)
        for row in rows:
            row.extra["outbox_after_all"] = count
        shutil.rmtree(where / "outbox", ignore_errors=True)
    return rows


class _TimedTally:
    """bench/steps.py's sink tally, also noting when the first and last message arrived."""

    def __init__(self) -> None:
        self.size = 0
        self.count = 0
        self.first = self.last = 0.0

    @property
    def messages(self) -> int:
        return self.count

    @messages.setter
    def messages(self, value: int) -> None:
        self.last = time.perf_counter()
        if not self.count:
            self.first = self.last
        self.count = value

    def take(self) -> str:
        """The count and span since the last take, then start again."""
        line = f"TALLY {self.count} {self.size} {self.last - self.first:.6f}"
        self.count = self.size = 0
        return line


def serve_sink() -> None:
    """bench/steps.py's minimal SMTP sink; each line on stdin prints the messages and their
    span since the previous line ("TALLY count bytes seconds"); it ends when stdin closes."""
    from bench.steps import start_sink

    tally = _TimedTally()
    print(f"PORT {start_sink(tally)}", flush=True)
    for _ in sys.stdin:
        print(tally.take(), flush=True)


class Sink:
    """The sink's process, seen from here: its port, and a tally per command."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [PYTHON, str(Path(__file__).resolve()), "serve-sink"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=_clean_env(),
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.close()
            raise RuntimeError(f"the SMTP sink did not start: {line!r}")
        self.port = int(line.split()[1])
        self.received = 0

    def tally(self) -> tuple[int, float]:
        """Messages received since the last tally, and seconds from the first to the last."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        _, count, _, span = self.process.stdout.readline().split()
        self.received += int(count)
        return int(count), float(span)

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def sink(mode: str) -> Iterator[Sink | None]:
    if mode != "smtp":
        yield None
        return
    server = Sink()
    try:
        yield server
    finally:
        server.close()


# --- two workers on one PostgreSQL database ---------------------------------------------


def generate(url: str, size: int, options: argparse.Namespace, cwd: Path) -> str:
    """bench/generate.py straight into a database; "" or why it failed."""
    args = [PYTHON, str(BENCH / "generate.py"), "--url", url, "--actions", str(size)]
    args += ["--leads", str(_leads(options, size)), "--seed", str(options.seed)]
    (child,), _ = run_measured([args], _clean_env(), cwd, max(options.timeout, 1800))
    return child.problem()


def mirror_contacts(url: str, contacts: Path) -> str:
    """Copy the contacts directory into the database, as every job's first step does
    (`worker.store.contacts.sync_directory`); "" or why not."""
    from sqlalchemy.orm import Session

    from worker.contacts import load_directory
    from worker.db import make_engine
    from worker.store.contacts import sync_directory

    try:
        engine = make_engine(url)
        with Session(engine) as session:
            sync_directory(session, load_directory(contacts))
            session.commit()
        engine.dispose()
    except Exception as exc:  # reported in the row
        return f"mirroring the contacts failed: {exc.__class__.__name__}: {exc}"
    return ""


PAIRS = (
    ("remind, 1 worker", 1, False),
    # Both workers find the contacts directory not yet in the database (a first run, or the
    # first after the file changed) and both copy it in.
    ("remind, 2 workers, fresh database", 2, False),
    # The steady state: the directory is already in the database.
    ("remind, 2 workers, contacts stored", 2, True),
)


def two_workers(size: int, contacts: Path, options: argparse.Namespace, folder: Path) -> list[Row]:
    """One `remind` on a fresh copy of the plan, then two at once on another fresh copy
    (twice: with and without the contacts directory already in the database)."""
    args = ["remind", "--as-of", options.as_of.isoformat()]
    rows: list[Row] = []
    single_count: int | None = None
    single_wall: float | None = None
    for name, workers, mirrored in PAIRS:
        row = Row(name, size, "postgresql", "smtp")
        rows.append(row)
        where = folder / f"workers-{len(rows)}"
        where.mkdir()
        with fresh_database("postgresql", folder, "pair", options.pg_url) as (url, dbname):
            problem = generate(url, size, options, where)
            if not problem and mirrored:
                problem = mirror_contacts(url, contacts)
            if problem:
                row.status = f"generate.py {problem}"
                continue
            with sink("smtp") as server:
                assert server is not None
                env = command_env(url, contacts, "smtp", where, server.port)
                with pg_server_cpu(dbname) as pg:
                    children, together = run_measured(
                        [worker(*args)] * workers, env, where, options.timeout
                    )
                received, span = server.tally()
            count = outbox_count(url)
        row.reproduce = " & ".join([shell_line(env, args)] * workers)
        row.wall_s = together
        row.cpu_s = sum(c.cpu for c in children)
        row.peak_rss_mb = max(c.rss_mb for c in children)
        row.pg_server_cpu_s = pg.get("seconds")
        sent = [c.sent() for c in children]
        row.messages = sum(s or 0 for s in sent)
        row.msg_per_s = row.messages / together if together else None
        problems = [c.problem() for c in children if c.problem()]
        if problems:
            row.status = "; ".join(problems)
        row.extra = {
            "sent_each": sent,
            "wall_each": [c.wall for c in children],
            "cpu_each": [c.cpu for c in children],
            "rss_each_mb": [c.rss_mb for c in children],
            "outbox_count": count,
            "sink_received": received,
            "sink_span_s": span,
            "pg_server_cpu_all_s": pg.get("all_seconds"),
        }
        if workers == 1:
            single_count, single_wall = count, together
            row.note = f"ledger {count}, sink received {received}"
        else:
            same = count == single_count and received == count and row.messages == count
            each = " + ".join("failed" if n is None else str(n) for n in sent)
            row.note = (
                f"sent {each}; ledger {count} (one worker: {single_count}), sink received "
                f"{received}: " + ("each message once" if same else "MISMATCH")
            )
            if single_wall:
                row.note += f"; {together / single_wall:.2f}× one worker's wall time"
            row.extra["each_once"] = same
        print(
            f"  postgresql {size:,} {row.command}: {row.wall_s:.2f} s, {row.note}", file=sys.stderr
        )
    return rows


# --- the whole run -----------------------------------------------------------------------


def _leads(options: argparse.Namespace, size: int) -> int:
    return leads_for(size) if options.leads == "auto" else int(options.leads)


def machine_full() -> dict[str, str]:
    """bench/run.py's machine() with the CPU model and memory."""
    info = machine()
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
        info["cpu"] = model.group(1).strip() if model else "unknown"
        meminfo = Path("/proc/meminfo").read_text()
        total = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
        info["memory"] = f"{int(total.group(1)) / 1024 / 1024:.1f} GiB" if total else "unknown"
    except OSError:
        pass
    return info


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def markdown(rows: Sequence[Row]) -> str:
    lines = [
        "| # | command | size | backend | mode | wall s | CPU s | peak RSS MB | messages "
        "| msg/s | PG server CPU s | notes |",
        "|---:|---|---:|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for n, r in enumerate(rows, 1):
        notes = r.note if r.status == "ok" else f"**{r.status}** {r.note}".strip()
        lines.append(
            f"| {n} | {r.command} | {r.size:,} | {r.backend} | {r.mode} | {_num(r.wall_s)} "
            f"| {_num(r.cpu_s)} | {_num(r.peak_rss_mb, 0)} "
            f"| {'—' if r.messages is None else f'{r.messages:,}'} | {_num(r.msg_per_s, 1)} "
            f"| {_num(r.pg_server_cpu_s)} | {notes.replace('|', '/')} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10k,100k", help="actions, e.g. 10k,100k,1m")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--modes", default=",".join(MODES), help="maildir, smtp or both")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="PostgreSQL server (a database each)")
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF)
    parser.add_argument(
        "--leads", default="auto", help="lead roles: a number, or auto (one per 200 actions)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900, help="time box per command, s")
    parser.add_argument(
        "--no-two-workers",
        dest="two_workers",
        action="store_false",
        help="skip the two `remind` processes on one PostgreSQL database",
    )
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    if (sys.argv[1:] if argv is None else list(argv))[:1] == ["serve-sink"]:
        serve_sink()
        return 0
    options = parser.parse_args(argv)
    compiled(ROOT)
    sizes = [parse_size(s) for s in options.sizes.split(",") if s.strip()]
    backends = [b.strip() for b in options.backends.split(",") if b.strip()]
    modes = [m.strip() for m in options.modes.split(",") if m.strip()]
    if set(backends) - {"sqlite", "postgresql"} or set(modes) - set(MODES):
        parser.error("backends: sqlite, postgresql; modes: maildir, smtp")

    rows: list[Row] = []
    began = time.perf_counter()
    for size in sizes:
        folder = Path(tempfile.mkdtemp(prefix="planworker-commands-"))
        try:
            files = folder / "plan.csv", folder / "contacts.toml"
            generated = [PYTHON, str(BENCH / "generate.py"), "--actions", str(size)]
            generated += ["--leads", str(_leads(options, size)), "--seed", str(options.seed)]
            generated += ["--contacts", str(files[1]), "--csv", str(files[0])]
            (child,), _ = run_measured([generated], _clean_env(), folder, 1800)
            if child.problem():
                print(f"generate.py {child.problem()}", file=sys.stderr)
                continue
            print(f"{size:,} actions, {_leads(options, size):,} lead roles", file=sys.stderr)
            for backend in backends:
                for mode in modes:
                    rows += run_sequence(size, backend, mode, files, options, folder)
                if backend == "postgresql" and options.two_workers:
                    rows += two_workers(size, files[1], options, folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    info = machine_full()
    print(
        f"as of {options.as_of.isoformat()} (remind), next working day "
        f"{next_working_day(options.as_of).isoformat()} (remind next, escalate, digest)\n"
    )
    print(markdown(rows))
    print("\nMachine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(
        "\nEach row's command ($DIR: the run's temporary folder, $DATABASE: its PostgreSQL "
        "database, both removed afterwards):\n"
    )
    for n, row in enumerate(rows, 1):
        print(f"{n}. `{row.reproduce}`")
    bench_line = [sys.argv[0], *(sys.argv[1:] if argv is None else argv)]
    print(f"\nThis table: `python {' '.join(map(shlex.quote, bench_line))}`")
    total = time.perf_counter() - began
    print(f"(total {total / 60:.1f} min)")
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "machine": info,
            "options": {k: str(v) for k, v in vars(options).items()},
            "rows": [asdict(r) for r in rows],
            "total_seconds": total,
        }
        options.json.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    return 0 if all(r.status == "ok" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
