"""Emailing a fresh link: a lead whose link has expired (or was mangled in copying) asks for
a new one by address. A link is sent only to an address the contacts directory knows (a
lead's post, the administrator, a board member), and only by email, so asking for someone
else's sends it to them, not to whoever asked; the page answers the same either way, so it
does not tell who is a contact. The message goes through the outbox like every other.

How many an address was sent lately is counted in the outbox, not only in one process's
memory: with several instances of the web app behind a proxy, or after a restart, an address
still gets at most FRESH_PER_EMAIL of them an hour."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from worker.contacts import Directory
from worker.jobs.compose import envelope, environment
from worker.jobs.config import RemindConfig
from worker.mail.message import message_id_for
from worker.mail.templating import render_email
from worker.models import Message, Plan
from worker.moments import in_zone
from worker.rules import requests
from worker.rules.digest import Recipient
from worker.store.outbox import insert_message
from worker.web import links
from worker.web.limits import FRESH_PER_EMAIL

JOB = "fresh-link"  # the outbox's job of these messages
MAX_ADDRESS = 320  # the longest address SMTP carries
# Any fixed number: the PostgreSQL advisory lock that makes counting and queueing one step.
FRESH_LINK_LOCK = 0x66726C6B  # "frlk"


def known(directory: Directory, email: str) -> Recipient | None:
    """The directory's person with this address, or None (an over-long one is no one's)."""
    return None if len(email) > MAX_ADDRESS else requests.known(directory, email)


def queue_fresh_link(
    session: Session,
    plan: Plan,
    config: RemindConfig,
    to: Recipient,
    *,
    key: str,
    base_url: str,
    link_days: int,
    now: datetime,
) -> bool:
    """Put a message with a new lead link for `to` in the outbox (the caller delivers);
    False, and nothing queued, when `to` has had FRESH_PER_EMAIL's number of them within
    its window. It is dated as the plan tells the day, as every other message is."""
    if session.get_bind().dialect.name == "postgresql":
        # Two instances asked at once would each count what the other has not committed:
        # one at a time. (SQLite's transactions begin with the write lock: one at a time.)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FRESH_LINK_LOCK})
    if sent_lately(session, plan.id, to.email, now) >= FRESH_PER_EMAIL.limit:
        return False
    day = in_zone(now, plan.timezone).date()
    token = links.sign(key, plan.id, to.email, links.LEAD, now)
    context = {
        "name": to.name,
        "plan_title": plan.title,
        "organisation": plan.organisation,
        "link": links.link(base_url, token),
        "link_days": link_days,
    }
    rendered = render_email(environment(config), "fresh_link", context)
    message_id = message_id_for(
        f"{JOB}|{plan.id}|{to.email.lower()}|{now.isoformat()}", config.mail_domain()
    )
    content = envelope(rendered, config, to, message_id, now, JOB, day)
    insert_message(
        session,
        plan_id=plan.id,
        job=JOB,
        as_of=day,
        recipient=to,
        content=content,
        sender=config.identity.sender.addr_spec,
        message_id=message_id,
        subject=rendered.subject,
        now=now,
    )
    session.commit()
    return True


def sent_lately(session: Session, plan_id: int, email: str, now: datetime) -> int:
    """How many fresh links went into the outbox for `email` within FRESH_PER_EMAIL's
    window before `now`, by any instance."""
    since = now - timedelta(seconds=FRESH_PER_EMAIL.seconds)
    query = select(func.count()).where(
        Message.plan_id == plan_id,
        Message.job == JOB,
        Message.recipient_email == email,  # as queue_fresh_link stores it: the directory's
        Message.created_at > since,
    )
    return session.scalar(query) or 0
