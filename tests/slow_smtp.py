"""A deliberately slow SMTP server for tests: it answers every command at once except the
reply to the end of DATA, which it trickles a byte at a time (a server under load, or one
that tarpits). Plain sockets on loopback, one thread per connection.

    with SlowSmtpServer(byte_every=0.5) as server:
        ...  # connect to server.host, server.port
        server.messages  # how many messages reached the end of DATA
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Self

HOST = "127.0.0.1"
FINAL_REPLY = b"250 2.0.0 OK: queued, eventually\r\n"


class SlowSmtpServer:
    def __init__(self, *, byte_every: float = 0.5) -> None:
        self.byte_every = byte_every
        self.messages = 0
        self._listener = socket.create_server((HOST, 0))
        self.host = HOST
        self.port: int = self._listener.getsockname()[1]
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Self:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closing.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 slow.test ESMTP\r\n")
            for line in lines:
                command = line[:4].upper()
                if command in (b"EHLO", b"HELO"):
                    conn.sendall(b"250 slow.test\r\n")
                elif command in (b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                    conn.sendall(b"250 OK\r\n")
                elif command == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                elif command == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    for body_line in lines:
                        if body_line == b".\r\n":
                            break
                    self.messages += 1
                    if not self._trickle(conn, FINAL_REPLY):
                        return
                else:
                    conn.sendall(b"502 not implemented\r\n")

    def _trickle(self, conn: socket.socket, reply: bytes) -> bool:
        for byte in reply:
            if self._closing.wait(self.byte_every):
                return False
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                return False  # the client gave up
        return True


def wait_until(condition: object, seconds: float = 10.0, every: float = 0.01) -> None:
    """Poll a callable every `every` seconds until it returns true (or the time is up)."""
    assert callable(condition)
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        time.sleep(every)
