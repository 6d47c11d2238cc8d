"""Delivery against servers that are slow, workers that stop or die mid-send: a conversation
has a deadline, a stop request ends it, and a live worker's claim is renewed so no other
worker sends the same message (docs/ledger.md)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from tests.conftest import CONTACTS, ROOT, SEED, Cli
from tests.items import plain_item
from tests.slow_smtp import SlowSmtpServer
from tests.smtp_server import Received, SmtpServer
from worker.configure import remind_config
from worker.contacts import load_directory
from worker.db import make_engine, session_factory
from worker.errors import InputError
from worker.jobs import catalogue
from worker.jobs.deliver import RetryPolicy, deliver
from worker.jobs.pipeline import Request
from worker.jobs.reroute import moves, reroute
from worker.mail.parts import Encoder, split_to_fit
from worker.mail.smtp import SmtpConfig, SmtpMailer
from worker.mail.templating import Rendered
from worker.models import Action, ActionLead, LeadRole, Message, Plan, WorkStream
from worker.rules.digest import Digest, Item, Recipient
from worker.settings import Settings, load_settings
from worker.store.claims import claim_batch
from worker.store.outbox import insert_message
from worker.store.queue import Queued

T0 = datetime(2012, 9, 24, 7, 0, tzinfo=UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _content(n: int) -> bytes:
    return (
        f"From: planworker@example.org\r\nTo: lead{n}@example.org\r\nSubject: reminder {n}\r\n"
        f"Message-ID: <m{n}@example.org>\r\n\r\nAction {n} is due.\r\n"
    ).encode()


def _queue(engine: Engine, count: int) -> list[int]:
    """A plan and `count` pending messages, lead1@… to lead<count>@…; their ids."""
    with Session(engine) as session:
        plan = Plan(slug="p", title="P")
        session.add(plan)
        session.flush()
        ids = [
            insert_message(
                session,
                plan_id=plan.id,
                job="remind",
                as_of=date(2012, 9, 24),
                recipient=Recipient(f"lead{n}@example.org", f"Lead {n}"),
                content=_content(n),
                sender="planworker@example.org",
                message_id=f"<m{n}@example.org>",
                subject=f"reminder {n}",
                now=T0,
            )
            for n in range(1, count + 1)
        ]
        session.commit()
    return ids


def _states(engine: Engine) -> dict[int, tuple[str, int]]:
    with Session(engine) as session:
        rows = session.execute(select(Message.id, Message.state, Message.attempts))
        return {id_: (state, attempts) for id_, state, attempts in rows}


# --- 1. a deadline per conversation, and stopping ends one --------------------------------


@pytest.mark.slow
def test_a_server_trickling_its_reply_is_left_at_the_deadline_and_the_message_retried_later(
    tmp_path: Path,
) -> None:
    cli = Cli(f"sqlite:///{tmp_path / 'slow.db'}", tmp_path)
    cli("db", "upgrade")
    cli("plan", "import", str(SEED))
    with SlowSmtpServer(byte_every=0.5) as server:  # its 250 would take 17 s per message
        cli.env.update(
            {
                "PLANWORKER_MAIL__BACKEND": "smtp",
                "PLANWORKER_SMTP__HOST": server.host,
                "PLANWORKER_SMTP__PORT": str(server.port),
                "PLANWORKER_SMTP__SECURITY": "none",
                "PLANWORKER_SMTP__TIMEOUT": "5",  # never reached: a byte comes every 0.5 s
                "PLANWORKER_SMTP__DEADLINE_SECONDS": "2",
            }
        )
        env = {**os.environ, **cli.environment()}
        command = [sys.executable, "-m", "worker", "remind", "--as-of", "2012-09-24", "--json"]
        started = time.monotonic()
        # Well inside the 17 s one message would take without a deadline (and 41 of them).
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, timeout=14)
        took = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert took < 14
    report = json.loads(done.stdout)
    assert "longer than 2 seconds" in report["stopped_early"]
    assert report["counts"]["sent"] == 0
    ledger = json.loads(cli("outbox", "--json", "--limit", "1000").stdout)
    assert ledger["counts"]["sent"] == 0 and ledger["counts"]["failed"] == 0
    assert ledger["counts"]["pending"] == len(ledger["messages"]) > 1
    tried = [m for m in ledger["messages"] if m["attempts"]]
    # The one message on the wire used an attempt and waits to be retried; the rest wait
    # untried (the run stopped rather than spend a deadline on each).
    assert len(tried) == 1 and "smtp.deadline_seconds" in tried[0]["last_error"]
    assert server.messages == 1


def test_a_stop_request_ends_a_conversation_in_progress_and_gives_the_attempt_back(
    engine: Engine,
) -> None:
    (only,) = _queue(engine, 1)
    stop = threading.Event()
    with SlowSmtpServer(byte_every=0.5) as server:
        mailer = SmtpMailer(SmtpConfig(server.host, server.port, "none", timeout=5, deadline=60))
        threading.Timer(0.5, stop.set).start()  # SIGTERM while the server trickles its 250
        started = time.monotonic()
        report = deliver(
            session_factory(engine),
            mailer,
            clock=lambda: datetime.now(UTC),
            policy=RetryPolicy(lease=timedelta(seconds=90), send_deadline=timedelta(seconds=60)),
            should_stop=stop.is_set,
        )
        took = time.monotonic() - started
    assert took < 5  # not the 17 s the reply would take, nor the 60 s deadline
    assert report.sent == 0 and report.failed == 0
    assert "stopped while sending" in report.stopped_early
    assert _states(engine) == {only: ("pending", 0)}


# --- 2. a live worker's claim is renewed; a dead one's is taken over once ----------------


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_a_slow_send_keeps_its_claim_and_a_dead_workers_claim_is_taken_over_once(
    engine: Engine,
) -> None:
    first, second, abandoned = _queue(engine, 3)
    lease = timedelta(seconds=10)
    policy = RetryPolicy(lease=lease, send_deadline=timedelta(seconds=8))
    sessions = session_factory(engine)
    clock = FakeClock(T0)
    taken_by_b: list[list[int]] = []

    # Worker "dead" claimed the third message, then died: nothing renews its lease.
    with sessions() as dead:
        assert [c.id for c in claim_batch(dead, T0, lease, after_id=second)] == [abandoned]

    def slow_server(received: Received) -> None:
        # Each send takes time on worker A's clock: 4.5 s for the first message, then 7 s
        # (within the 8 s deadline) for the second, which A started 4.5 s into its claim.
        clock.now += timedelta(seconds=4.5 if len(taken_by_b) == 0 else 7)
        with sessions() as b:  # worker B looks for work while A's second send is running
            taken_by_b.append([c.id for c in claim_batch(b, clock.now, lease)])

    with SmtpServer("plain") as server:
        server.on_data = slow_server
        config = SmtpConfig(server.host, server.port, "none", timeout=5, deadline=8)
        report = deliver(sessions, SmtpMailer(config), clock=clock, policy=policy)
        assert report.sent == 2
        # While A was alive, B took neither of A's messages; by the second send the dead
        # worker's lease had run out, and B took that one over.
        assert taken_by_b == [[], [abandoned]]
        assert _states(engine)[abandoned] == ("sending", 2)
        # Nobody else can have it now: B holds it.
        with sessions() as c:
            assert claim_batch(c, clock.now, lease) == []
        received = [r.rcpt_tos for r in server.received]
    assert received == [["lead1@example.org"], ["lead2@example.org"]]
    assert _states(engine)[first] == ("sent", 1) and _states(engine)[second] == ("sent", 1)


# --- 3. messages too large for the server; failures the administrator must hear of -------

HEAD_OF_QA = "head-of-qa@example.org"
ADMIN = "planworker-admin@example.org"


def bulk_actions(
    cli: Cli, count: int, role: str = "Head of QA", *, prefix: str = "BULK", spread: int = 0
) -> list[str]:
    """`count` more actions for one role, written straight into the database (an import
    would be slower); their refs, "BULK-00000" on. Each is due `spread` days before the one
    before it, from 21 September 2012: all overdue on 2012-09-24."""
    engine = make_engine(cli.db_url)
    try:
        with Session(engine) as session:
            plan_id = session.scalars(select(Plan.id)).one()
            streams = select(WorkStream.id).where(WorkStream.plan_id == plan_id)
            stream = session.scalars(streams.order_by(WorkStream.number)).first()
            role_id = session.scalars(
                select(LeadRole.id).where(LeadRole.plan_id == plan_id, LeadRole.name == role)
            ).one()
            refs = [f"{prefix}-{n:05d}" for n in range(count)]
            dues = [date(2012, 9, 21) - timedelta(days=n * spread) for n in range(count)]
            rows = [
                {
                    "plan_id": plan_id,
                    "work_stream_id": stream,
                    "ref": ref,
                    "row_ref": ref,
                    "position": 100_000 + n,
                    "action_text": f"Audit a sample of case files, batch {n}",
                    "lead_text": role,
                    "target_text": f"{due.day} {due:%B %Y}",
                    "due_date": due,
                    "due_precision": "day",
                }
                for n, (ref, due) in enumerate(zip(refs, dues, strict=True))
            ]
            ids = session.scalars(insert(Action).returning(Action.id), rows).all()
            leads = [{"action_id": i, "lead_role_id": role_id, "position": 0} for i in ids]
            session.execute(insert(ActionLead), leads)
            session.commit()
    finally:
        engine.dispose()
    return refs


def _refs_in(message: EmailMessage) -> set[str]:
    body = message.get_body(("plain",))
    assert body is not None
    return set(re.findall(r"\bBULK-\d{5}\b", str(body.get_content())))


def _use(cli: Cli, server: SmtpServer) -> None:
    cli.env.update(
        {
            "PLANWORKER_MAIL__BACKEND": "smtp",
            "PLANWORKER_SMTP__HOST": server.host,
            "PLANWORKER_SMTP__PORT": str(server.port),
            "PLANWORKER_SMTP__SECURITY": "none",
            "PLANWORKER_SMTP__TIMEOUT": "10",
            "PLANWORKER_MAIL__RETRY_AFTER_SECONDS": "0",
        }
    )


def _to(received: Received) -> str:
    return str(received.message["To"].addresses[0].addr_spec)


@pytest.mark.slow
def test_a_lead_with_ten_thousand_actions_gets_every_one_in_parts_the_server_takes(
    cli: Cli,
) -> None:
    cli("plan", "import", str(SEED))
    refs = bulk_actions(cli, 10_000)
    # Each action described in full (by default a message describes the first 25 and names
    # the rest, which would fit).
    cli.env["PLANWORKER_REMINDERS__LISTED_IN_FULL"] = "1000"
    limit = 1024 * 1024  # the server's SIZE: far less than the lead's whole digest
    with SmtpServer("plain", size_limit=limit) as server:
        _use(cli, server)
        report = json.loads(cli("remind", "--as-of", "2012-09-24", "--json").stdout)
        received = list(server.received)
    assert report["failures"] == 0 and report["counts"]["failed"] == 0
    parts = [r for r in received if _to(r) == HEAD_OF_QA]
    assert len(parts) > 1
    assert all(len(r.data) <= limit for r in received)
    got = [ref for r in parts for ref in _refs_in(r.message)]
    assert sorted(got) == refs  # every action reached its lead, each in one part only
    subjects = [str(r.message["Subject"]) for r in parts]
    assert all(f"of {len(parts)})" in s for s in subjects)
    assert sorted(s.split("(part ")[1].split(" of")[0] for s in subjects) == sorted(
        str(n) for n in range(1, len(parts) + 1)
    )
    assert not [r for r in received if _to(r) == ADMIN and "Not delivered" in r.message["Subject"]]


@pytest.mark.slow
def test_messages_the_server_refuses_are_told_to_the_administrator_and_fail_the_run(
    cli: Cli,
) -> None:
    cli("plan", "import", str(SEED))
    refs = bulk_actions(cli, 3_000)
    cli.env["PLANWORKER_REMINDERS__LISTED_IN_FULL"] = "1000"  # a large message, described
    with SmtpServer("plain") as roomy:  # planned while the server took large messages...
        _use(cli, roomy)
        roomy.stop()  # ...and then went away before delivering them
        cli("remind", "--as-of", "2012-09-24", "--json", ok=False)
    # Back with a much smaller SIZE: the lead's queued digest is too large for it now.
    with SmtpServer("plain", size_limit=256 * 1024) as server:
        _use(cli, server)
        result = cli("remind", "--as-of", "2012-09-24", "--json", ok=False)
        received = list(server.received)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["failures"] >= 1 and report["counts"]["failed"] == report["failures"]
    ledger = json.loads(cli("outbox", "--state", "failed", "--json").stdout)
    refused = [m for m in ledger["messages"] if m["to"] == HEAD_OF_QA]
    assert refused and all("SIZE" in m["last_error"] for m in refused)
    to_admin = [r.message for r in received if _to(r) == ADMIN]
    # A small plain notice names the refused message and the reason...
    plain = [m for m in to_admin if str(m["Subject"]).startswith("Not delivered:")]
    assert len(plain) == 1
    text = str(plain[0].get_content())
    assert HEAD_OF_QA in text and "SIZE" in text and "outbox --state failed" in text
    # ...and the detailed notice lists every action that did not reach its lead, in parts
    # the server takes.
    listed = {ref for m in to_admin for ref in _refs_in(m)}
    assert listed == set(refs)


# --- 4. a post that changed hands while its reminder waited in the queue ------------------


def _queued_refs(cli: Cli, address: str) -> set[str]:
    ledger = json.loads(cli("outbox", "--to", address, "--json").stdout)["messages"]
    assert all(m["state"] == "pending" for m in ledger)
    return {item["ref"] for m in ledger for item in m["items"]}


def _contacts_with(tmp_path: Path, role: str, email: str) -> Path:
    """A copy of the contacts directory with `role`'s address changed ("": vacant)."""
    text = CONTACTS.read_text(encoding="utf-8")
    header = f'[roles."{role}"]\n'
    start = text.index(header)
    end = text.index("\n\n", start)
    block = re.sub(r'(?m)^email = ".*"$', f'email = "{email}"', text[start:end], count=1)
    changed = tmp_path / "contacts-now.toml"
    changed.write_text(text[:start] + block + text[end:], encoding="utf-8")
    return changed


