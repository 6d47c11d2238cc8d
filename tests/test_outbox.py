"""The outbox state machine on SQLite and PostgreSQL: claims, leases, retries, races."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import CONTACTS, SEED
from tests.items import plain_item
from worker.configure import remind_config
from worker.contacts import load_directory
from worker.db import make_engine, session_factory
from worker.jobs import catalogue, per_action
from worker.jobs.config import RemindConfig
from worker.jobs.deliver import RetryPolicy, after_failure
from worker.jobs.pipeline import Request
from worker.jobs.results import RemindResult
from worker.mail.errors import PermanentError, TransientError
from worker.migrate import upgrade
from worker.models import Action, Message, MessageContent, Notification, Plan, table_of
from worker.plan.importer import import_file
from worker.rules.digest import Digest, Recipient
from worker.settings import Settings
from worker.store.claims import Contents, claim_batch, claim_next
from worker.store.outbox import ROW_CHUNK, LedgerRace, Planned, existing_keys, record

NOW = datetime(2012, 9, 24, 7, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=4, retry_after=timedelta(seconds=60))


# --- retry policy (pure) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempts", "error", "expected"),
    [
        (1, TransientError("451 try later"), ("pending", NOW + timedelta(seconds=60))),
        (2, TransientError("451 try later"), ("pending", NOW + timedelta(seconds=120))),
        (3, TransientError("timeout"), ("pending", NOW + timedelta(seconds=240))),
        (4, TransientError("timeout"), ("failed", NOW)),  # attempts used up
        (1, PermanentError("550 no such user"), ("failed", NOW)),  # never retried
    ],
)
def test_passing_failures_wait_longer_each_time_then_give_up(
    attempts: int, error: TransientError, expected: tuple[str, datetime]
) -> None:
    assert after_failure(attempts, error, NOW, POLICY) == expected


def test_waits_are_capped_at_six_hours() -> None:
    policy = RetryPolicy(max_attempts=50, retry_after=timedelta(minutes=10))
    assert after_failure(30, TransientError("x"), NOW, policy) == (
        "pending",
        NOW + timedelta(hours=6),
    )


# --- claims ------------------------------------------------------------------------------


def _message(session: Session, plan_id: int, n: int, **values: object) -> int:
    row = {
        "plan_id": plan_id,
        "job": "remind",
        "as_of": date(2012, 9, 24),
        "recipient_email": f"lead{n}@example.org",
        "recipient_name": "",
        "message_id": f"<{n}@example.org>",
        "subject": "s",
        "state": "pending",
        "attempts": 0,
        "created_at": NOW,
        "next_attempt_at": NOW,
        "receipt": "",
        "last_error": "",
        **values,
    }
    message_row: int = session.execute(insert(Message).returning(Message.id), row).scalar_one()
    content = b"From: planworker@example.org\r\nSubject: s\r\n\r\nbody\r\n"
    session.execute(insert(MessageContent), {"message_id": message_row, "content": content})
    return message_row


def _plan(session: Session) -> int:
    plan = Plan(slug="p", title="P")
    session.add(plan)
    session.flush()
    return plan.id


def test_a_claimed_message_cannot_be_claimed_again_until_its_lease_runs_out(
    engine: Engine,
) -> None:
    sessions = session_factory(engine)
    with sessions() as s:
        message = _message(s, _plan(s), 1)
        s.commit()
    lease = timedelta(minutes=5)
    with sessions() as a, sessions() as b:
        first = claim_next(a, NOW, lease)
        assert first is not None and first.id == message and first.attempts == 1
        assert claim_next(b, NOW + timedelta(minutes=4), lease) is None
        again = claim_next(b, NOW + timedelta(minutes=6), lease)  # the first worker died
        assert again is not None and again.id == message and again.attempts == 2


def test_a_message_waiting_to_retry_is_not_claimed_early(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions() as s:
        _message(s, _plan(s), 1, next_attempt_at=NOW + timedelta(minutes=2))
        s.commit()
        assert claim_next(s, NOW, timedelta(minutes=5)) is None
        assert claim_next(s, NOW + timedelta(minutes=2), timedelta(minutes=5)) is not None


def test_two_workers_claiming_at_once_never_get_the_same_message(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions() as s:
        plan_id = _plan(s)
        for n in range(40):
            _message(s, plan_id, n)
        s.commit()
    claimed: list[list[int]] = [[], []]

    def worker(index: int) -> None:
        with sessions() as session:
            while (claim := claim_next(session, NOW, timedelta(minutes=5))) is not None:
                claimed[index].append(claim.id)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed[0] + claimed[1]) == sorted(set(claimed[0] + claimed[1]))
    assert len(claimed[0]) + len(claimed[1]) == 40


def test_workers_claiming_batches_at_once_share_the_outbox_without_overlap(
    engine: Engine,
) -> None:
    sessions = session_factory(engine)
    with sessions() as s:
        plan_id = _plan(s)
        for n in range(60):
            _message(s, plan_id, n)
        s.commit()
    claimed: list[list[list[int]]] = [[], [], []]

    def worker(index: int) -> None:
        with sessions() as session:
            while batch := claim_batch(session, NOW, timedelta(minutes=5), size=7):
                claimed[index].append([c.id for c in batch])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batches = [b for worker_batches in claimed for b in worker_batches]
    assert all(1 <= len(b) <= 7 for b in batches)  # a batch is never more than asked for
    every = sorted(i for b in batches for i in b)
    assert len(every) == len(set(every)) == 60  # each message claimed once, none missed


@pytest.mark.parametrize("budget", [1, 150, 400, 100_000])
def test_a_run_reads_each_messages_own_bytes_never_holding_more_than_its_budget(
    engine: Engine, budget: int
) -> None:
    sizes = [120, 0, 30, 500, 30, 30, 149, 1, 260]
    sessions = session_factory(engine)
    with sessions() as s:
        plan_id = _plan(s)
        ids = [_message(s, plan_id, n) for n in range(len(sizes))]
        s.execute(update(MessageContent), [
            {"message_id": i, "content": f"<{i}>".encode().ljust(size, b".")[:size]}
            for i, size in zip(ids, sizes, strict=True)
        ])  # fmt: skip
        s.commit()
    reads: list[str] = []
    listen = lambda *args: reads.append(args[2])  # noqa: E731  (the statement's text)
    event.listen(engine, "before_cursor_execute", listen)
    try:
        with sessions() as session:
            batch = claim_batch(session, NOW, timedelta(minutes=5))
            reads.clear()
            contents = Contents(session, batch, budget)
            for claim, size in zip(batch, sizes, strict=True):
                got = contents.of(claim)
                assert got.content == f"<{claim.id}>".encode().ljust(size, b".")[:size]
                assert got.id == claim.id and got.attempts == claim.attempts
                # What is still held was read with it: together within the budget, unless
                # the message was read alone.
                assert contents.held() == 0 or contents.held() + size <= budget
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    content_reads = [r for r in reads if "message_contents" in r]
    if budget >= sum(sizes):
        assert len(content_reads) == 2  # the sizes, then every message's bytes at once
    if budget == 1:
        assert len(content_reads) == 1 + len(sizes)  # one message at a time


# --- planning ----------------------------------------------------------------------------


def _seeded(engine: Engine) -> int:
    with Session(engine) as s:
        result = import_file(s, SEED, None, "test", "end", load_directory(CONTACTS))
        s.commit()
        return s.scalars(select(Plan.id).where(Plan.slug == result.plan)).one()


def _plan_reminders(
    sessions: sessionmaker[Session], plan_id: int, config: RemindConfig, day: date
) -> RemindResult:
    """The lead-reminder job's planning, as a run at NOW with no mail backend does it."""
    result = catalogue.run("remind", Request(sessions, plan_id, config, day, clock=lambda: NOW))
    assert isinstance(result, RemindResult)
    return result


