"""Scale benchmarks of planworker: import, the daily reminder run and SMTP delivery.

For each size (default 10k and 100k actions) and database (a SQLite file in a temporary
folder; a fresh PostgreSQL schema, dropped afterwards) it generates a synthetic plan
(bench/generate.py) and measures, each in a fresh process (bench/steps.py):

    import   `planworker plan import` of the same plan as CSV into an empty database
    decide   the day's reminder decision (`worker.remind.decide`) for one date in the plan
    render   rendering the decided digests (`worker.remind.render`)
    record   writing them to the outbox ledger (`worker.store.outbox.record` and the commit)
    daily    the whole planning run, decide + render + record (`plan_messages`), with an
             empty ledger (the first run: every overdue action is due a reminder)
    next     the same on the next working day, the ledger holding the first run's items
             (the steady state of a service that runs every working day)
    deliver  sending the outbox to a loopback SMTP server (tests/smtp_server.py, in a
             process of its own) over one reused connection (`deliver` with `SmtpMailer`),
             and the same messages sent without the outbox ("send only")

and `planworker --help` (median of 10). Each step's wall time and the peak resident memory
of its process (ru_maxrss) are printed as a Markdown table.

    .venv/bin/python bench/run.py                          # 10k and 100k, SQLite and PG
    .venv/bin/python bench/run.py --sizes 1m --backends sqlite --steps daily
    .venv/bin/python bench/run.py --json var/bench.json --profile-dir var/profiles
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import csv_paths  # noqa: E402

PYTHON = sys.executable
STEPS = ("import", "decide", "render", "record", "daily", "next", "deliver")
AS_OF = date(2012, 11, 15)  # a Thursday in the synthetic plan's life
DEFAULT_PG = os.environ.get(
    "PLANWORKER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# Targets (docs/benchmarks.md).
TARGET_DAILY_SECONDS = 30.0
TARGET_DAILY_MB = 300.0
TARGET_SMTP_RATE = 500.0
TARGET_HELP_SECONDS = 0.3
# A small plan with many leads: each lead's digest holds one to three actions.
TYPICAL_ACTIONS, TYPICAL_LEADS = 2000, 400


@dataclass
class Row:
    backend: str
    actions: int
    streams: int
    step: str
    seconds: float | None = None
    rate: str = ""
    peak_mb: float | None = None
    before_mb: float | None = None
    detail: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    for suffix, factor in (("k", 1_000), ("m", 1_000_000)):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


def streams_for(text: str, actions: int) -> int:
    """Work streams per plan: a number, or "auto": about 1,000 actions each (9, the real
    plan's count, when that would give fewer than 20)."""
    if text != "auto":
        return int(text)
    return actions // 1000 if actions // 1000 >= 20 else 9


def leads_for(actions: int) -> int:
    """Lead roles in the synthetic directory: about one per 200 actions, 40 to 5000."""
    return max(40, min(5000, actions // 200))


def next_working_day(day: date) -> date:
    from worker.rules.workdays import WorkingDays

    return WorkingDays().on_or_after(day + timedelta(days=1))


def compiled(code: Path) -> None:
    """Compile the checkout's modules to bytecode first, as `pip install .` does: a run then
    times planworker, not Python compiling it. (A shell with PYTHONDONTWRITEBYTECODE set, as
    on the benchmark machine, otherwise compiles its ~125 modules again on every run.)"""
    compileall.compile_dir(code / "worker", quiet=1)


def _clean_env() -> dict[str, str]:
    # The children read settings from their arguments only, never from this shell.
    return {k: v for k, v in os.environ.items() if not k.startswith("PLANWORKER_")}


def run_child(args: Sequence[str], timeout: float) -> tuple[dict[str, Any] | None, str]:
    """Run a step process; its RESULT, or None and why not."""
    try:
        done = subprocess.run(
            [PYTHON, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_clean_env(),
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return None, f"stopped after {timeout:.0f} s (time box)"
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :]), ""
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return None, f"failed (exit {done.returncode}): {tail[:200]}"


@contextmanager
def database(backend: str, folder: Path, name: str, pg_url: str) -> Iterator[str]:
    """An empty database: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        path = folder / f"{name}.db"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in pg_url else "?"
    try:
        yield f"{pg_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def smtp_server(kind: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """An SMTP server on loopback in a process of its own (so it does not share the
    client's GIL): "serve-smtp" (tests/smtp_server.py) or "serve-sink" (bench/steps.py)."""
    server = subprocess.Popen(
        [PYTHON, str(BENCH / "steps.py"), kind],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_clean_env(),
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the SMTP server did not start: {line!r}")
        yield int(line.split()[1]), server
    finally:
        if server.poll() is None:
            assert server.stdin is not None
            if not server.stdin.closed:
                server.stdin.close()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _received(server: subprocess.Popen[str]) -> int:
    """How many messages a server process says it received (it reports when stdin closes)."""
    assert server.stdin is not None and server.stdout is not None
    server.stdin.close()
    out = server.stdout.read()
    server.wait(timeout=60)
    line = next((ln for ln in out.splitlines() if ln.startswith("RECEIVED")), "RECEIVED 0 0")
    return int(line.split()[1])


def _rate(count: float, seconds: float | None, unit: str) -> str:
    if not seconds:
        return ""
    return f"{count / seconds:,.0f} {unit}/s"


def _row(
    backend: str,
    actions: int,
    streams: int,
    step: str,
    result: dict[str, Any] | None,
    why: str,
    measured: int,
) -> Row:
    """A table row from a step's result; rates count the `measured` plan's actions."""
    row = Row(backend, actions, streams, step, detail=why)
    if result is None:
        return row
    row.raw = result
    row.seconds = result.get("seconds")
    row.peak_mb = result.get("rss_peak_mb")
    row.before_mb = result.get("rss_before_mb")
    if step == "import":
        row.rate = _rate(result.get("added", 0), row.seconds, "rows")
        row.detail = f"{result.get('added', 0):,} actions added"
    elif step in ("decide", "render", "record", "daily", "next"):
        row.rate = _rate(measured, row.seconds, "actions")
        row.detail = f"{result.get('messages', 0):,} messages, {result.get('items', 0):,} items"
        if "content_mb" in result:
            row.detail += f", {result['content_mb']} MB"
        if step == "next":
            row.detail += f" (ledger held {result.get('ledger_items_before', 0):,})"
    elif step == "deliver":
        row.rate = _rate(result.get("sent", 0), row.seconds, "msgs")
        count = result.get("send_only", 0)
        row.detail = (
            f"{result.get('sent', 0):,} sent ({result.get('copied', 0):,} copies), "
            f"mean {result.get('mean_message_kb', 0)} KB; send only: "
            f"{_rate(count, result.get('send_only_seconds'), 'msgs')}"
        )
        if "sink_seconds" in result:
            row.detail += (
                f"; to a minimal sink: deliver "
                f"{_rate(result.get('sink_sent', 0), result['sink_seconds'], 'msgs')}, "
                f"send only {_rate(count, result.get('sink_send_only_seconds'), 'msgs')}"
            )
    if "tracemalloc_peak_mb" in result:
        row.detail += f"; tracemalloc peak {result['tracemalloc_peak_mb']} MB"
    return row


def measure_size(
    backend: str,
    actions: int,
    streams: int,
    options: argparse.Namespace,
    folder: Path,
    files: tuple[Path, Path],
    with_import: bool,
) -> list[Row]:
    csv_file, contacts = files
    rows: list[Row] = []
    common = ["--contacts", str(contacts)]
    extra = ["--tracemalloc"] if options.tracemalloc else []
    timeout = options.timeout

    def step(name: str, url: str, *more: str) -> Row:
        # The import is not a daily job and has no target; it gets a longer box.
        box = options.import_timeout if name == "import" else timeout
        profile = []
        if options.profile_dir:
            options.profile_dir.mkdir(parents=True, exist_ok=True)
            target = options.profile_dir / f"{backend}-{actions}-ws{streams}-{name}.prof"
            profile = ["--profile", str(target)]
        command = name if name != "next" else "daily"
        result, why = run_child(
            [str(BENCH / "steps.py"), command, "--url", url, *common, *more, *extra, *profile],
            box,
        )
        measured = -(-actions // options.plans)  # the first plan: the largest share
        row = _row(backend, actions, streams, name, result, why, measured)
        print(
            f"  {backend} {actions:,} ws={streams} {name}: {row.seconds} s {row.detail}",
            file=sys.stderr,
        )
        rows.append(row)
        return row

    if with_import and "import" in options.steps:
        with database(backend, folder, "import", options.pg_url) as url:
            step("import", url, "--csv", str(csv_file), "--plan", "bench-import")
    wanted = [s for s in STEPS if s != "import" and s in options.steps]
    if not wanted:
        return rows
    with database(backend, folder, "plan", options.pg_url) as url:
        began = time.perf_counter()
        generated = subprocess.run(
            [
                PYTHON,
                str(BENCH / "generate.py"),
                "--url",
                url,
                "--actions",
                str(actions),
                "--plans",
                str(options.plans),
                "--work-streams",
                str(streams),
                "--leads",
                str(options.leads or leads_for(actions)),
                "--seed",
                str(options.seed),
            ],
            capture_output=True,
            text=True,
            env=_clean_env(),
            cwd=ROOT,
            timeout=max(timeout, 1800),
        )
        if generated.returncode != 0:
            raise RuntimeError(f"generate.py failed: {generated.stderr[-2000:]}")
        took = time.perf_counter() - began
        rows.append(
            Row(
                backend,
                actions,
                streams,
                "generate",
                round(took, 2),
                _rate(actions, took, "actions"),
                detail="bench/generate.py, bulk " + ("COPY" if backend != "sqlite" else "insert"),
            )
        )
        stop = ""
        for name in ("decide", "render", "record", "daily", "next"):
            if name not in wanted and not (name == "daily" and "deliver" in wanted):
                continue
            if stop:
                rows.append(Row(backend, actions, streams, name, detail=stop))
                continue
            day = next_working_day(options.as_of) if name == "next" else options.as_of
            if step(name, url, "--as-of", day.isoformat()).seconds is None:
                # Every later step decides too: it would only run into the same time box.
                stop = f"skipped: {name} did not finish"
        if "deliver" in wanted and stop:
            rows.append(Row(backend, actions, streams, "deliver", detail=stop))
        elif "deliver" in wanted:
            with smtp_server("serve-smtp") as (port, server), smtp_server("serve-sink") as sink:
                ports = ["--port", str(port), "--sink-port", str(sink[0])]
                row = step("deliver", url, *ports, "--messages", str(options.smtp_messages))
                row.detail += f"; servers received {_received(server):,} and {_received(sink[1]):,}"
    return rows


def measure_typical(backend: str, options: argparse.Namespace) -> list[Row]:
    """Delivery of messages of the size a lead usually gets (a digest of one to three
    actions): a small plan with many leads, its first daily run, topped up to
    --smtp-messages, to the same two servers."""
    actions, leads = TYPICAL_ACTIONS, TYPICAL_LEADS
    folder = Path(tempfile.mkdtemp(prefix="planworker-bench-"))
    try:
        contacts = folder / "contacts.toml"
        with database(backend, folder, "typical", options.pg_url) as url:
            subprocess.run(
                [
                    PYTHON,
                    str(BENCH / "generate.py"),
                    "--url",
                    url,
                    "--actions",
                    str(actions),
                    "--leads",
                    str(leads),
                    "--seed",
                    str(options.seed),
                    "--contacts",
                    str(contacts),
                ],
                check=True,
                capture_output=True,
                cwd=ROOT,
                env=_clean_env(),
            )
            common = ["--url", url, "--contacts", str(contacts)]
            day = ["--as-of", options.as_of.isoformat()]
            run_child([str(BENCH / "steps.py"), "daily", *common, *day], options.timeout)
            with smtp_server("serve-smtp") as (port, server), smtp_server("serve-sink") as sink:
                result, why = run_child(
                    [
                        str(BENCH / "steps.py"),
                        "deliver",
                        *common,
                        "--port",
                        str(port),
                        "--sink-port",
                        str(sink[0]),
                        "--messages",
                        str(options.smtp_messages),
                    ],
                    options.timeout,
                )
                row = _row(backend, actions, 9, "deliver", result, why, actions)
                row.step = "deliver (typical messages)"
                row.detail += (
                    f"; {leads} leads; servers received {_received(server):,} "
                    f"and {_received(sink[1]):,}"
                )
        print(f"  {backend} typical deliver: {row.seconds} s {row.detail}", file=sys.stderr)
        return [row]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def help_time(runs: int) -> dict[str, float]:
    planworker = Path(PYTHON).with_name("planworker")
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([str(planworker), "--help"], capture_output=True, check=True, cwd=ROOT)
        times.append(time.perf_counter() - began)
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


def machine() -> dict[str, str]:
    info = {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": str(os.cpu_count()),
    }
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(DEFAULT_PG)
        with engine.connect() as conn:
            info["postgresql"] = str(conn.execute(text("SHOW server_version")).scalar_one())
        engine.dispose()
    except Exception as exc:  # only informational
        info["postgresql"] = f"unavailable: {exc.__class__.__name__}"
    return info


def markdown(rows: Sequence[Row]) -> str:
    lines = [
        "| database | actions | work streams | step | wall (s) | rate | peak RSS (MB) "
        "| RSS before (MB) | notes |",
        "|---|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        seconds = f"{r.seconds:.2f}" if r.seconds is not None else "—"
        peak = f"{r.peak_mb:.0f}" if r.peak_mb is not None else "—"
        before = f"{r.before_mb:.0f}" if r.before_mb is not None else "—"
        lines.append(
            f"| {r.backend} | {r.actions:,} | {r.streams} | {r.step} | {seconds} | {r.rate} "
            f"| {peak} | "
            f"{before} | {r.detail} |"
        )
    return "\n".join(lines)


def verdicts(rows: Sequence[Row], help_median: float | None) -> list[str]:
    """Each target: met, missed or not measured, with the figure."""
    out = []
    daily = [r for r in rows if r.backend == "sqlite" and r.step == "daily" and r.actions >= 10**6]
    for r in daily:
        where = f"1M daily run on SQLite ({r.streams} work streams)"
        if r.seconds is None or r.peak_mb is None:
            out.append(f"{where}: missed ({r.detail})")
            continue
        fast = "met" if r.seconds < TARGET_DAILY_SECONDS else "missed"
        small = "met" if r.peak_mb < TARGET_DAILY_MB else "missed"
        out.append(
            f"{where} < {TARGET_DAILY_SECONDS:.0f} s: {fast} ({r.seconds:.1f} s); "
            f"peak < {TARGET_DAILY_MB:.0f} MB: {small} ({r.peak_mb:.0f} MB)"
        )
    if not daily:
        out.append("1M daily run on SQLite: not measured (run with --sizes 1m)")
    smtp = [r for r in rows if r.step == "deliver" and r.seconds]
    for r in smtp:
        rate = r.raw.get("sent", 0) / r.seconds if r.seconds else 0.0
        verdict = "met" if rate >= TARGET_SMTP_RATE else "missed"
        out.append(
            f"SMTP >= {TARGET_SMTP_RATE:.0f} msgs/s ({r.backend}, {r.actions:,}): "
            f"{verdict} ({rate:,.0f} msgs/s)"
        )
    if not smtp:
        out.append("SMTP rate: not measured")
    if help_median is not None:
        verdict = "met" if help_median < TARGET_HELP_SECONDS else "missed"
        out.append(f"planworker --help < {TARGET_HELP_SECONDS} s: {verdict} ({help_median:.3f} s)")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10k,100k", help="actions, e.g. 10k,100k,1m")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"of {','.join(STEPS)}")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="PostgreSQL server (a schema each)")
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF)
    parser.add_argument("--plans", type=int, default=1, help="plans; the first one is measured")
    parser.add_argument("--leads", type=int, default=0, help="lead roles (default: by size)")
    parser.add_argument(
        "--work-streams",
        default="9,auto",
        help="work streams per plan, each a separate run: a number or auto (1,000 actions each)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smtp-messages", type=int, default=1000, help="deliver at least this")
    parser.add_argument("--timeout", type=float, default=60, help="time box per step, seconds")
    parser.add_argument(
        "--import-timeout", type=float, default=300, help="time box of the import, seconds"
    )
    parser.add_argument(
        "--no-typical",
        dest="typical",
        action="store_false",
        help="skip delivering typical-size messages (a small plan with many leads)",
    )
    parser.add_argument("--help-runs", type=int, default=10)
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python memory")
    parser.add_argument("--profile-dir", type=Path, help="write each step's cProfile stats here")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    options = parser.parse_args(argv)
    options.steps = [s.strip() for s in options.steps.split(",") if s.strip()]
    unknown = set(options.steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
    sizes = [parse_size(s) for s in options.sizes.split(",") if s.strip()]
    backends = [b.strip() for b in options.backends.split(",") if b.strip()]

    rows: list[Row] = []
    began = time.perf_counter()
    for actions in sizes:
        folder = Path(tempfile.mkdtemp(prefix="planworker-bench-"))
        try:
            csv_file, contacts = folder / "plan.csv", folder / "contacts.toml"
            leads = options.leads or leads_for(actions)
            shapes = [streams_for(w.strip(), actions) for w in options.work_streams.split(",")]
            shapes = list(dict.fromkeys(shapes))  # below 20,000 actions "auto" is 9 too
            command = [
                PYTHON,
                str(BENCH / "generate.py"),
                "--actions",
                str(actions),
                "--leads",
                str(leads),
                "--seed",
                str(options.seed),
                "--plans",
                str(options.plans),
                "--work-streams",
                str(shapes[0]),
                "--contacts",
                str(contacts),
            ]
            if "import" in options.steps:
                command += ["--csv", str(csv_file)]
                # One file per plan when there are several: import the first plan's.
                csv_file = csv_paths(csv_file, options.plans)[0]
            subprocess.run(command, check=True, capture_output=True, cwd=ROOT, env=_clean_env())
            print(f"{actions:,} actions, {leads:,} lead roles", file=sys.stderr)
            for backend in backends:
                for n, streams in enumerate(shapes):
                    rows += measure_size(
                        backend, actions, streams, options, folder, (csv_file, contacts), n == 0
                    )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if "deliver" in options.steps and options.typical:
        for backend in backends:
            rows += measure_typical(backend, options)
    helped = help_time(options.help_runs) if options.help_runs else None

    print(
        f"as of {options.as_of.isoformat()}, next working day "
        f"{next_working_day(options.as_of).isoformat()}\n"
    )
    print(markdown(rows))
    print()
    if helped:
        print(
            f"`planworker --help`: median {helped['median']:.3f} s of {options.help_runs} "
            f"(min {helped['min']:.3f}, max {helped['max']:.3f})\n"
        )
    for line in verdicts(rows, helped["median"] if helped else None):
        print(f"- {line}")
    total = time.perf_counter() - began
    print(f"\n(total {total / 60:.1f} min)")
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "machine": machine(),
            "options": {k: str(v) for k, v in vars(options).items()},
            "rows": [asdict(r) for r in rows],
            "help": helped,
            "verdicts": verdicts(rows, helped["median"] if helped else None),
            "total_seconds": total,
        }
        options.json.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
