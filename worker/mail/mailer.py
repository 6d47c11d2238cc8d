"""The base class of every mailer: one finished message in, a receipt or a DeliveryError out.

A mailer takes the message as bytes (RFC 5322, CRLF line ends, as rendered once by
`message_bytes`) plus its envelope sender and recipients. The bytes are passed on as they are:
parsing and re-serialising every message would cost more than sending it. A subclass says how
to deliver one checked message; this class checks the envelope and is the context manager
that closes whatever the subclass holds open when a run ends.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import ClassVar, Self

from worker.mail.envelope import require_envelope


class Mailer(ABC):
    """Where messages go; use it as a context manager around a run's sends."""

    name: ClassVar[str]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 (an optional hook)
        """Let go of what the mailer holds open (nothing, unless a subclass says otherwise)."""

    def check(self) -> None:  # noqa: B027 (an optional hook)
        """Raise DeliveryError when the backend cannot take messages right now."""

    def size_limit(self) -> int | None:
        """The largest message the backend takes, or None when it names no limit."""
        return None

    def stop_when(self, should_stop: Callable[[], bool]) -> None:  # noqa: B027
        """End a delivery in progress promptly once `should_stop()` is true (SIGTERM); a
        mailer whose deliveries are quick ignores it."""

    def send(self, data: bytes, *, sender: str, recipients: Sequence[str]) -> str:
        """Deliver the message `data` (complete, CRLF line ends) from `sender` to exactly
        `recipients`; return a receipt or raise DeliveryError."""
        return self.deliver(data, sender, require_envelope(data, sender, recipients))

    @abstractmethod
    def deliver(self, data: bytes, sender: str, recipients: tuple[str, ...]) -> str:
        """Deliver one message whose envelope `send` has checked (recipients as the envelope
        carries them); return a receipt or raise DeliveryError."""
