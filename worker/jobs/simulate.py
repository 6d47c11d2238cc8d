"""`planworker simulate`: replay every working day of a period on a scratch copy of the
database, so an admin can see who would get what before going live. The real database is
only read."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert, select

from worker.db import make_engine, session_factory
from worker.jobs import catalogue
from worker.jobs.config import RemindConfig
from worker.jobs.pipeline import Request
from worker.jobs.results import DigestResult, RemindResult
from worker.models import Base
from worker.rules.board import listed_action_ids
from worker.rules.digest_day import digest_days
from worker.store.outbox import mark_sent

COPY_CHUNK = 5000
# The simulated run happens at this time of day, in the plan's time zone.
RUN_TIME = time(7, 0)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message of the timeline."""

    day: date
    job: str  # "remind", "escalate" or "digest"
    email: str
    name: str
    subject: str
    items: tuple[tuple[str, str, str], ...]  # (ref, section or RAG, rule)


def _copy(source: Engine, target: Engine) -> None:
    with source.connect() as read, target.begin() as write:
        for table in Base.metadata.sorted_tables:
            rows = read.execute(select(table)).mappings()
            while chunk := rows.fetchmany(COPY_CHUNK):
                write.execute(insert(table), [dict(r) for r in chunk])


@contextmanager
def scratch_copy(source: Engine) -> Iterator[Engine]:
    """A temporary SQLite database holding a copy of everything in `source`."""
    # Alembic is imported here, not with the module: the daily commands import this one.
    from worker.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="planworker-simulate-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'scratch.db'}")
        try:
            upgrade(engine)
            _copy(source, engine)
            yield engine
        finally:
            engine.dispose()


def _fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def simulate(
    source: Engine,
    plan_id: int,
    timezone: str,
    config: RemindConfig,
    first: date,
    last: date,
    *,
    jobs: Sequence[str] = ("remind", "escalate", "digest"),
    digest_weekday: int = 0,
) -> list[Delivery]:
    """Every message the jobs would send from first to last: the lead reminders and
    escalations every working day, the board digest on `digest_weekday` (0 = Monday) unless
    the digest's own rule skips that date (rules/digest_day.py: a bank holiday...)."""
    zone = ZoneInfo(timezone)
    timeline: list[Delivery] = []
    working = set(config.days.between(first, last))
    digests = set(digest_days(first, last, digest_weekday, config.days, config.digest_on_holidays))
    with scratch_copy(source) as engine:
        sessions = session_factory(engine)
        for day in sorted(working | digests):
            moment = datetime.combine(day, RUN_TIME, zone).astimezone(UTC)
            for job in jobs:
                if day in (digests if job == "digest" else working):
                    request = Request(sessions, plan_id, config, day, clock=_fixed(moment))
                    timeline.extend(_timeline(catalogue.run(job, request), job, day))
                # Planned and recorded as the real job would; "delivery" marks them sent at
                # once (sending is not what a simulation is about, and it is the slow part).
                with sessions() as session:
                    mark_sent(session, plan_id, moment, receipt="simulated")
                    session.commit()
    return timeline


def _timeline(result: RemindResult | DigestResult, job: str, day: date) -> list[Delivery]:
    if isinstance(result, DigestResult):
        return _digest(result, day)
    return [
        Delivery(
            day,
            job,
            note.recipient.email,
            note.recipient.name,
            note.subject,
            tuple((i.ref, i.section, i.rule) for i in note.items),
        )
        for note in result.planned
    ]


def _digest(result: DigestResult, day: date) -> list[Delivery]:
    board = result.digest
    if result.already_sent or board is None:
        return []
    # The actions the digest lists by name, each once (rules/board.py listed_action_ids): the
    # headline counts and the per-stream table are not entries a reader goes through.
    first: dict[int, tuple[str, str, str]] = {}
    for f in board.needs:
        first.setdefault(f.view.action_id, (f.view.ref, f.kinds[0], "; ".join(f.reasons)))
    for c in board.reported:
        first.setdefault(c.action_id, (c.ref, "reported", c.what))
    items = tuple(first[a] for a in listed_action_ids(board))
    return [
        Delivery(day, "digest", email, "", result.subject, items) for email in result.recipients
    ]