@pytest.mark.parametrize(
    ("new_address", "now_for"),
    [
        ("qa-lead-2013@example.org", "qa-lead-2013@example.org"),  # a new holder
        ("", "audit-manager@example.org"),  # vacant: its deputy, as planning does
    ],
)
def test_a_reminder_queued_before_a_post_changed_hands_goes_to_whoever_holds_it_now(
    cli: Cli, tmp_path: Path, new_address: str, now_for: str
) -> None:
    cli("plan", "import", str(SEED))
    with SmtpServer("plain") as server:
        _use(cli, server)
        server.stop()  # an outage: the day's reminders wait in the outbox
        cli("remind", "--as-of", "2012-09-24", "--json", ok=False)
        queued = _queued_refs(cli, HEAD_OF_QA)
        assert queued
        changed = _contacts_with(tmp_path, "Head of QA", new_address)
        cli.env["PLANWORKER_CONTACTS_FILE"] = str(changed)
        server.start()
        cli("remind", "--as-of", "2012-09-24", "--json")
        received = list(server.received)
    assert HEAD_OF_QA not in {_to(r) for r in received}
    texts = [r.message.get_body(("plain",)) for r in received if _to(r) == now_for]
    body = "\n".join(str(text.get_content()) for text in texts if text is not None)
    assert all(re.search(rf"\b{re.escape(ref)}\b", body) for ref in queued)
    # The ledger says why they went there, and holds nothing more for the old address.
    ledger = json.loads(cli("outbox", "--to", now_for, "--json").stdout)["messages"]
    moved = [i for m in ledger for i in m["items"] if i["ref"] in queued]
    why = f"re-routed: queued for {HEAD_OF_QA}"
    assert moved and all(i["reason"].startswith(why) for i in moved)
    assert json.loads(cli("outbox", "--to", HEAD_OF_QA, "--json").stdout)["messages"] == []


