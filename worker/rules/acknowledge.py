"""Acknowledgements (pure): a strategic lead or board member has seen an escalated action.
An acknowledgement keeps a snapshot of what was acknowledged (RAG, state, target as written,
latest note) and stands until the action changes; while it stands, the weekly escalation is
not repeated to that person (rules/escalation.py) and the board digest says who acknowledged
it. A Red alert is never held back by one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from worker.moments import as_utc


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What an acknowledgement saw of its action: any difference means the action changed."""

    rag: str | None  # the lead's reported RAG
    state: str
    target_text: str
    latest_note: str
    latest_note_at: datetime | None

    def same(self, other: Snapshot) -> bool:
        # SQLite gives times back without a zone (UTC): compare them as UTC.
        return (self.rag, self.state, self.target_text, self.latest_note) == (
            other.rag,
            other.state,
            other.target_text,
            other.latest_note,
        ) and _utc(self.latest_note_at) == _utc(other.latest_note_at)


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """One person's acknowledgement of one action."""

    email: str  # lower-case
    name: str
    at: datetime
    note: str
    saw: Snapshot


def _utc(at: datetime | None) -> datetime | None:
    return None if at is None else as_utc(at)


def standing(acks: tuple[Acknowledged, ...], now: Snapshot) -> tuple[Acknowledged, ...]:
    """The acknowledgements that still stand: the action is as they saw it."""
    return tuple(a for a in acks if a.saw.same(now))


def stands_for(acks: tuple[Acknowledged, ...], now: Snapshot, email: str) -> bool:
    """Whether `email` (any case) has an acknowledgement of the action as it is now."""
    wanted = email.lower()
    return any(a.email == wanted for a in standing(acks, now))
