"""One benchmark measurement, run by bench/run.py in a fresh process of its own, so that one
step's memory and caches do not colour the next.

    python bench/steps.py STEP --url URL --contacts FILE [--as-of DATE] [...]

STEP is one of: import, decide, render, record, daily, deliver; serve-smtp and serve-sink are
the SMTP servers deliver talks to, and phases a tracemalloc diagnostic of the daily run. Each
prints one line "RESULT {json}" with the timed part's wall time ("seconds"), counts, and the
process's peak resident memory (ru_maxrss) before the work began and at the end. Only the
named part is timed; whatever must happen first (deciding before rendering...) runs untimed
before it, in the same process, so the peak includes it.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import resource
import socket
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULT = "RESULT "
# The run's wall-clock "now" inside the synthetic plan's life (07:00 UK time in winter).
RUN_TIME = timedelta(hours=7)


def rss_mb() -> float:
    """The peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Measure:
    """Times named parts; optionally traces Python allocations or profiles them."""

    trace: bool = False
    profile: Path | None = None
    out: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def part(self, name: str = "seconds") -> Iterator[None]:
        profiler = cProfile.Profile() if self.profile else None
        if self.trace:
            tracemalloc.start()
        if profiler:
            profiler.enable()
        began = time.perf_counter()
        try:
            yield
        finally:
            self.out[name] = round(time.perf_counter() - began, 4)
            if profiler:
                profiler.disable()
                assert self.profile is not None
                # One file per timed part: the main one as named, others beside it.
                target = self.profile
                if name != "seconds":
                    target = target.with_name(f"{target.stem}-{name}{target.suffix}")
                profiler.dump_stats(str(target))
            if self.trace:
                self.out["tracemalloc_peak_mb"] = round(
                    tracemalloc.get_traced_memory()[1] / 2**20, 1
                )
                tracemalloc.stop()


def _now(as_of: date) -> datetime:
    return datetime.combine(as_of, datetime.min.time(), UTC) + RUN_TIME


def _context(args: argparse.Namespace) -> tuple[Any, Any, int]:
    """The reminder config, a session factory and the plan id (the database's only plan,
    or --plan)."""
    from sqlalchemy import select

    from worker.configure import remind_config
    from worker.contacts import load_directory
    from worker.db import make_engine, session_factory
    from worker.models import Plan
    from worker.settings import Settings

    directory = load_directory(args.contacts)
    settings = Settings(database_url=args.url, contacts_file=args.contacts)
    config = remind_config(settings, directory)
    sessions = session_factory(make_engine(args.url))
    with sessions() as session:
        query = select(Plan.id).order_by(Plan.id)
        if args.plan:
            query = query.where(Plan.slug == args.plan)
        plan_id = session.scalars(query.limit(1)).one()
    return config, sessions, plan_id


def _prepare(session: Any, config: Any, plan_id: int) -> Any:
    """What the pipeline does before deciding: sync contacts, re-read dates if needed."""
    from worker.jobs.pipeline import prepare
    from worker.models import Plan

    plan = session.get_one(Plan, plan_id)
    prepare(session, plan, config)
    return plan


def _day_plan(session: Any, plan: Any, config: Any, as_of: Any, checkpoint: Any = None) -> Any:
    """The lead-reminder job's decisions for a date (jobs/actions.py): its first pass."""
    from worker.jobs.actions import DayPlan, nothing, run_scope
    from worker.jobs.remind import RULES
    from worker.rules.reminders import PlanFacts

    run = run_scope(session, plan.id, config, as_of)
    facts = PlanFacts(plan.title, plan.organisation)
    return DayPlan(session, facts, RULES, run, checkpoint or nothing)


def _counts(found: Any) -> dict[str, int]:
    return {"messages": len(found), "items": sum(len(d.items) for d in found)}


def step_import(args: argparse.Namespace, measure: Measure) -> None:
    from worker.contacts import load_directory
    from worker.db import make_engine
    from worker.migrate import upgrade
    from worker.plan.importer import import_file

    engine = make_engine(args.url)
    upgrade(engine)
    directory = load_directory(args.contacts)
    from sqlalchemy.orm import Session

    measure.out["rss_before_mb"] = round(rss_mb(), 1)
    with Session(engine) as session, measure.part():
        result = import_file(session, args.csv, args.plan, "bench", "end", directory)
    measure.out.update(added=result.added, status_changes=result.status_changes)


