"""Where reminder e-mails go: an SMTP server, a Maildir folder, the console or a list in memory.

Every backend takes one finished message as bytes (RFC 5322, CRLF line ends, as rendered once
by `message_bytes`) plus its envelope sender and recipients, and either returns a short receipt
or raises a DeliveryError saying whether trying again later can help. The bytes are passed on
as they are: parsing and re-serialising every message would cost more than sending it.
"""

from __future__ import annotations

import email.policy
import errno
import logging
import mailbox
import re
import smtplib
import socket
import ssl
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.errors import MessageError
from email.message import EmailMessage, Message, MIMEPart
from email.utils import getaddresses
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, Self, TextIO

from email_validator import EmailNotValidError, validate_email

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = logging.getLogger(__name__)

Security = Literal["none", "starttls", "tls"]
Backend = Literal["smtp", "maildir", "console", "memory"]

# Names the envelope recipients in a Maildir file and in console output.
ENVELOPE_HEADER = "X-Envelope-To"

_DEFAULT_PORTS: dict[str, int] = {"none": 25, "starttls": 587, "tls": 465}
# Local files use the platform's line ending (what mail clients reading a Maildir expect);
# otherwise the same serialisation as on the wire.
_FILE_POLICY = email.policy.SMTP.clone(linesep="\n")
_ANY_EOL = re.compile(rb"\r\n|\r|\n")


# --- errors ------------------------------------------------------------------------------