def test_only_items_the_rules_now_give_to_someone_else_are_moved() -> None:
    day = date(2012, 9, 24)
    queued = [
        Queued(1, "remind", day, "old@example.org|7|overdue|1|2012-09-21", 7),  # changed hands
        Queued(1, "remind", day, "old@example.org|8|overdue|1|2012-09-21", 8),  # completed since
        Queued(2, "remind", day, "same@example.org|9|upcoming|7|2012-10-01", 9),  # unchanged
    ]
    current = {
        ("remind", day): {
            "new@example.org|7|overdue|1|2012-09-21",
            "same@example.org|9|upcoming|7|2012-10-01",
        }
    }
    (move,) = moves(queued, current)
    assert (move.message_id, move.action_id, move.was, move.now) == (
        1,
        7,
        "old@example.org",
        ("new@example.org",),
    )


def _queued_during_an_outage(cli: Cli) -> set[str]:
    """The seed's reminders of 24 September 2012 left waiting by a mail server that was down:
    the refs queued for the Head of QA."""
    cli("plan", "import", str(SEED))
    with SmtpServer("plain") as server:
        _use(cli, server)
        server.stop()
        cli("remind", "--as-of", "2012-09-24", "--json", ok=False)
    return _queued_refs(cli, HEAD_OF_QA)


