"""Building the jobs' inputs from the settings: the reminder config and the mail backend."""

from __future__ import annotations

import ssl
import sys
from datetime import timedelta
from email.headerregistry import Address
from pathlib import Path
from typing import TextIO

from worker.contacts import Directory
from worker.errors import InputError, Problem
from worker.jobs.config import MailIdentity, RemindConfig, RequestConfig
from worker.jobs.deliver import RetryPolicy
from worker.mail.backends import Mailer, make_mailer
from worker.mail.headers import make_address
from worker.mail.smtp import SmtpConfig
from worker.rules.escalation import EscalationPolicy
from worker.rules.rag import RagPolicy
from worker.rules.workdays import WorkingDays
from worker.settings import Settings
from worker.shipped import shipped
from worker.web.links import Signer

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")

# The shipped templates: inside the installed package, or the checkout's templates/.
SHIPPED_TEMPLATES = shipped("templates")


def template_folders(settings: Settings) -> list[Path]:
    """An admin's folder first (its files win), then the shipped one."""
    folders = []
    if settings.templates_dir is not None:
        if not settings.templates_dir.is_dir():
            raise InputError(
                "configuration",
                [Problem("templates_dir", f"{settings.templates_dir} is not a folder")],
            )
        folders.append(settings.templates_dir)
    return [*folders, SHIPPED_TEMPLATES]


def identity(settings: Settings, directory: Directory) -> MailIdentity:
    mail = settings.mail
    sender = make_address(mail.from_name, mail.from_address)
    admin = directory.administrator
    reply_to: Address = (
        make_address("", mail.reply_to) if mail.reply_to else make_address(admin.name, admin.email)
    )
    return MailIdentity(sender, reply_to)


def remind_config(settings: Settings, directory: Directory, *, links: bool = True) -> RemindConfig:
    """The jobs' config; `links=False` for a command that sends no message (the key is not
    read then)."""
    mail = settings.mail
    return RemindConfig(
        directory=directory,
        policy=settings.reminders.policy(),
        days=WorkingDays(settings.reminders.closed_days),
        month_day=settings.dates.month_day,
        templates=template_folders(settings),
        identity=identity(settings, directory),
        retry=RetryPolicy(
            max_attempts=mail.max_attempts,
            retry_after=timedelta(seconds=mail.retry_after_seconds),
            lease=timedelta(seconds=mail.lease_seconds),
            send_deadline=timedelta(seconds=settings.send_deadline),
        ),
        rag=settings.rag.as_dataclass(RagPolicy),
        escalation=settings.escalation.as_dataclass(EscalationPolicy),
        digest_on_holidays=settings.digest.on_holidays,
        digest_weekday=WEEKDAYS.index(settings.digest.weekday),
        digest_long_red_weeks=settings.digest.long_red_weeks,
        digest_report_url=settings.digest.report_url,
        max_message_bytes=mail.max_message_kb * 1024,
        links=link_signer(settings) if links else None,
        requests=request_config(settings),
    )


def request_config(settings: Settings) -> RequestConfig:
    """The requests' settings; links only when the leads' page is set up (its address and
    key file given: a key file given but unreadable is an error, not a silent fallback)."""
    web, requests = settings.web, settings.requests
    links = bool(web.base_url and web.secret_key_file)
    return RequestConfig(
        days_before_digest=requests.days_before_digest,
        chase_after_days=requests.chase_after_days,
        base_url=web.base_url if links else "",
        key=web.secret_key() if links else "",
        link_days=web.link_days,
    )


def link_signer(settings: Settings) -> Signer | None:
    """What signs the links in messages, with the key read now (once per run); None when
    web.base_url or web.secret_key_file is not set. A key file that is set but unreadable
    or too short is an error that names it, not a silent message without links."""
    web = settings.web
    if not web.base_url or web.secret_key_file is None:
        return None
    return Signer(web.base_url, web.secret_key(), web.link_days)


def mailer(settings: Settings, stream: TextIO = sys.stdout) -> Mailer:
    smtp = settings.smtp
    config = smtp.as_dataclass(
        SmtpConfig,
        password=smtp.password.get_secret_value(),
        deadline=settings.send_deadline,
        ssl_context=ssl.create_default_context(cafile=smtp.ca_file) if smtp.ca_file else None,
    )
    return make_mailer(
        settings.mail.backend, smtp=config, maildir=settings.mail.maildir, stream=stream
    )


def where(settings: Settings) -> str:
    """Where messages go, for people: never includes a password."""
    mail = settings.mail
    if mail.backend == "maildir":
        return f"the Maildir folder {mail.maildir}"
    if mail.backend == "smtp":
        port = settings.smtp.port or "default port"
        return f"the SMTP server {settings.smtp.host}:{port} ({settings.smtp.security})"
    return "standard output"
