"""A real SMTP server for tests: aiosmtpd in a thread on 127.0.0.1, with switches to misbehave.

    with SmtpServer("starttls", username="worker", password="s3cret") as server:
        ...  # connect to server.host, server.port trusting server.client_context
        server.reject_rcpt["nobody@example.org"] = (550, "5.1.1 No such user")
        server.fail_next_data.append((451, "4.3.0 Try again later"))
        server.drop_after = 1  # hang up after each accepted message
        server.hang_up_in_data[3] = "kept"  # keep the 3rd DATA's message, hang up unanswered
        server.refuse_sessions = 2  # greet the next two connections with 421 and hang up
        server.on_data = lambda received: ...  # runs before each accepted message's reply
        server.stop(); server.start()  # down, then back on the same port

A reply of 421 to DATA (from fail_next_data) closes the connection after it, as RFC 5321
says a server does when it answers 421.

Modes: "plain" (no TLS), "starttls" (STARTTLS required before mail) and "tls" (implicit TLS).
With a username, AUTH (PLAIN/LOGIN, also without TLS) is required before MAIL FROM.
`size_limit` (bytes) is offered as the SIZE extension, and larger messages are refused with 552;
it can be changed between stop() and start().
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cache
from types import TracebackType
from typing import Any, Literal, Self

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Mode = Literal["plain", "starttls", "tls"]
HOST = "127.0.0.1"


@cache
def _ca() -> trustme.CA:
    return trustme.CA()


@cache
def _server_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    _ca().issue_cert(HOST, "localhost").configure_cert(context)
    return context


def client_context() -> ssl.SSLContext:
    """A client context trusting the test CA (and nothing else)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificate and host name
    _ca().configure_trust(context)
    return context