class DeliveryError(Exception):
    """A message was not delivered; `reason` is safe to show and log (never holds secrets).

    When a server accepted some recipients and refused others, `accepted` names the ones
    that did get the message and `refused` maps the others to the server's (code, text), so
    a retry can be limited to those.
    """

    transient: bool = False

    def __init__(
        self,
        reason: str,
        *,
        accepted: Sequence[str] = (),
        refused: Mapping[str, tuple[int, str]] | None = None,
        backend: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        # True when the backend itself failed (cannot connect or log in, Maildir not
        # writable): every message would fail the same way, so it is not this message's fault.
        self.backend = backend
        self.accepted: tuple[str, ...] = tuple(accepted)
        self.refused: dict[str, tuple[int, str]] = dict(refused or {})


class TransientError(DeliveryError):
    """Trying the same message again later may work (server down, 4xx reply, disk full)."""

    transient = True


class PermanentError(DeliveryError):
    """Trying again will not help until someone changes the message or the configuration."""

    transient = False


class DeadlinePassed(TransientError):
    """The whole SMTP conversation for one message outlasted its deadline: the server is too
    slow right now. The attempt counts; the message is retried later."""


def _reply_error(code: int, reason: str) -> DeliveryError:
    # Only 5xx replies are final; 4xx and garbled replies (code -1) may go away.
    cls = PermanentError if 500 <= code < 600 else TransientError
    return cls(reason)


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


# --- the interface -----------------------------------------------------------------------


class Mailer(Protocol):
    name: str

    def __enter__(self) -> Mailer: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def send(self, data: bytes, *, sender: str, recipients: Sequence[str]) -> str:
        """Deliver the message `data` (complete, CRLF line ends) from `sender` to exactly
        `recipients`; return a receipt or raise DeliveryError."""
        ...

    def check(self) -> None:
        """Raise DeliveryError when the backend cannot take messages right now."""
        ...


def message_bytes(message: EmailMessage) -> bytes:
    """`message` as every backend takes it: RFC 5322 bytes with CRLF line ends.

    Raises PermanentError when the message cannot be encoded (nothing would ever send it).
    """
    try:
        return message.as_bytes(policy=email.policy.SMTP)
    except (UnicodeError, ValueError, TypeError, LookupError) as exc:
        raise PermanentError(f"cannot encode the message: {exc}") from exc


def envelope_sender(message: Message) -> str:
    """The first From address of `message` (or of just its headers), for MAIL FROM.

    Raises PermanentError when there is no usable one.
    """
    try:
        header = message.get("From")
        # Header objects of the modern policies carry the parsed addresses; compat32 has text.
        addresses = getattr(header, "addresses", None)
        if addresses is not None:
            found = addresses[0].addr_spec if addresses else ""
        else:
            found = getaddresses([str(header)])[0][1] if header else ""
    except (MessageError, ValueError, TypeError, LookupError, AttributeError) as exc:
        raise PermanentError(f"the message has an unreadable From header: {exc}") from exc
    if not found or found == "<>":
        raise PermanentError("the message has no usable From address")
    return found


def _require_envelope(data: bytes, sender: str, recipients: Sequence[str]) -> tuple[str, ...]:
    if not isinstance(data, bytes):
        raise TypeError(f"data must be the message as bytes, not {type(data).__name__}")
    if not isinstance(sender, str):
        raise TypeError(f"sender must be an address string, not {type(sender).__name__}")
    # A bare string is a Sequence[str] too; sending to its letters would be a silly bug.
    if isinstance(recipients, str):
        raise TypeError("recipients must be a sequence of addresses, not a string")
    if not data:
        raise PermanentError("the message is empty")
    if not sender.strip() or "\r" in sender or "\n" in sender:
        raise PermanentError(f"the message has no usable From address: {sender!r}")
    if not recipients:
        raise PermanentError("the message has no envelope recipients")
    return tuple(envelope_address(addr) for addr in recipients)


def envelope_address(address: str) -> str:
    """`address` as the envelope carries it, an international domain as its A-label
    ("xn--..."), which every server reads. A non-ASCII part before the @ is left as it is (only
    a server offering SMTPUTF8 takes it). Raises PermanentError naming an address that no
    server could take, so that it fails alone and the run goes on."""
    if not isinstance(address, str):
        raise TypeError(f"a recipient must be an address string, not {type(address).__name__}")
    if not address or not address.isprintable() or " " in address:
        # A line break here would end the RCPT command and start one of the data's choosing.
        raise PermanentError(f"recipient {address!r} is not an address: blank or not one line")
    if address.isascii():
        return address
    try:
        checked = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise PermanentError(f"recipient {address!r} is not a valid address: {exc}") from None
    return checked.ascii_email or f"{checked.local_part}@{checked.ascii_domain}"


def _crlf(data: bytes) -> bytes:
    # smtplib sends bytes as they are (it only dot-stuffs them), and servers disagree about a
    # bare CR or LF, so make sure every line ends in CRLF. Counting is cheap; copying is
    # needed only for bytes that did not come from message_bytes.
    crlf = data.count(b"\r\n")
    if data.count(b"\n") == crlf and data.count(b"\r") == crlf:
        return data
    return _ANY_EOL.sub(b"\r\n", data)


# --- SMTP --------------------------------------------------------------------------------


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


# How often a waiting read or write looks at the deadline and the stop request.
_WATCH_SLICE = 0.25
_SEND_CHUNK = 64 * 1024


class _ConversationOver(Exception):
    """Raised inside smtplib's calls when the deadline passed or a stop was asked for. Not an
    OSError, so smtplib lets it through instead of turning it into a disconnection."""

    def __init__(self, stopped: bool) -> None:
        super().__init__("stopped" if stopped else "deadline")
        self.stopped = stopped


@dataclass(slots=True)
class _Watch:
    """The current conversation's limits, shared by the mailer and its connection."""

    timeout: float  # silence allowed per read or write
    deadline: float = float("inf")  # time.monotonic() by which the conversation must end
    should_stop: Callable[[], bool] = lambda: False

    def wait_for(self, idle_since: float) -> float:
        """How long the next blocking call may wait; raises when the conversation is over."""
        now = time.monotonic()
        if self.should_stop():
            raise _ConversationOver(stopped=True)
        if now >= self.deadline:
            raise _ConversationOver(stopped=False)
        if now - idle_since >= self.timeout:
            raise TimeoutError("timed out")
        return max(0.001, min(_WATCH_SLICE, self.deadline - now))


class _Reader:
    """What smtplib reads replies through (its `file`): lines from the socket, each wait
    bounded by the watch, so a trickling server cannot outlast the deadline."""

    def __init__(self, sock: socket.socket, watch: _Watch) -> None:
        self._sock = sock
        self._watch = watch
        self._buffer = b""

    def readline(self, limit: int = -1) -> bytes:
        idle_since = time.monotonic()
        while b"\n" not in self._buffer and (limit < 0 or len(self._buffer) < limit):
            self._sock.settimeout(self._watch.wait_for(idle_since))
            try:
                chunk = self._sock.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                break  # the server hung up: smtplib reports the short reply
            self._buffer += chunk
            idle_since = time.monotonic()
        end = self._buffer.find(b"\n") + 1 or len(self._buffer)
        if limit >= 0:
            end = min(end, limit)
        line, self._buffer = self._buffer[:end], self._buffer[end:]
        return line

    def close(self) -> None:
        pass  # the socket belongs to the SMTP object, which closes it


class _SMTP(smtplib.SMTP):
    """smtplib.SMTP that keeps the server's final reply to DATA, which is the receipt, and
    whose every read and write is bounded by the conversation's watch."""

    data_reply: tuple[int, bytes] = (0, b"")

    def __init__(self, *args: Any, watch: _Watch, **kwargs: Any) -> None:
        self.watch = watch  # before connecting, which the constructor does
        super().__init__(*args, **kwargs)

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        self.data_reply = super().data(msg)
        return self.data_reply

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        left = self.watch.deadline - time.monotonic()
        if left <= 0:
            raise _ConversationOver(stopped=False)
        sock: socket.socket = super()._get_socket(host, port, min(timeout, left))  # type: ignore[misc]
        return sock

    def getreply(self) -> tuple[int, bytes]:
        if self.sock is not None and not isinstance(self.file, _Reader):
            self.file = _Reader(self.sock, self.watch)
        return super().getreply()

    def starttls(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        if self.sock is not None:
            # The handshake is one blocking call: bound it by what is left.
            left = self.watch.deadline - time.monotonic()
            self.sock.settimeout(max(0.001, min(self.watch.timeout, left)))
        return super().starttls(*args, **kwargs)

    def send(self, s: ReadableBuffer | str) -> None:
        if self.sock is None:
            raise smtplib.SMTPServerDisconnected("please run connect() first")
        data = memoryview(s.encode(self.command_encoding) if isinstance(s, str) else s).cast("B")
        idle_since = time.monotonic()
        try:
            while data:
                self.sock.settimeout(self.watch.wait_for(idle_since))
                try:
                    sent = self.sock.send(data[:_SEND_CHUNK])
                except TimeoutError:
                    continue
                data = data[sent:]
                idle_since = time.monotonic()
        except OSError as exc:
            self.close()
            raise smtplib.SMTPServerDisconnected(f"Server not connected: {exc}") from exc


class _SMTPSSL(_SMTP, smtplib.SMTP_SSL):
    pass


class SmtpMailer:
    """Sends through one SMTP connection, opened on the first message and kept for the run."""

    name = "smtp"

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self._smtp: _SMTP | None = None
        self._watch = _Watch(config.timeout)
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

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

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
            error = self._over(exc) if isinstance(exc, _ConversationOver) else self._classify(exc)
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

    def send(self, data: bytes, *, sender: str, recipients: Sequence[str]) -> str:
        to_addrs = _require_envelope(data, sender, recipients)
        data = _crlf(data)
        # Like smtplib's send_message: addresses beyond ASCII need a server that speaks SMTPUTF8
        # (smtplib raises SMTPNotSupportedError, a permanent error, when it does not).
        ascii_only = sender.isascii() and all(addr.isascii() for addr in to_addrs)
        options = () if ascii_only else ("SMTPUTF8", "BODY=8BITMIME")
        if self._unavailable is not None:
            error, self._unavailable = self._unavailable, None
            raise error
        self._start_conversation()
        try:
            return self._send_or_resend(data, sender, to_addrs, options)
        except _ConversationOver as over:
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
        except (DeliveryError, _ConversationOver):
            raise
        except Exception as exc:
            raise self._fail(exc) from exc
        try:
            return self._send_once(data, sender, to_addrs, options)
        except (DeliveryError, _ConversationOver):
            raise
        except Exception as exc:
            raise self._fail(exc) from exc

    def _over(self, over: _ConversationOver) -> DeliveryError:
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
            except _ConversationOver:
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
        return f"{code} {_text(text)}"

    def _connect(self) -> _SMTP:
        config = self._config
        context = config.ssl_context or ssl.create_default_context()
        # Connecting in the constructor is what makes smtplib verify TLS against this host name.
        smtp: _SMTP
        host, port, watch = config.host, config.effective_port, self._watch
        if config.security == "tls":
            smtp = _SMTPSSL(host, port, timeout=config.timeout, context=context, watch=watch)
        else:
            smtp = _SMTP(host, port, timeout=config.timeout, watch=watch)
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
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        reply = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        return _reply_error(exc.smtp_code, f"{where}: login as {username!r} failed: {reply}")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        reply = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        return _reply_error(exc.smtp_code, f"{where}: sender <{exc.sender}> refused: {reply}")
    if isinstance(exc, smtplib.SMTPDataError):
        reply = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        return _reply_error(exc.smtp_code, f"{where}: message refused: {reply}")
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = f"{exc.smtp_code} {_text(exc.smtp_error)}"
        return _reply_error(exc.smtp_code, f"{where}: server replied {reply}")
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


def _refused_error(
    recipients: Mapping[str, tuple[int, bytes]], where: str, accepted: Sequence[str] = ()
) -> DeliveryError:
    refused = {addr: (code, _text(text)) for addr, (code, text) in recipients.items()}
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


# --- Maildir -----------------------------------------------------------------------------


class MaildirMailer:
    """Files each message into a Maildir folder, readable with `mutt -f <folder>`."""

    name = "maildir"

    def __init__(self, path: Path) -> None:
        self._path = Path(path)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass  # every message is complete on disk when send returns

    def send(self, data: bytes, *, sender: str, recipients: Sequence[str]) -> str:
        to_addrs = _require_envelope(data, sender, recipients)
        # A file has no envelope, so a trace header on top records who the message was for
        # (as delivery agents do); the message's own headers and body stay byte for byte,
        # only with the local line ending.
        if not all(addr.isascii() for addr in to_addrs):
            # Only SMTPUTF8 mail may carry such an address; the trace header is ASCII.
            wide = ", ".join(addr for addr in to_addrs if not addr.isascii())
            raise PermanentError(f"recipient {wide}: the part before the @ is not ASCII")
        trace = _FILE_POLICY.fold_binary(ENVELOPE_HEADER, ", ".join(to_addrs))
        content = trace + data.replace(b"\r\n", b"\n")
        try:
            # mailbox writes into tmp/ and then links into new/, so readers never see a
            # half-written message, and it removes the tmp file when writing fails.
            key = self._open().add(content)
        except (OSError, mailbox.Error) as exc:
            error = self._error(exc)
            error.backend = True
            raise error from exc
        return key

    def check(self) -> None:
        try:
            self._open()
            # Permission bits alone do not tell (root, read-only mounts): really write.
            with tempfile.NamedTemporaryFile(dir=self._path / "tmp", prefix=".check-"):
                pass
        except OSError as exc:
            raise self._error(exc) from exc

    def _open(self) -> mailbox.Maildir:
        # Create whatever part of the layout is missing, even inside an existing empty folder.
        for sub in ("tmp", "new", "cur"):
            path = self._path / sub
            try:
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
            except FileExistsError:
                # exist_ok does not cover a file (or a broken link) where the folder should be.
                raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(path)) from None
        return mailbox.Maildir(self._path, factory=None, create=False)

    def _error(self, exc: BaseException) -> TransientError:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, OSError) and exc.filename and Path(exc.filename) != self._path:
            detail = f"{exc.filename}: {detail}"  # which part of the folder
        return TransientError(f"cannot write to Maildir {self._path}: {detail}")


