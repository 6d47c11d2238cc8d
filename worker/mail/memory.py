"""The memory mailer: keeps every message it is given, for simulations and tests."""

from __future__ import annotations

from email.message import EmailMessage
from typing import NamedTuple

from worker.mail.envelope import parse_message
from worker.mail.mailer import Mailer


class Kept(NamedTuple):
    """One message a MemoryMailer took, exactly as it was given."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes


class MemoryMailer(Mailer):
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
        return [(kept.recipients, parse_message(kept.data)) for kept in self.sent_bytes]

    def deliver(self, data: bytes, sender: str, recipients: tuple[str, ...]) -> str:
        self.sent_bytes.append(Kept(sender, recipients, data))  # bytes cannot change afterwards
        return "kept"
