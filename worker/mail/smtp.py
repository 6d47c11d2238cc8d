"""The SMTP mailer: one connection per run, TLS checked against the host name, and each
server's refusal sorted into worth retrying or not."""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from worker.mail.envelope import with_crlf
from worker.mail.errors import (
    DeadlinePassed,
    DeliveryError,
    PermanentError,
    TransientError,
    as_text,
    reply_error,
)
from worker.mail.mailer import Mailer
from worker.mail.smtp_conversation import BoundedSMTP, BoundedSMTPSSL, ConversationOver, Watch

# The logger name admins filter on, kept from before the module moved (logs are an interface).
log = logging.getLogger("worker.mail.backends")

Security = Literal["none", "starttls", "tls"]

_DEFAULT_PORTS: dict[str, int] = {"none": 25, "starttls": 587, "tls": 465}


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int | None
    security: Security
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0  # seconds of silence from the server before giving up
    # None means the system's trusted CAs; tests pass one that trusts their own CA.
    ssl_context: ssl.SSLContext | None = None
    # Seconds one message's whole conversation may take (connecting included): `timeout`
    # alone lets a server that trickles a byte at a time hold a run for ever.
    deadline: float = 180.0

    def __post_init__(self) -> None:
        if self.security not in _DEFAULT_PORTS:
            raise ValueError(f"unknown SMTP security {self.security!r}")
        if self.port is not None and not 0 < self.port < 65536:
            raise ValueError(f"SMTP port {self.port} is out of range")
        if self.timeout <= 0:
            raise ValueError("SMTP timeout must be positive")
        if self.deadline <= 0:
            raise ValueError("SMTP deadline must be positive")

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else _DEFAULT_PORTS[self.security]


class SmtpMailer(Mailer):
    """Sends through one SMTP connection, opened on the first message and kept for the run."""

    name = "smtp"

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._smtp: BoundedSMTP | None = None
        self._watch = Watch(config.timeout)
        # Whether the open connection has carried a message (a hang-up on one that has is
        # retried at once on a new one), and why opening it failed before the first send.
        self._proven = False
        self._unavailable: DeliveryError | None = None

    def stop_when(self, should_stop: Callable[[], bool]) -> None:
        """End a conversation in progress promptly once `should_stop()` is true (SIGTERM)."""
        self._watch.should_stop = should_stop

    def _start_conversation(self) -> None:
        self._watch.deadline = time.monotonic() + self._config.deadline

    @property
    def _where(self) -> str:
        return f"{self._config.host}:{self._config.effective_port}"

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        self._proven = False
        if smtp is not None:
            _quit(smtp)

    def size_limit(self) -> int | None:
        """The largest message the server says it takes (its SIZE extension), or None when
        it names no limit or cannot be reached now (sending will then say why). Opens the
        connection the run then sends over."""
        self._start_conversation()
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            return _server_size(self._smtp)
        except Exception as exc:
            self._drop()
            # The run's one attempt to connect: its first send reports this failure rather
            # than try again after planning (a busy server is asked once per run).
            error = self._over(exc) if isinstance(exc, ConversationOver) else self._classify(exc)
            error.backend = True
            self._unavailable = error
            log.info("SMTP server %s: cannot ask for its size limit: %s", self._where, exc)
            return None

    def check(self) -> None:
        # A connection of its own, so checking never disturbs the one used for sending.
        self._start_conversation()
        try:
            smtp = self._connect()
            try:
                code, text = smtp.noop()
                if code != 250:
                    raise smtplib.SMTPResponseException(code, text)
            finally:
                _quit(smtp)
        except Exception as exc:
            raise self._classify(exc) from exc

    def deliver(self, data: bytes, sender: str, recipients: tuple[str, ...]) -> str:
        data = with_crlf(data)
        # Like smtplib's send_message: addresses beyond ASCII need a server that speaks SMTPUTF8
        # (smtplib raises SMTPNotSupportedError, a permanent error, when it does not).
        ascii_only = sender.isascii() and all(addr.isascii() for addr in recipients)
        options = () if ascii_only else ("SMTPUTF8", "BODY=8BITMIME")
        if self._unavailable is not None:
            error, self._unavailable = self._unavailable, None
            raise error
        self._start_conversation()
        try:
            return self._send_or_resend(data, sender, recipients, options)
        except ConversationOver as over:
            # Whatever the server had of the message is abandoned with the connection.
            self._drop()
            raise self._over(over) from None

    def _send_or_resend(
        self, data: bytes, sender: str, to_addrs: tuple[str, ...], options: tuple[str, ...]
    ) -> str:
        reused = self._smtp is not None and self._proven
        try:
            return self._send_once(data, sender, to_addrs, options)
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            if not reused:
                raise self._classify(exc) from exc
            # Servers hang up on idle connections, which shows only at the next command: one
            # attempt on a fresh connection is what a hang-up between two messages needs.
            log.info("SMTP server %s closed the connection; reconnecting", self._where)
        except (DeliveryError, ConversationOver):
            raise
        except Exception as exc:
            raise self._fail(exc) from exc
        try:
            return self._send_once(data, sender, to_addrs, options)
        except (DeliveryError, ConversationOver):
            raise
        except Exception as exc:
            raise self._fail(exc) from exc

    def _over(self, over: ConversationOver) -> DeliveryError:
        if over.stopped:
            # Not the message's fault: it goes back to waiting, its attempt not counted.
            return TransientError(f"{self._where}: stopped while sending", backend=True)
        return DeadlinePassed(
            f"{self._where}: the server took longer than {self._config.deadline:g} seconds "
            "over one message (smtp.deadline_seconds); closed the connection"
        )

    def _send_once(
        self, data: bytes, from_addr: str, to_addrs: tuple[str, ...], options: tuple[str, ...]
    ) -> str:
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except ConversationOver:
                raise
            except Exception as exc:
                error = self._classify(exc)
                error.backend = True
                raise error from exc
        smtp = self._smtp
        limit = _server_size(smtp)
        if limit is not None and len(data) > limit:
            # Refused before sending it: the server would take it all in, then say 552.
            raise PermanentError(
                f"{self._where}: the message is {_kib(len(data))}, more than the "
                f"{_kib(limit)} the server takes (its SIZE limit)"
            )
        refused = smtp.sendmail(from_addr, list(to_addrs), data, mail_options=options)
        self._proven = True
        if refused:
            # Delivered to some recipients only: say so rather than pretend success, and name
            # who has the message so that a retry need not send it to them twice.
            accepted = [addr for addr in to_addrs if addr not in refused]
            raise _refused_error(refused, self._where, accepted)
        code, text = smtp.data_reply
        return f"{code} {as_text(text)}"

    def _connect(self) -> BoundedSMTP:
        config = self._config
        context = config.ssl_context or ssl.create_default_context()
        # Connecting in the constructor is what makes smtplib verify TLS against this host name.
        smtp: BoundedSMTP
        host, port, watch = config.host, config.effective_port, self._watch
        if config.security == "tls":
            smtp = BoundedSMTPSSL(host, port, timeout=config.timeout, context=context, watch=watch)
        else:
            smtp = BoundedSMTP(host, port, timeout=config.timeout, watch=watch)
        try:
            smtp.ehlo_or_helo_if_needed()
            if config.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo_or_helo_if_needed()  # capabilities change once encrypted
            if config.username:
                smtp.login(config.username, config.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        self._proven = False
        if smtp is not None:
            smtp.close()

    def _fail(self, exc: Exception) -> DeliveryError:
        # smtplib resets the transaction after a refusal, so the connection stays usable;
        # after anything else its state is unknown and the next message starts afresh.
        if not isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused):
            self._drop()
        else:
            self._proven = True  # the server answered over it
        return self._classify(exc)

    def _classify(self, exc: BaseException) -> DeliveryError:
        error = _classify_smtp(exc, self._where, self._config.username)
        password = self._config.password
        if password and password in error.reason:
            # Belt and braces: a server echoing the secret must not put it in our logs.
            error.reason = error.reason.replace(password, "***")
            error.args = (error.reason,)
        return error


