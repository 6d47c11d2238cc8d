"""The mail settings: the backend and sender ([mail]) and the mail server ([smtp])."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from worker.contacts import Address, DisplayName, OptionalAddress
from worker.settings.sections import Section


class MailSettings(Section):
    # smtp: a mail server ([smtp] below); maildir: files in a Maildir folder any mail client
    # can open; console: printed to standard output.
    backend: Literal["smtp", "maildir", "console"] = "maildir"
    maildir: Path = Path("var/outbox")
    from_address: Address = "planworker@example.org"
    # One line of at most 200 characters, for the From: header.
    from_name: DisplayName = "Action plan reminders"
    # Where replies go; empty: the plan administrator in the contacts directory.
    reply_to: OptionalAddress = ""
    # A message that keeps failing for a passing reason is retried with growing waits,
    # `retry_after_seconds` doubled each time, and given up after `max_attempts`.
    max_attempts: int = Field(default=8, ge=1, le=100)
    retry_after_seconds: int = Field(default=60, ge=0)
    # A message claimed by a worker that then died is sent again after this long.
    lease_seconds: int = Field(default=300, ge=1)
    # The largest message sent, in KiB (less when the server's SIZE says so): a longer
    # reminder is split into parts ("part 1 of 3"), each listing some of the actions.
    max_message_kb: int = Field(default=10240, ge=64, le=100 * 1024)


class SmtpSettings(Section):
    host: str = "localhost"
    # Empty: 25 without TLS, 587 with STARTTLS, 465 with implicit TLS.
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: str = ""
    # Give the password in PLANWORKER_SMTP__PASSWORD or, better, a file readable only by
    # planworker (PLANWORKER_SMTP__PASSWORD_FILE, e.g. a container secret). Never logged.
    password: SecretStr = SecretStr("")
    password_file: Path | None = None
    timeout: float = Field(default=30.0, gt=0, le=600)
    # The longest one message's whole conversation with the server may take; past it the
    # connection is closed and the message retried later. Must be less than
    # mail.lease_seconds; empty: 180, or 90% of the lease when that is shorter.
    deadline_seconds: float | None = Field(default=None, gt=0, le=3600)
    # Certificates to trust for the server (PEM), e.g. a council's own CA; default: the system's.
    ca_file: Path | None = None
    # Logging in with security = "none" sends the password unencrypted: refused unless this
    # is set, for a relay on this machine or a network the council trusts.
    allow_plaintext_login: bool = False

    @field_validator("ca_file")
    @classmethod
    def _ca_file(cls, value: Path | None) -> Path | None:
        try:
            is_file = value is None or value.is_file()
        except OSError as exc:  # a name too long for the file system, say
            raise ValueError(f"cannot use {value}: {exc.strerror}") from None
        if not is_file:
            raise ValueError(f"{value} is not a file")
        return value

    @model_validator(mode="after")
    def _no_plaintext_password(self) -> SmtpSettings:
        if self.security == "none" and self.username and not self.allow_plaintext_login:
            raise ValueError(
                'security = "none" with a username would send the password unencrypted: use '
                '"starttls" or "tls", or set allow_plaintext_login = true for a server on '
                "this machine or a trusted network"
            )
        return self

    @model_validator(mode="after")
    def _password_from_file(self) -> SmtpSettings:
        if self.password_file is None:
            return self
        if self.password.get_secret_value():
            raise ValueError("give password or password_file, not both")
        try:
            text = self.password_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"password_file {self.password_file}: {exc.strerror}") from None
        self.password = SecretStr(text.rstrip("\r\n"))
        return self