def _walk(args: argparse.Namespace, measure: Measure, phases: set[str]) -> dict[str, float]:
    """The daily run's own streaming walk (worker.jobs.actions.DayPlan: the first pass, then a batch
    of recipients at a time), doing only `phases` of decide, render and record; the seconds
    spent in each, summed over the batches. Record commits each batch, as the run does."""
    from worker.jobs.compose import messages as rendered
    from worker.store.outbox import record

    config, sessions, plan_id = _context(args)
    now = _now(args.as_of)
    spent = dict.fromkeys(("decide", "render", "record"), 0.0)
    messages = items = 0
    measure.out["rss_before_mb"] = round(rss_mb(), 1)
    with sessions() as session, measure.part("walk_seconds"):
        plan = _prepare(session, config, plan_id)
        session.commit()
        began = time.perf_counter()
        day = _day_plan(session, plan, config, args.as_of, session.commit)
        spent["decide"] += time.perf_counter() - began
        for emails in day.batches():
            began = time.perf_counter()
            found = day.digests(emails)
            spent["decide"] += time.perf_counter() - began
            messages += len(found)
            items += sum(len(d.items) for d in found)
            if "render" not in phases:
                continue
            began = time.perf_counter()
            planned = list(rendered(found, config, now, "remind", plan_id=plan_id, errors=[]))
            spent["render"] += time.perf_counter() - began
            if "record" not in phases:
                continue
            began = time.perf_counter()
            sender = config.identity.sender.addr_spec
            record(
                session,
                planned,
                plan_id=plan_id,
                job="remind",
                as_of=args.as_of,
                now=now,
                sender=sender,
            )
            session.commit()
            spent["record"] += time.perf_counter() - began
        session.rollback()
    measure.out.update(messages=messages, items=items)
    measure.out.update({f"{name}_seconds": round(t, 4) for name, t in spent.items() if t})
    return spent


def step_decide(args: argparse.Namespace, measure: Measure) -> None:
    measure.out["seconds"] = round(_walk(args, measure, {"decide"})["decide"], 4)


def step_render(args: argparse.Namespace, measure: Measure) -> None:
    measure.out["seconds"] = round(_walk(args, measure, {"render"})["render"], 4)


def step_record(args: argparse.Namespace, measure: Measure) -> None:
    from sqlalchemy import delete, func, select

    from worker.models import Message, MessageContent, Notification

    measure.out["seconds"] = round(_walk(args, measure, {"render", "record"})["record"], 4)
    _, sessions, _ = _context(args)
    with sessions() as session:
        size = session.scalar(select(func.sum(func.length(MessageContent.content)))) or 0
        # Leave the ledger as it was, for the steps after this one.
        session.execute(delete(Notification))
        session.execute(delete(MessageContent))
        session.execute(delete(Message))
        session.commit()
    measure.out["content_mb"] = round(size / 2**20, 1)


def step_daily(args: argparse.Namespace, measure: Measure) -> None:
    from sqlalchemy import func, select

    from worker.jobs import catalogue
    from worker.jobs.pipeline import Request
    from worker.models import Message, MessageContent, Notification

    config, sessions, plan_id = _context(args)
    with sessions() as session:
        before = session.scalar(select(func.count(Notification.id))) or 0
    measure.out["rss_before_mb"] = round(rss_mb(), 1)
    with measure.part():
        # As the service runs it: counts only, not every message's items kept to the end.
        now = _now(args.as_of)
        request = Request(sessions, plan_id, config, args.as_of, lambda: now, keep_digests=False)
        result = catalogue.run("remind", request)
    with sessions() as session:
        size = session.scalar(
            select(func.sum(func.length(MessageContent.content)))
            .join(Message, Message.id == MessageContent.message_id)
            .where(Message.as_of == args.as_of)
        )
    measure.out.update(
        messages=result.messages,
        items=result.items,
        ledger_items_before=before,
        content_mb=round((size or 0) / 2**20, 1),
    )