def test_the_retry_job_re_routes_a_queued_reminder_without_planning_a_new_day(
    cli: Cli, tmp_path: Path
) -> None:
    queued = _queued_during_an_outage(cli)
    changed = _contacts_with(tmp_path, "Head of QA", "qa-lead-2013@example.org")
    # What the service's retry tick does: deliver what waits, nothing planned.
    config = remind_config(Settings(contacts_file=changed), load_directory(changed))
    engine = make_engine(cli.db_url)
    try:
        with Session(engine) as session:
            plan_id = session.scalars(select(Plan.id)).one()
        with SmtpServer("plain") as server:
            mailer = SmtpMailer(SmtpConfig(server.host, server.port, "none", timeout=5))
            day = date(2012, 9, 26)
            request = Request(
                session_factory(engine), plan_id, config, day, clock=_now, mailer=mailer
            )
            report = catalogue.deliver(request)
            received = list(server.received)
    finally:
        engine.dispose()
    assert report.failed == 0 and report.sent == len(received)
    assert HEAD_OF_QA not in {_to(r) for r in received}
    new = "qa-lead-2013@example.org"
    texts = [r.message.get_body(("plain",)) for r in received if _to(r) == new]
    body = "\n".join(str(text.get_content()) for text in texts if text is not None)
    assert all(re.search(rf"\b{re.escape(ref)}\b", body) for ref in queued)