# --- console and memory ------------------------------------------------------------------


class ConsoleMailer:
    """Prints what would be sent: headers and the plain-text part, attachments by name."""

    name = "console"

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass

    def send(self, data: bytes, *, sender: str, recipients: Sequence[str]) -> str:
        to_addrs = _require_envelope(data, sender, recipients)
        try:
            # Parsed for display only; printing is not the fast path.
            text = _render(_parse(data, email.policy.default), to_addrs)
        except (MessageError, ValueError, TypeError, LookupError, IndexError) as exc:
            raise PermanentError(f"cannot show the message: {exc}") from exc
        try:
            self._stream.write(text)
            self._stream.flush()
        except OSError as exc:
            raise TransientError(f"cannot write to the console: {exc}") from exc
        return "printed"

    def check(self) -> None:
        pass


def _render(message: EmailMessage, recipients: Sequence[str]) -> str:
    lines = ["=" * 72, f"{ENVELOPE_HEADER}: {', '.join(recipients)}"]
    lines += [f"{name}: {value}" for name, value in message.items()]
    lines.append("")
    body = message.get_body(preferencelist=("plain",))
    lines.append(_part_text(body).rstrip("\n") if body is not None else "[no text/plain part]")
    for part in message.walk():
        if part is not body and (part.is_attachment() or part.get_filename()):
            name = part.get_filename() or "unnamed"
            lines.append(f"[attachment: {name}, {part.get_content_type()}]")
    return "\n".join(lines) + "\n"