def step_phases(args: argparse.Namespace, measure: Measure) -> None:
    """Diagnostic: the daily run's phases under tracemalloc, with the Python memory each
    leaves behind and, where the most is held (after rendering), the lines that allocated
    it. Times are inflated by the tracing; use the other steps for timings."""
    from worker.jobs.compose import messages as rendered
    from worker.store.outbox import record

    config, sessions, plan_id = _context(args)
    now = _now(args.as_of)
    tracemalloc.start(1)
    phases: dict[str, dict[str, float]] = {}

    def mark(name: str, began: float) -> None:
        current, peak = tracemalloc.get_traced_memory()
        phases[name] = {
            "seconds": round(time.perf_counter() - began, 2),
            "held_mb": round(current / 2**20, 1),
            "peak_mb": round(peak / 2**20, 1),
        }

    with sessions() as session:
        began = time.perf_counter()
        plan = _prepare(session, config, plan_id)
        day = _day_plan(session, plan, config, args.as_of)
        found = day.digests(day.recipients())
        mark("decide", began)
        began = time.perf_counter()
        planned = list(rendered(found, config, now, "remind", plan_id=plan_id, errors=[]))
        mark("render", began)
        snapshot = tracemalloc.take_snapshot()
        began = time.perf_counter()
        record(
            session,
            planned,
            plan_id=plan_id,
            job="remind",
            as_of=args.as_of,
            now=now,
            sender=config.identity.sender.addr_spec,
        )
        mark("record", began)
        session.rollback()
    tracemalloc.stop()
    root = str(ROOT) + "/"
    measure.out["phases"] = phases
    measure.out["held_after_render_by_line"] = [
        f"{stat.size / 2**20:.1f} MB {str(stat.traceback).replace(root, '')}"
        for stat in snapshot.statistics("lineno")[: args.top]
    ]
    measure.out.update(_counts(found))


def _top_up(sessions: Any, plan_id: int, wanted: int) -> int:
    """Copy pending messages (new Message-IDs) until `wanted` are pending; how many copied."""
    from sqlalchemy import func, insert, select

    from worker.models import Message, MessageContent

    with sessions() as session:
        pending = (
            session.scalar(select(func.count(Message.id)).where(Message.state == "pending")) or 0
        )
        if pending == 0 or pending >= wanted:
            return 0
        columns = [c for c in Message.__table__.columns if c.name not in ("id", "message_id")]
        query = (
            select(*columns, MessageContent.content)
            .join(MessageContent, MessageContent.message_id == Message.id)
            .where(Message.state == "pending")
        )
        rows = [dict(r._mapping) for r in session.execute(query)]
        for n in range(wanted - pending):
            row = dict(rows[n % len(rows)])
            content = row.pop("content")
            row["message_id"] = f"<bench-copy-{n}@example.org>"
            copy = session.execute(insert(Message).returning(Message.id), row).scalar_one()
            session.execute(insert(MessageContent), {"message_id": copy, "content": content})
        session.commit()
        return wanted - pending


def _send_only(port: int, contents: list[tuple[str, bytes]]) -> None:
    from worker.mail.smtp import SmtpConfig, SmtpMailer

    smtp = SmtpConfig(host="127.0.0.1", port=port, security="none", timeout=60)
    with SmtpMailer(smtp) as mailer:
        for to, content in contents:
            mailer.send(content, sender="planworker@example.org", recipients=[to])


def _deliver(sessions: Any, plan_id: int, port: int) -> Any:
    from worker.jobs.deliver import RetryPolicy, deliver
    from worker.mail.smtp import SmtpConfig, SmtpMailer

    smtp = SmtpConfig(host="127.0.0.1", port=port, security="none", timeout=60)
    return deliver(
        sessions,
        SmtpMailer(smtp),
        clock=lambda: datetime.now(UTC),
        policy=RetryPolicy(),
        plan_id=plan_id,
    )


