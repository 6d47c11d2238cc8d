"""Messages the mail server refused or could not take: new messages fitted to the size the
server takes, and the administrator told of refused ones by a path that does not depend on
them: a small plain notice, queued and sent at once, besides the failed rows that
`planworker outbox --state failed` lists (docs/ledger.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from worker.jobs.config import RemindConfig
from worker.mail.backends import Mailer
from worker.mail.envelope import message_bytes
from worker.mail.message import message_id_for
from worker.models import Message
from worker.rules.digest import Recipient
from worker.store.outbox import insert_message

NOTICE_JOB = "notice"
# The notice names this many refused messages; the rest are counted (it must stay small).
NOTICE_LISTED = 20
REASON_CHARS = 300


def fitted_to_server(config: RemindConfig, mailer: Mailer | None) -> RemindConfig:
    """`config` with its message size limit lowered to the server's SIZE, when the server
    offers a smaller one (asked on a connection of its own; no answer changes nothing)."""
    server = mailer.size_limit() if mailer is not None else None
    if server is not None and 0 < server < config.max_message_bytes:
        return replace(config, max_message_bytes=server)
    return config


def failure_notice(
    failed: Sequence[tuple[str, str, str]], config: RemindConfig, as_of: date, now: datetime
) -> tuple[EmailMessage, str]:
    """The administrator's plain notice of refused messages, given (recipient, subject,
    server's reason) for each, and its Message-ID (pure)."""
    admin = config.directory.administrator
    count = len(failed)
    lines = [
        f"The mail server refused {count} message{'s' if count != 1 else ''} from planworker "
        f"(run for {as_of.isoformat()}). They will not be tried again:",
        "",
    ]
    for to, subject, reason in failed[:NOTICE_LISTED]:
        lines += [f"- to {to}: {subject}", f"  {_short(reason)}"]
    if count > NOTICE_LISTED:
        lines.append(f"- and {count - NOTICE_LISTED} more")
    lines += [
        "",
        "Each one, with the actions it listed and why, is in `planworker outbox --state failed`;",
        "`planworker report` writes the whole plan to a file. Once the cause is fixed (an",
        "address, the size limit), the actions' leads can be sent that information by hand.",
    ]
    domain = config.mail_domain()
    key = "\n".join(sorted(f"{to}|{subject}" for to, subject, _ in failed))
    message_id = message_id_for(f"{NOTICE_JOB}|{as_of.isoformat()}|{now.isoformat()}|{key}", domain)
    message = EmailMessage()
    message["Subject"] = f"Not delivered: {count} message{'s' if count != 1 else ''} refused"
    message["From"] = config.identity.sender
    message["To"] = f"{admin.name} <{admin.email}>" if admin.name else admin.email
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-Planworker-Job"] = f"{NOTICE_JOB} {as_of.isoformat()}"
    message.set_content("\n".join(lines) + "\n")
    return message, message_id


def _short(reason: str) -> str:
    flat = " ".join(reason.split())
    return flat if len(flat) <= REASON_CHARS else flat[: REASON_CHARS - 1] + "…"


def queue_failure_notice(
    session: Session,
    plan_id: int,
    config: RemindConfig,
    failed_ids: Sequence[int],
    as_of: date,
    now: datetime,
) -> bool:
    """Queue the plain notice for these failed messages (notices themselves excluded, so a
    refused notice never begets another). Commits; whether one was queued."""
    rows = session.execute(
        select(Message.recipient_email, Message.subject, Message.last_error)
        .where(Message.id.in_(list(failed_ids)), Message.job != NOTICE_JOB)
        .order_by(Message.id)
    ).all()
    if not rows:
        return False
    failed = [(to, subject, reason) for to, subject, reason in rows]
    message, message_id = failure_notice(failed, config, as_of, now)
    admin = config.directory.administrator
    insert_message(
        session,
        plan_id=plan_id,
        job=NOTICE_JOB,
        as_of=as_of,
        recipient=Recipient(admin.email, admin.name),
        content=message_bytes(message),
        sender=config.identity.sender.addr_spec,
        message_id=message_id,
        subject=str(message["Subject"]),
        now=now,
    )
    session.commit()
    return True
