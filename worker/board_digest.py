"""The board digest job: build the board's view as of a date, mail it to every board member
once (a second run on the same date sends nothing), and remember what it saw so the next
digest can say what changed. Also the board report written to a file.

A digest dated on a non-working day is skipped (rules/digest_day.py). A digest dated after
today (within the as-of horizon) is sent but not recorded as that date's digest, so the real
one still goes out on the day and is compared with the last real one (rules/as_of.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from worker.delivery import deliver_and_notify
from worker.mail.backends import Mailer
from worker.mail.board import render_board_digest
from worker.mail.render import make_address, message_bytes, message_id_for
from worker.models import (
    Action,
    BoardDigestEntry,
    BoardDigestRun,
    Message,
    Phase,
    Plan,
    WorkStream,
)
from worker.remind import RemindConfig, load_facts, mail_domain, template_environment
from worker.rules.as_of import is_ahead, key_suffix
from worker.rules.board import BoardDigest, RagName
from worker.rules.board_view import Seen, StreamInfo, build_board_digest
from worker.rules.digest import Recipient
from worker.rules.digest_day import digest_skipped
from worker.rules.reminders import PlanFacts
from worker.store.contacts import sync_directory
from worker.store.outbox import DeliveryReport, insert_message
from worker.store.plan import reread_dates

JOB = "digest"


@dataclass(slots=True)
class DigestResult:
    as_of: date
    digest: BoardDigest | None  # None when skipped
    already_sent: bool  # a digest for this date exists: nothing new was planned
    skipped: str = ""  # why no digest goes out on this date (a bank holiday...)
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    delivery: DeliveryReport | None = None

    @property
    def failures(self) -> int:
        """Messages refused for good in this run: more than 0, a failed run."""
        return self.delivery.failed if self.delivery is not None else 0


def _previous(session: Session, plan_id: int, as_of: date) -> tuple[date, dict[int, Seen]] | None:
    last = session.scalars(
        select(BoardDigestRun)
        .where(BoardDigestRun.plan_id == plan_id, BoardDigestRun.as_of < as_of)
        .order_by(BoardDigestRun.as_of.desc())
        .limit(1)
    ).first()
    if last is None:
        return None
    rows = session.execute(
        select(BoardDigestEntry.action_id, BoardDigestEntry.rag, BoardDigestEntry.state).where(
            BoardDigestEntry.digest_id == last.id
        )
    )
    return last.as_of, {a: Seen(rag, state) for a, rag, state in rows}  # type: ignore[arg-type]


def board_view(
    session: Session, plan: Plan, config: RemindConfig, as_of: date
) -> tuple[BoardDigest, dict[int, Seen]]:
    """The digest's content as of a date (read only)."""
    condition = (Action.plan_id == plan.id) & Action.archived.is_(False)
    facts = load_facts(session, condition, plan.id, as_of)
    streams = [
        StreamInfo(ws.number, ws.title, ws.phase, ws.strategic_lead)
        for ws in session.scalars(select(WorkStream).where(WorkStream.plan_id == plan.id))
    ]
    phases = dict(
        session.execute(select(Phase.number, Phase.title).where(Phase.plan_id == plan.id)).all()
    )
    return build_board_digest(
        facts,
        streams,
        PlanFacts(plan.title, plan.organisation),
        phases,
        _previous(session, plan.id, as_of),
        config.rag,
        as_of,
    )


def _board(config: RemindConfig) -> list[Recipient]:
    board = [Recipient(p.email, p.name) for p in config.directory.board]
    # A directory with no board still must not let Red sit unnoticed: the administrator reads it.
    admin = config.directory.administrator
    return board or [Recipient(admin.email, admin.name)]


