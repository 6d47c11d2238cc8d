"""One SMTP conversation held to its limits: smtplib's connection with every read and write
bounded by a deadline for the whole message and by a stop request, so that a server that
trickles a byte at a time cannot hold a run for ever."""

from __future__ import annotations

import smtplib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

# How often a waiting read or write looks at the deadline and the stop request.
_WATCH_SLICE = 0.25
_SEND_CHUNK = 64 * 1024


class ConversationOver(Exception):
    """Raised inside smtplib's calls when the deadline passed or a stop was asked for. Not an
    OSError, so smtplib lets it through instead of turning it into a disconnection."""

    def __init__(self, stopped: bool) -> None:
        super().__init__("stopped" if stopped else "deadline")
        self.stopped = stopped


@dataclass(slots=True)
class Watch:
    """The current conversation's limits, shared by the mailer and its connection."""

    timeout: float  # silence allowed per read or write
    deadline: float = float("inf")  # time.monotonic() by which the conversation must end
    should_stop: Callable[[], bool] = lambda: False

    def wait_for(self, idle_since: float) -> float:
        """How long the next blocking call may wait; raises when the conversation is over."""
        now = time.monotonic()
        if self.should_stop():
            raise ConversationOver(stopped=True)
        if now >= self.deadline:
            raise ConversationOver(stopped=False)
        if now - idle_since >= self.timeout:
            raise TimeoutError("timed out")
        return max(0.001, min(_WATCH_SLICE, self.deadline - now))


class _Reader:
    """What smtplib reads replies through (its `file`): lines from the socket, each wait
    bounded by the watch, so a trickling server cannot outlast the deadline."""

    def __init__(self, sock: socket.socket, watch: Watch) -> None:
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


def dot_stuffed(message: bytes) -> bytes:
    """What DATA sends for `message`: every line that starts with "." gets one more
    (RFC 5321, 4.5.2), and the message ends with CRLF "." CRLF. The same bytes as smtplib's
    own, which runs a regular expression over the message; bytes.replace does it in C."""
    stuffed = message.replace(b"\n.", b"\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


class BoundedSMTP(smtplib.SMTP):
    """smtplib.SMTP that keeps the server's final reply to DATA, which is the receipt, and
    whose every read and write is bounded by the conversation's watch."""

    data_reply: tuple[int, bytes] = (0, b"")

    def __init__(self, *args: Any, watch: Watch, **kwargs: Any) -> None:
        self.watch = watch  # before connecting, which the constructor does
        super().__init__(*args, **kwargs)

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        if isinstance(msg, str):
            self.data_reply = super().data(msg)
            return self.data_reply
        # smtplib's own DATA, with the dot-stuffing done by bytes.replace (see dot_stuffed).
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        self.send(dot_stuffed(bytes(msg)))
        self.data_reply = self.getreply()
        return self.data_reply

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        left = self.watch.deadline - time.monotonic()
        if left <= 0:
            raise ConversationOver(stopped=False)
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


class BoundedSMTPSSL(BoundedSMTP, smtplib.SMTP_SSL):
    pass