def _free_port() -> int:
    # aiosmtpd 1.4.6 cannot report the port chosen for port=0, so ask the OS beforehand.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Received:
    """One accepted message, as it came over the wire."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    connection: int  # 1 for the first connection that greeted the server, 2 for the next…
    # False when the server kept the message but hung up instead of answering (the client
    # cannot know that it arrived).
    replied: bool = True

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class SmtpServer:
    def __init__(
        self,
        mode: Mode = "plain",
        *,
        username: str = "",
        password: str = "",
        size_limit: int = 33554432,
    ) -> None:
        self.mode: Mode = mode
        self.size_limit = size_limit
        self.username = username
        self.password = password
        self.host = HOST
        self.port = _free_port()
        self.client_context = client_context()
        self.received: list[Received] = []
        # Fault switches; change them at any time, also while a client is connected.
        self.reject_rcpt: dict[str, tuple[int, str]] = {}
        self.fail_next_data: list[tuple[int, str]] = []
        self.drop_after: int | None = None
        # DATA commands by number (1 for the first the server ever got, counting refused ones)
        # that end with the server hanging up instead of answering: "lost" forgets the
        # message, "kept" keeps it (and records it with replied=False).
        self.hang_up_in_data: dict[int, Literal["lost", "kept"]] = {}
        # This many of the next connections are greeted with 421 and closed at once.
        self.refuse_sessions = 0
        # Called in the server thread with each accepted message, before the 250 is sent.
        self.on_data: Callable[[Received], None] | None = None
        self.data_commands = 0  # DATA commands that reached the end of the message
        self.sessions = 0  # connections that said EHLO/HELO
        self._lock = threading.Lock()
        self._handler = _Handler(self)
        self._controller: _Controller | None = None
        self._live: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self._numbers: weakref.WeakKeyDictionary[SMTP, int] = weakref.WeakKeyDictionary()
        self._accepted: weakref.WeakKeyDictionary[SMTP, int] = weakref.WeakKeyDictionary()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._controller is not None:
            return
        options: dict[str, Any] = {
            "hostname": HOST,
            "port": self.port,
            "server_hostname": "smtp.test",
            # AUTH is enforced at MAIL FROM (see _Handler), which aiosmtpd allows without
            # the warning it gives for auth_required without TLS.
            "auth_require_tls": False,
            "authenticator": self._authenticate if self.username else None,
            "data_size_limit": self.size_limit,
        }
        if self.mode == "starttls":
            options.update(tls_context=_server_context(), require_starttls=True)
        elif self.mode == "tls":
            options["ssl_context"] = _server_context()
        # A stopped controller has closed its event loop, so every start needs a new one.
        controller = _Controller(self, self._handler, **options)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is None:
            return
        # Controller.stop leaves established connections open but unserved, and a client
        # would wait for its timeout; cut them like a crashed server would.
        asyncio.run_coroutine_threadsafe(self._cut_connections(), controller.loop).result(5)
        controller.stop()

    async def _cut_connections(self) -> None:
        for smtp in list(self._live):
            if isinstance(smtp.transport, asyncio.WriteTransport):
                smtp.transport.abort()
        await asyncio.sleep(0)

    # Called from the server thread -------------------------------------------------------

    def _connected(self, smtp: SMTP) -> None:
        self._live.add(smtp)

    def _refuse_session(self) -> bool:
        with self._lock:
            if self.refuse_sessions <= 0:
                return False
            self.refuse_sessions -= 1
            return True

    def _greeted(self, smtp: SMTP) -> None:
        with self._lock:
            if smtp not in self._numbers:
                self.sessions += 1
                self._numbers[smtp] = self.sessions

    def _data(self, smtp: SMTP, envelope: Envelope) -> str:
        with self._lock:
            self.data_commands += 1
            hang_up = self.hang_up_in_data.pop(self.data_commands, None)
            if hang_up is None and self.fail_next_data:
                code, text = self.fail_next_data.pop(0)
                if code == 421 and smtp.transport:
                    # "Service not available, closing transmission channel": after the reply.
                    smtp.loop.call_soon(smtp.transport.close)
                return f"{code} {text}"
            received = Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                data=envelope.original_content or b"",
                connection=self._numbers.get(smtp, 0),
                replied=hang_up is None,
            )
            if hang_up != "lost":
                self.received.append(received)
            queued = len(self.received)
            if hang_up is None:
                accepted = self._accepted.get(smtp, 0) + 1
                self._accepted[smtp] = accepted
        if hang_up is not None:
            # Before any reply is written: abort() makes the reply below go nowhere, and the
            # client reads the end of the connection where it waits for the answer.
            if isinstance(smtp.transport, asyncio.WriteTransport):
                smtp.transport.abort()
            return "451 4.3.0 never sent"
        if self.on_data is not None:
            self.on_data(received)
        if self.drop_after is not None and accepted >= self.drop_after and smtp.transport:
            # Runs after the reply below has been written, so the client gets its 250 first.
            smtp.loop.call_soon(smtp.transport.close)
        return f"250 2.0.0 OK: queued as {queued}"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == self.username.encode()
            and data.password == self.password.encode()
        )
        # handled=False makes aiosmtpd send its standard 535 reply on failure.
        return AuthResult(success=ok, handled=False)


class _Controller(Controller):
    def __init__(self, owner: SmtpServer, handler: _Handler, **options: Any) -> None:
        super().__init__(handler, **options)
        self._owner = owner

    def factory(self) -> SMTP:
        # One SMTP object per connection; remember it so stop() can cut it.
        smtp = _SMTP(self._owner, self.handler, **self.SMTP_kwargs)
        self._owner._connected(smtp)
        return smtp


class _SMTP(SMTP):
    def __init__(self, owner: SmtpServer, handler: Any, **options: Any) -> None:
        super().__init__(handler, **options)
        self._owner = owner

    async def _handle_client(self) -> None:
        if self._owner._refuse_session():
            # A busy or shutting-down server: 421 instead of the 220 greeting, then hang up.
            await self.push("421 4.3.2 smtp.test too busy, try again later")
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()


class _Handler:
    def __init__(self, owner: SmtpServer) -> None:
        self._owner = owner

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to an EHLO hook
        self._owner._greeted(server)
        return responses

    async def handle_HELO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str
    ) -> str:
        session.host_name = hostname
        self._owner._greeted(server)
        return f"250 {server.hostname}"

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self._owner.username and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        rejection = self._owner.reject_rcpt.get(address)
        if rejection is not None:
            return f"{rejection[0]} {rejection[1]}"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self._owner._data(server, envelope)