def _parse(data: bytes, policy: email.policy.EmailPolicy[EmailMessage]) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=policy)
    assert isinstance(parsed, EmailMessage)  # what the modern policies' factory makes
    return parsed


def _part_text(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, KeyError):
        # An unknown charset should not hide the text entirely.
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else _text(bytes(content))


class Kept(NamedTuple):
    """One message a MemoryMailer took, exactly as it was given."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes


class MemoryMailer:
    """Keeps what it is given in `sent_bytes`, and shows it parsed as (recipients, message)
    pairs in `sent`; for simulations and tests."""

    name = "memory"

    def __init__(self) -> None:
        self.sent_bytes: list[Kept] = []

    @property
    def count(self) -> int:
        return len(self.sent_bytes)

    @property
    def sent(self) -> list[tuple[tuple[str, ...], EmailMessage]]:
        """Parsed on every access (a simulation that never looks pays nothing): a fresh list
        of fresh messages, so changing them changes nothing kept."""
        return [(kept.recipients, _parse(kept.data, email.policy.SMTP)) for kept in self.sent_bytes]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pass

    def send(self, data: bytes, *, sender: str, recipients: Sequence[str]) -> str:
        to_addrs = _require_envelope(data, sender, recipients)
        self.sent_bytes.append(Kept(sender, to_addrs, data))  # bytes cannot change afterwards
        return "kept"

    def check(self) -> None:
        pass


# --- factory -----------------------------------------------------------------------------


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


__all__ = [
    "ENVELOPE_HEADER",
    "ConsoleMailer",
    "DeadlinePassed",
    "DeliveryError",
    "Kept",
    "MaildirMailer",
    "Mailer",
    "MemoryMailer",
    "PermanentError",
    "SmtpConfig",
    "SmtpMailer",
    "TransientError",
    "envelope_address",
    "envelope_sender",
    "make_mailer",
    "message_bytes",
]
