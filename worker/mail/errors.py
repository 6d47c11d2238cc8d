"""Why a message was not delivered, and whether trying again later can help."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


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


def reply_error(code: int, reason: str) -> DeliveryError:
    """The error for a server's reply `code`: only 5xx replies are final; 4xx and garbled
    replies (code -1) may go away."""
    cls = PermanentError if 500 <= code < 600 else TransientError
    return cls(reason)


def as_text(raw: bytes | str) -> str:
    """A server's reply or a part's payload as text, whatever bytes it holds."""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