def test_a_re_route_whose_new_message_cannot_be_made_leaves_the_queue_as_it_was(
    cli: Cli, tmp_path: Path
) -> None:
    queued = _queued_during_an_outage(cli)
    assert queued
    changed = _contacts_with(tmp_path, "Head of QA", "qa-lead-2013@example.org")
    broken = tmp_path / "broken" / "reminder"
    broken.mkdir(parents=True)
    (broken / "subject.txt").write_text("{{ digest.no_such_field }}\n", encoding="utf-8")
    settings = Settings(contacts_file=changed, templates_dir=broken.parent)
    config = remind_config(settings, load_directory(changed))
    engine = make_engine(cli.db_url)
    try:
        with Session(engine) as session:
            plan_id = session.scalars(select(Plan.id)).one()
        moved = reroute(session_factory(engine), plan_id, config, now=_now(), jobs=catalogue.JOBS)
    finally:
        engine.dispose()
    # Nothing taken out of the queue: the old holder still gets it rather than nobody.
    assert moved == []
    assert _queued_refs(cli, HEAD_OF_QA) == queued


# --- settings and the splitting rule ------------------------------------------------------


def test_a_deadline_as_long_as_the_lease_is_refused_naming_both_keys(tmp_path: Path) -> None:
    config = tmp_path / "planworker.toml"
    config.write_text("[mail]\nlease_seconds = 120\n\n[smtp]\ndeadline_seconds = 120\n")
    with pytest.raises(InputError) as refused:
        load_settings(config)
    message = str(refused.value)
    assert str(config) in message
    assert "smtp.deadline_seconds (120) must be less than mail.lease_seconds (120)" in message
    # Unset, the deadline follows a short lease down instead of refusing it.
    config.write_text("[mail]\nlease_seconds = 20\n")
    assert load_settings(config).send_deadline == 18


def _sized(items: tuple[Item, ...]) -> int:
    # A stand-in for a rendered message: a fixed head plus each item's own length.
    return 500 + sum(len(item.action_text) for item in items)