def _classify_smtp(exc: BaseException, where: str, username: str) -> DeliveryError:
    # SMTPException derives from OSError, so the SMTP cases must come first.
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _refused_error(exc.recipients, where)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply_refused(exc, where, username)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientError(f"{where}: connection closed by the server: {exc}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentError(f"{where}: not supported by the server: {exc}")
    if isinstance(exc, smtplib.SMTPException):
        return PermanentError(f"{where}: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        # Retrying cannot fix a certificate we do not trust; someone has to look at it.
        return PermanentError(f"{where}: TLS certificate not trusted: {exc.verify_message}")
    if isinstance(exc, OSError):
        return TransientError(f"cannot reach SMTP server {where}: {exc}")
    if isinstance(exc, UnicodeError | ValueError | LookupError):
        return PermanentError(f"{where}: cannot send the message: {exc}")
    return PermanentError(f"{where}: unexpected {type(exc).__name__}: {exc}")


def _reply_refused(exc: smtplib.SMTPResponseException, where: str, username: str) -> DeliveryError:
    """A server's refusal of a command, saying which: logging in, the sender, the message."""
    reply = f"{exc.smtp_code} {as_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        what = f"login as {username!r} failed: {reply}"
    elif isinstance(exc, smtplib.SMTPSenderRefused):
        what = f"sender <{exc.sender}> refused: {reply}"
    elif isinstance(exc, smtplib.SMTPDataError):
        what = f"message refused: {reply}"
    else:
        what = f"server replied {reply}"
    return reply_error(exc.smtp_code, f"{where}: {what}")


def _refused_error(
    recipients: Mapping[str, tuple[int, bytes]], where: str, accepted: Sequence[str] = ()
) -> DeliveryError:
    refused = {addr: (code, as_text(text)) for addr, (code, text) in recipients.items()}
    listed = "; ".join(f"{addr}: {code} {text}" for addr, (code, text) in refused.items())
    all_transient = all(400 <= code < 500 for code, _ in refused.values())
    cls = TransientError if all_transient else PermanentError
    return cls(f"{where}: recipient(s) refused: {listed}", refused=refused, accepted=accepted)


def _server_size(smtp: smtplib.SMTP) -> int | None:
    """The SIZE a server offered in its EHLO reply; None when it gave none (or "SIZE 0")."""
    value = smtp.esmtp_features.get("size", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def _kib(size: int) -> str:
    return f"{size / 1024:,.0f} KB"


def _quit(smtp: smtplib.SMTP) -> None:
    # Saying goodbye is a courtesy; a server that already hung up is no problem.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