def step_deliver(args: argparse.Namespace, measure: Measure) -> None:
    """Deliver the outbox to the test SMTP server (aiosmtpd), then send the same messages
    again without the outbox; with --sink-port, both again against a minimal SMTP sink, to
    tell planworker's share of the time from the server's."""
    from sqlalchemy import select, update

    from worker.models import Message, MessageContent

    _, sessions, plan_id = _context(args)
    copied = _top_up(sessions, plan_id, args.messages)
    with sessions() as session:
        pending = Message.state == "pending"
        query = (
            select(Message.id, Message.recipient_email, MessageContent.content)
            .join(MessageContent, MessageContent.message_id == Message.id)
            .where(pending)
        )
        rows = list(session.execute(query.order_by(Message.id)))
        size = sum(len(r.content) for r in rows) / len(rows) if rows else 0
    ids = [r.id for r in rows]
    contents = [(r.recipient_email, r.content) for r in rows]
    measure.out["rss_before_mb"] = round(rss_mb(), 1)
    with measure.part():
        report = _deliver(sessions, plan_id, args.port)
    # The same messages over one connection without the outbox: what SMTP alone costs.
    with measure.part("send_only_seconds"):
        _send_only(args.port, contents)
    if args.sink_port:
        with sessions() as session:
            session.execute(
                update(Message)
                .where(Message.id.in_(ids))
                .values(state="pending", attempts=0, sent_at=None, receipt="")
            )
            session.commit()
        with measure.part("sink_seconds"):
            sink = _deliver(sessions, plan_id, args.sink_port)
        with measure.part("sink_send_only_seconds"):
            _send_only(args.sink_port, contents)
        measure.out["sink_sent"] = sink.sent
    measure.out.update(
        sent=report.sent,
        failed=report.failed,
        retrying=report.retrying,
        copied=copied,
        mean_message_kb=round(float(size or 0) / 1024, 1),
        send_only=len(contents),
    )


def serve_smtp() -> None:
    """A loopback SMTP server (tests/smtp_server.py, plain) until standard input closes."""
    from tests.smtp_server import SmtpServer

    with SmtpServer("plain") as server:
        print(f"PORT {server.port}", flush=True)
        sys.stdin.read()
        received = len(server.received)
        size = sum(len(r.data) for r in server.received)
    print(f"RECEIVED {received} {size}", flush=True)


@dataclass
class _Tally:
    messages: int = 0
    size: int = 0


def _sink_session(conn: socket.socket, tally: _Tally) -> None:
    """Just enough SMTP for smtplib: every command is accepted, DATA is read in large
    chunks up to its terminating dot and thrown away."""
    pending = b""
    in_data = False
    conn.sendall(b"220 sink ESMTP\r\n")
    with conn:
        while chunk := conn.recv(1 << 16):
            pending += chunk
            while True:
                if in_data:
                    end = pending.find(b"\r\n.\r\n")
                    if end < 0:
                        break
                    tally.messages += 1
                    tally.size += end + 2
                    pending, in_data = pending[end + 5 :], False
                    conn.sendall(b"250 2.0.0 accepted\r\n")
                    continue
                eol = pending.find(b"\r\n")
                if eol < 0:
                    break
                verb, pending = pending[:4].upper(), pending[eol + 2 :]
                if verb == b"DATA":
                    in_data = True
                    conn.sendall(b"354 end with <CRLF>.<CRLF>\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 sink\r\n")


def start_sink(tally: Any) -> int:
    """A minimal SMTP sink on a free loopback port (a thread per connection) counting into
    `tally`; its port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=_sink_session, args=(conn, tally), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    port: int = listener.getsockname()[1]
    return port


def serve_sink() -> None:
    """A minimal SMTP sink on loopback until stdin closes."""
    tally = _Tally()
    print(f"PORT {start_sink(tally)}", flush=True)
    sys.stdin.read()
    print(f"RECEIVED {tally.messages} {tally.size}", flush=True)


STEPS = {
    "import": step_import,
    "decide": step_decide,
    "render": step_render,
    "record": step_record,
    "daily": step_daily,
    "deliver": step_deliver,
    "phases": step_phases,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=[*STEPS, "serve-smtp", "serve-sink"])
    parser.add_argument("--url", default="")
    parser.add_argument("--contacts", type=Path)
    parser.add_argument("--plan", default=None, help="plan slug (default: the first plan)")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2012, 11, 15))
    parser.add_argument("--csv", type=Path, help="import: the CSV file")
    parser.add_argument("--port", type=int, help="deliver: the test SMTP server's port")
    parser.add_argument("--sink-port", type=int, help="deliver: a minimal SMTP sink's port")
    parser.add_argument("--messages", type=int, default=0, help="deliver: at least this many")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--top", type=int, default=12, help="phases: allocation sites shown")
    parser.add_argument("--profile", type=Path, help="write cProfile stats of the timed part")
    args = parser.parse_args(argv)
    if args.step == "serve-smtp":
        serve_smtp()
        return 0
    if args.step == "serve-sink":
        serve_sink()
        return 0
    measure = Measure(trace=args.tracemalloc, profile=args.profile)
    STEPS[args.step](args, measure)
    measure.out["rss_peak_mb"] = round(rss_mb(), 1)
    print(RESULT + json.dumps(measure.out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
