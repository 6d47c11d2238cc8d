"""Where reminder e-mails go: an SMTP server, a Maildir folder, the console or a list in memory.

Every backend is a `Mailer` (worker/mail/mailer.py), one module each; the rest of the worker
names the type from here and gets a configured one from `make_mailer`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal, TextIO

from worker.mail.console import ConsoleMailer
from worker.mail.maildir import MaildirMailer
from worker.mail.mailer import Mailer
from worker.mail.memory import MemoryMailer
from worker.mail.smtp import SmtpConfig, SmtpMailer

Backend = Literal["smtp", "maildir", "console", "memory"]


def make_mailer(
    backend: Backend,
    *,
    smtp: SmtpConfig | None,
    maildir: Path | None,
    stream: TextIO | None = None,
) -> Mailer:
    if backend == "smtp":
        if smtp is None:
            raise ValueError("the smtp mail backend needs an SMTP configuration (host, port…)")
        return SmtpMailer(smtp)
    if backend == "maildir":
        if maildir is None:
            raise ValueError("the maildir mail backend needs the path of the Maildir folder")
        return MaildirMailer(maildir)
    if backend == "console":
        return ConsoleMailer(stream if stream is not None else sys.stdout)
    if backend == "memory":
        return MemoryMailer()
    raise ValueError(f"unknown mail backend {backend!r}")


__all__ = ["Backend", "Mailer", "make_mailer"]