def _item(n: int, length: int) -> Item:
    return plain_item(
        key=f"lead@example.org|{n}|overdue|1|2012-09-21",
        action_id=n,
        ref=f"A-{n}",
        action_text="x" * length,
        due=None,
        days=0,
    )


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=400),
    limit=st.integers(min_value=8_000, max_value=60_000),
)
def test_split_parts_hold_every_item_once_in_order_and_fit_unless_one_item_is_too_big(
    lengths: list[int], limit: int
) -> None:
    items = tuple(_item(n, length) for n, length in enumerate(lengths))
    digest = Digest(Recipient("lead@example.org", "Lead"), date(2012, 9, 24), "P", "O", items)
    encoder: Encoder[tuple[str, tuple[Item, ...]]] = Encoder(
        render=lambda d: Rendered(subject="Action plan", text="t", html="h", ics=None),
        encode=lambda d, rendered: (rendered.subject, d.items),
        size=lambda message: _sized(message[1]),
    )
    parts = list(split_to_fit(digest, limit, encoder))
    assert [i for _, part in parts for i in part] == list(items)
    for _, part in parts:
        assert _sized(part) <= limit or len(part) == 1
    if len(parts) == 1:
        assert parts[0][0] == "Action plan"
    else:
        assert [s for s, _ in parts] == [
            f"Action plan (part {n} of {len(parts)})" for n in range(1, len(parts) + 1)
        ]


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=300),
    limit=st.integers(min_value=8_000, max_value=60_000),
    keep=st.integers(min_value=0, max_value=120_000),
)
def test_parts_let_go_before_labelling_are_rendered_again_as_they_were(
    lengths: list[int], limit: int, keep: int
) -> None:
    # A large message's parts are not all held until they can be labelled "part n of m":
    # those past `keep` bytes are rendered again then, and come out as if kept.
    items = tuple(_item(n, length) for n, length in enumerate(lengths))
    digest = Digest(Recipient("lead@example.org", "Lead"), date(2012, 9, 24), "P", "O", items)
    renders = 0

    def render(d: Digest) -> Rendered:
        nonlocal renders
        renders += 1
        return Rendered(subject="Action plan", text="t", html="h", ics=None)

    encoder: Encoder[tuple[str, tuple[Item, ...]]] = Encoder(
        render=render,
        encode=lambda d, rendered: (rendered.subject, d.items),
        size=lambda message: _sized(message[1]),
        relabel=lambda message, old, subject: (subject, message[1]),
    )
    kept_all = list(split_to_fit(digest, limit, encoder, keep=10**9))
    rendered_once = renders
    renders = 0
    assert list(split_to_fit(digest, limit, encoder, keep=keep)) == kept_all
    kept_bytes = sum(_sized(part) for _, part in kept_all)
    if keep >= kept_bytes:
        assert renders == rendered_once
    elif keep == 0:
        assert renders == rendered_once + len(kept_all)  # each part once more


@settings(max_examples=30, deadline=None)
@given(
    listed=st.integers(min_value=1, max_value=200),
    unlisted=st.integers(min_value=1, max_value=300),
    limit=st.integers(min_value=8_000, max_value=60_000),
)
def test_items_counted_but_not_listed_are_recorded_with_one_part_only(
    listed: int, unlisted: int, limit: int
) -> None:
    # A weekly summary too long to list goes in parts: the entries it only counts are in
    # the ledger once, with the first part, whatever the split.
    shown = tuple(_item(n, 500) for n in range(listed))
    counted = tuple(_item(listed + n, 0) for n in range(unlisted))
    digest = Digest(
        Recipient("admin@example.org", "Admin"), date(2012, 9, 24), "P", "O", shown, counted
    )
    encoder: Encoder[Digest] = Encoder(
        render=lambda d: Rendered(subject="Action plan", text="t", html="h", ics=None),
        encode=lambda d, rendered: d,
        size=lambda d: _sized(d.items),
    )
    parts = list(split_to_fit(digest, limit, encoder))
    assert [i for part in parts for i in part.items] == list(shown)
    assert parts[0].unlisted == counted
    assert all(not part.unlisted for part in parts[1:])