@pytest.mark.parametrize("record_bytes", [per_action.RECORD_BYTES, 1], ids=["batch", "each"])
def test_two_workers_planning_the_same_day_record_each_reminder_once(
    engine: Engine, record_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "each": every message is recorded in its own transaction as soon as it is rendered,
    # so three workers race message by message; each keeps what it recorded and decides the
    # rest of its batch again, as often as others get further.
    monkeypatch.setattr(per_action, "RECORD_BYTES", record_bytes)
    plan_id = _seeded(engine)
    config = remind_config(Settings(), load_directory(CONTACTS))
    sessions = session_factory(engine)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            _plan_reminders(sessions, plan_id, config, date(2012, 9, 24))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sessions() as s:
        per_recipient = s.execute(
            select(Message.recipient_email, func.count()).group_by(Message.recipient_email)
        ).all()
        keys = s.scalar(select(func.count(Notification.key.distinct())))
        rows = s.scalar(select(func.count()).select_from(Notification))
    assert per_recipient and all(n == 1 for _, n in per_recipient)
    assert keys == rows


def test_a_failed_message_is_reported_to_the_administrator_once(engine: Engine) -> None:
    plan_id = _seeded(engine)
    config = remind_config(Settings(), load_directory(CONTACTS))
    sessions = session_factory(engine)
    _plan_reminders(sessions, plan_id, config, date(2012, 9, 24))
    with sessions() as s:
        s.execute(
            update(Message)
            .where(Message.recipient_email == "audit-manager@example.org")
            .values(state="failed", last_error="550 5.1.1 No such user")
        )
        s.commit()
    notice = _plan_reminders(sessions, plan_id, config, date(2012, 9, 24))
    assert [d.recipient.email for d in notice.planned] == ["planworker-admin@example.org"]
    items = notice.planned[0].items
    assert {i.section for i in items} == {"undelivered"}
    assert all("550 5.1.1 No such user" in i.reason for i in items)
    later = _plan_reminders(sessions, plan_id, config, date(2012, 9, 25))
    assert all(i.section != "undelivered" for d in later.planned for i in d.items)


def test_upgrading_an_outbox_keeps_each_message_its_bytes_and_its_place(db_url: str) -> None:
    # A ledger written before message bytes moved to their own table: after the upgrade
    # each message still has its bytes and its place in the queue.
    engine = make_engine(db_url)
    upgrade(engine, "0005")
    content = b"From: Reminders <planworker@example.org>\r\nSubject: s\r\n\r\nbody\r\n"
    with engine.begin() as conn:
        plans = table_of(Plan)
        plan_id = conn.execute(
            insert(plans).values(slug="p", title="P").returning(plans.c.id)
        ).scalar_one()
        message = conn.execute(
            text(
                "INSERT INTO messages (plan_id, job, as_of, recipient_email, recipient_name,"
                " message_id, subject, content, state, attempts, created_at, next_attempt_at,"
                " receipt, last_error) VALUES (:plan, 'remind', '2012-09-24', 'lead@example.org',"
                " '', '<1@example.org>', 's', :content, 'pending', 0, :now, :now, '', '')"
                " RETURNING id"
            ),
            {"plan": plan_id, "content": content, "now": NOW},
        ).scalar_one()
    upgrade(engine)
    sessions = session_factory(engine)
    with sessions() as s:
        claim = claim_next(s, NOW, timedelta(minutes=5))
        assert claim is not None and claim.id == message and claim.content == content
        assert claim.sender == ""  # not stored then: read from the From header when sending
    engine.dispose()


@pytest.mark.postgres
def test_postgres_plans_each_ledger_lookup_for_its_own_keys(postgres_url: str) -> None:
    # psycopg prepares a statement it has run five times, and PostgreSQL would then keep one
    # plan for it, made while the ledger was empty: a scan of the whole ledger once it holds
    # hundreds of thousands of rows. Every lookup must be planned for what it looks up.
    engine = make_engine(postgres_url)
    upgrade(engine)
    with Session(engine) as s:
        keys = [f"lead@example.org|{n}|overdue|1|2012-09-24" for n in range(40)]
        for _ in range(12):
            assert existing_keys(s, keys) == set()
        plans = s.execute(
            text(
                "SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0) "
                "FROM pg_prepared_statements WHERE statement LIKE '%notifications.key = ANY%'"
            )
        ).one()
    engine.dispose()
    generic, custom = plans
    assert custom >= 6  # prepared by the driver, so a kept plan was possible
    assert generic == 0


# --- recording a large digest --------------------------------------------------------------


def _planned_with(keys: list[str], action_id: int, n: int) -> Planned:
    items = tuple(plain_item(key=key, action_id=action_id) for key in keys)
    to = Recipient(f"lead{n}@example.org", "Lead")
    digest = Digest(to, date(2012, 9, 24), "P", "O", items[:10], items[10:])
    return Planned(digest, b"Subject: s\r\n\r\nbody\r\n", f"<big{n}@example.org>", "s")


def _record(session: Session, plan_id: int, planned: list[Planned]) -> None:
    record(
        session,
        planned,
        plan_id=plan_id,
        job="remind",
        as_of=date(2012, 9, 24),
        now=NOW,
        sender="planworker@example.org",
    )


def test_a_digest_larger_than_one_statement_is_recorded_whole_or_not_at_all(
    engine: Engine,
) -> None:
    # A 1M-action plan's administrator gets tens of thousands of items in one message: the
    # ledger writes them several statements at a time, still in the one transaction.
    plan_id = _seeded(engine)
    sessions = session_factory(engine)
    with sessions() as s:
        action_id = s.scalars(select(Action.id).where(Action.plan_id == plan_id)).first()
    assert action_id is not None
    size = 2 * ROW_CHUNK + 7
    first = [f"k|{i}" for i in range(size)]
    with sessions() as s:
        _record(s, plan_id, [_planned_with(first, action_id, 1)])
        s.commit()
    with sessions() as s:
        assert set(s.scalars(select(Notification.key))) == set(first)
        assert existing_keys(s, first) == set(first)

    # A second message whose last statement meets a key already recorded: a race, and none of
    # its rows stay once the caller rolls back.
    second = [f"other|{i}" for i in range(size - 1)] + [first[-1]]
    with sessions() as s:
        with pytest.raises(LedgerRace):
            _record(s, plan_id, [_planned_with(second, action_id, 2)])
        s.rollback()
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == size
        assert s.scalar(select(func.count()).select_from(Message)) == 1


def test_a_run_on_an_in_memory_sqlite_database_decides_in_its_own_connection() -> None:
    """Another connection to `sqlite://` is another, empty, database: a run there must
    decide in the connection that holds the plan (jobs/pipeline.snapshot)."""
    engine = make_engine("sqlite://")
    try:
        upgrade(engine)
        plan_id = _seeded(engine)
        config = remind_config(Settings(), load_directory(CONTACTS))
        result = _plan_reminders(session_factory(engine), plan_id, config, date(2012, 9, 24))
    finally:
        engine.dispose()
    assert result.messages > 0 and result.render_errors == []