def plan_digest(
    sessions: sessionmaker[Session],
    plan_id: int,
    config: RemindConfig,
    as_of: date,
    now: datetime,
    *,
    dry_run: bool = False,
    today: date | None = None,
) -> DigestResult:
    """Build, render and (unless a dry run or already done) record the digest. `today` is
    the wall-clock date (None: `as_of` is not after it)."""
    skipped = digest_skipped(as_of, config.days, config.digest_on_holidays)
    if skipped:
        return DigestResult(as_of, None, already_sent=False, skipped=skipped)
    ahead = is_ahead(as_of, today)
    recipients = _board(config)
    domain = mail_domain(config.identity.sender)
    suffix = key_suffix(as_of, today)
    message_ids = {
        r.email: message_id_for(f"{JOB}|{plan_id}|{as_of}|{r.email.lower()}{suffix}", domain)
        for r in recipients
    }
    with sessions() as session:
        plan = session.get_one(Plan, plan_id)
        sync_directory(session, config.directory)
        reread_dates(session, plan, config.month_day)
        if ahead:
            done = session.scalars(
                select(Message.id).where(Message.message_id.in_(list(message_ids.values())))
            ).first()
        else:
            done = session.scalars(
                select(BoardDigestRun.id).where(
                    BoardDigestRun.plan_id == plan_id, BoardDigestRun.as_of == as_of
                )
            ).first()
        digest, seen = board_view(session, plan, config, as_of)
        result = DigestResult(as_of, digest, already_sent=done is not None)
        rendered = render_board_digest(template_environment(tuple(config.templates)), digest)
        result.subject = rendered.subject
        result.recipients = [r.email for r in recipients]
        if dry_run or done is not None:
            session.rollback()
            return result
        if not ahead:
            try:
                _record_seen(session, plan_id, as_of, now, seen)
            except IntegrityError:
                # Another worker recorded this date's digest first.
                session.rollback()
                result.already_sent = True
                return result
        for recipient in recipients:
            message_id = message_ids[recipient.email]
            content = message_bytes(
                rendered,
                sender=config.identity.sender,
                to=make_address(recipient.name, recipient.email),
                reply_to=config.identity.reply_to,
                message_id=message_id,
                date=now,
                headers={"X-Planworker-Job": f"{JOB} {as_of.isoformat()}"},
            )
            insert_message(
                session,
                plan_id=plan_id,
                job=JOB,
                as_of=as_of,
                recipient=recipient,
                content=content,
                sender=config.identity.sender.addr_spec,
                message_id=message_id,
                subject=rendered.subject,
                now=now,
            )
        session.commit()
        return result


def _record_seen(
    session: Session, plan_id: int, as_of: date, now: datetime, seen: dict[int, Seen]
) -> None:
    """Record this date's digest and what it saw, for the next one to compare against."""
    run = session.execute(
        insert(BoardDigestRun).returning(BoardDigestRun.id),
        {"plan_id": plan_id, "as_of": as_of, "created_at": now},
    ).scalar_one()
    entries = [
        {"digest_id": run, "action_id": a, "rag": s.rag, "state": s.state} for a, s in seen.items()
    ]
    if entries:
        session.execute(insert(BoardDigestEntry), entries)


def run_digest(
    sessions: sessionmaker[Session],
    plan_id: int,
    config: RemindConfig,
    as_of: date,
    *,
    clock: Callable[[], datetime],
    mailer: Mailer | None,
    dry_run: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
    today: date | None = None,
) -> DigestResult:
    result = plan_digest(sessions, plan_id, config, as_of, clock(), dry_run=dry_run, today=today)
    if not dry_run and mailer is not None and not result.skipped:
        result.delivery = deliver_and_notify(
            sessions,
            mailer,
            config,
            plan_id=plan_id,
            as_of=as_of,
            clock=clock,
            should_stop=should_stop,
        )
    return result


def effective_counts(digest: BoardDigest) -> dict[RagName, int]:
    totals: dict[RagName, int] = {"red": 0, "amber": 0, "green": 0, "none": 0}
    for s in digest.streams:
        totals["red"] += s.red
        totals["amber"] += s.amber
        totals["green"] += s.green
        totals["none"] += s.none
    return totals
