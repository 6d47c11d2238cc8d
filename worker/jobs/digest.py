"""The board digest job: build the board's view as of a date, mail it to every board member
once (a second run on the same date sends nothing), and remember what it saw so the next
digest can say what changed. Also the board's view for the report written to a file.

A digest dated on a non-working day is skipped (rules/digest_day.py). A digest dated after
today (within the as-of horizon) is sent but not recorded as that date's digest, so the real
one still goes out on the day and is compared with the last real one (rules/as_of.py)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from worker.jobs.actions import FACTS_CHUNK
from worker.jobs.compose import envelope, environment
from worker.jobs.config import RemindConfig
from worker.jobs.pipeline import Job, Request, prepare, snapshot
from worker.jobs.results import DigestResult
from worker.mail.board import render_board_digest
from worker.mail.message import message_id_for
from worker.models import Plan
from worker.rules.as_of import is_ahead, key_suffix
from worker.rules.board import BoardDigest
from worker.rules.board_changes import SeenLog
from worker.rules.board_view import BoardTally, cycle_start
from worker.rules.digest import Recipient
from worker.rules.digest_day import digest_skipped
from worker.rules.reminders import PlanFacts
from worker.store import board
from worker.store.facts import chunk_bounds, load_facts, plan_actions
from worker.store.outbox import insert_message
from worker.store.status import plan_risks


def board_view(
    session: Session,
    plan: Plan,
    config: RemindConfig,
    as_of: date,
    chunk_size: int = FACTS_CHUNK,
) -> tuple[BoardDigest, SeenLog]:
    """The digest's content as of a date (read only). The plan is read `chunk_size` actions
    at a time, with what the previous digest saw of them, so memory holds one chunk's facts
    and the digest, not every action's facts."""
    last = board.last_digest(session, plan.id, as_of)
    previous = last[1] if last else None
    start = cycle_start(previous, as_of)
    tally = BoardTally(
        board.streams(session, plan.id),
        PlanFacts(plan.title, plan.organisation, plan.timezone),
        board.phases(session, plan.id),
        previous,
        config.rag,
        as_of,
        cycle=board.cycle(session, plan.id, start, as_of, plan.timezone),
        long_red_weeks=config.digest_long_red_weeks,
        report_url=config.digest_report_url,
    )
    risks = plan_risks(session, plan.id, as_of)  # read once, not per chunk
    seen = SeenLog()
    # Chunks are id ranges, not plan order: each action's position puts it back in place.
    for chunk in chunk_bounds(session, plan_actions(plan.id), chunk_size):
        facts = load_facts(session, chunk, plan.id, as_of, risks, acknowledged=True)
        if not facts:
            continue
        order, before = board.places(session, chunk, last[0] if last else None)
        seen.update(tally.add(facts, [order[f.id] for f in facts], before))
    return tally.digest(), seen


def _board(config: RemindConfig) -> list[Recipient]:
    members = [Recipient(p.email, p.name) for p in config.directory.board]
    # A directory with no board still must not let Red sit unnoticed: the administrator reads it.
    admin = config.directory.administrator
    return members or [Recipient(admin.email, admin.name)]


def plan_digest(job: Job, request: Request, now: datetime) -> DigestResult:
    """Build, render and (unless a dry run or already done) record the digest."""
    r, config = request, request.config
    skipped = digest_skipped(r.as_of, config.days, config.digest_on_holidays)
    if skipped:
        return DigestResult(r.as_of, None, already_sent=False, skipped=skipped)
    ahead = is_ahead(r.as_of, r.today)
    recipients = _board(config)
    suffix = key_suffix(r.as_of, r.today)
    message_ids = {
        to.email: message_id_for(
            f"{job.name}|{r.plan_id}|{r.as_of}|{to.email.lower()}{suffix}", config.mail_domain()
        )
        for to in recipients
    }

    def sent(session: Session) -> bool:
        if ahead:
            return board.any_queued(session, message_ids.values())
        return board.done(session, r.plan_id, r.as_of)

    with r.sessions() as session, snapshot(r, session) as reader:
        prepare(session, session.get_one(Plan, r.plan_id), config)
        if not r.dry_run:
            session.commit()
        # The view is read and rendered from a snapshot: the write lock only to record it.
        plan = reader.get_one(Plan, r.plan_id)
        done = sent(reader)
        digest, seen = board_view(reader, plan, config, r.as_of)
        result = DigestResult(r.as_of, digest, already_sent=done)
        rendered = render_board_digest(environment(config), digest)
        result.subject = rendered.subject
        result.recipients = [to.email for to in recipients]
        if r.dry_run or done:
            session.rollback()
            return result
        if sent(session):  # another worker's, since the snapshot
            result.already_sent = True
            return result
        if not ahead:
            try:
                board.record_seen(session, r.plan_id, r.as_of, now, seen.items())
            except IntegrityError:
                # Another worker recorded this date's digest first.
                session.rollback()
                result.already_sent = True
                return result
        for to in recipients:
            message_id = message_ids[to.email]
            insert_message(
                session,
                plan_id=r.plan_id,
                job=job.name,
                as_of=r.as_of,
                recipient=to,
                content=envelope(rendered, config, to, message_id, now, job.name, r.as_of),
                sender=config.identity.sender.addr_spec,
                message_id=message_id,
                subject=rendered.subject,
                now=now,
            )
        session.commit()
        return result


JOB = Job(name="digest", template="digest", schedule="digest", plan=plan_digest)
