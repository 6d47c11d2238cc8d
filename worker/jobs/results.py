"""What a job's run reports: to the command line (text, --json), to the service's job record
and to `simulate`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from worker.jobs.deliver import DeliveryReport
from worker.rules.board import BoardDigest, RagName
from worker.rules.digest import SECTIONS, Entry, Recipient, Section
from worker.store.outbox import Planned


@dataclass(frozen=True, slots=True)
class ItemNote:
    """What a run reports about one item (the message itself holds the rest)."""

    ref: str
    section: Section
    rule: str
    due: date | None
    days: int
    via: tuple[str, ...]
    reason: str
    key: str


@dataclass(frozen=True, slots=True)
class MessageNote:
    """What a run reports about one recorded message: to whom, its subject and Message-ID,
    how many items of each section, and its first items (all of them unless the run was
    asked to keep fewer: a large plan's run would otherwise hold every item to the end)."""

    recipient: Recipient
    subject: str
    message_id: str
    sections: tuple[tuple[Section, int], ...]
    items: tuple[ItemNote, ...]
    item_count: int

    @property
    def more(self) -> int:
        """Items of the message not kept in `items`."""
        return self.item_count - len(self.items)


def _item_note(i: Entry) -> ItemNote:
    return ItemNote(i.ref, i.section, i.rule, i.due, i.days, i.via, i.reason, i.key)


def note_of(planned: Planned, keep_items: int | None) -> MessageNote:
    digest = planned.digest
    counts = Counter(i.section for i in digest.all_items)
    kept = digest.all_items if keep_items is None else digest.all_items[:keep_items]
    return MessageNote(
        digest.recipient,
        planned.subject,
        planned.message_id,
        tuple((s, counts[s]) for s in SECTIONS if counts[s]),
        tuple(_item_note(i) for i in kept),
        len(digest.all_items),
    )


def _delivered(delivery: DeliveryReport | None) -> dict[str, Any]:
    d = delivery
    return {
        "sent": d.sent if d else 0,
        "failed": d.failed if d else 0,
        "retrying": d.retrying if d else 0,
        "stopped_early": d.stopped_early if d else "",
    }


@dataclass(slots=True)
class RemindResult:
    """A per-action job's run (lead reminders, escalations, Red alerts)."""

    as_of: date
    working_day: bool
    # Each recorded message, with as many of its items as the caller asked to keep.
    planned: list[MessageNote] = field(default_factory=list)
    messages: int = 0
    items: int = 0
    render_errors: list[str] = field(default_factory=list)
    dates_reread: int = 0
    delivery: DeliveryReport | None = None

    def extend(self, other: RemindResult) -> None:
        self.planned += other.planned
        self.messages += other.messages
        self.items += other.items
        self.render_errors += other.render_errors

    @property
    def failures(self) -> int:
        """Messages that could not be made or were refused for good: a run with any failed."""
        refused = self.delivery.failed if self.delivery is not None else 0
        return len(self.render_errors) + refused

    def note(self, planned: Sequence[Planned], keep_items: int | None) -> None:
        """Count these messages; keep a note of each (and of up to `keep_items` of its
        items; None: all) unless `keep_items` is 0 (the service keeps counts only)."""
        self.messages += len(planned)
        self.items += sum(len(p.digest.all_items) for p in planned)
        if keep_items != 0:
            self.planned += [note_of(p, keep_items) for p in planned]

    def summary(self) -> dict[str, Any]:
        """The service's record of the run."""
        return {
            "as_of": self.as_of,
            "messages": self.messages,
            **_delivered(self.delivery),
            "errors": self.render_errors,
            "failures": self.failures,
        }


@dataclass(slots=True)
class DigestResult:
    """The board digest's run."""

    as_of: date
    digest: BoardDigest | None  # None when skipped
    already_sent: bool  # a digest for this date exists: nothing new was planned
    skipped: str = ""  # why no digest goes out on this date (a bank holiday...)
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    delivery: DeliveryReport | None = None

    @property
    def failures(self) -> int:
        """Messages refused for good in this run: more than 0, a failed run."""
        return self.delivery.failed if self.delivery is not None else 0

    def summary(self) -> dict[str, Any]:
        """The service's record of the run."""
        delivered = _delivered(self.delivery)
        del delivered["retrying"]
        return {
            "as_of": self.as_of,
            "already_sent": self.already_sent,
            "skipped": self.skipped,  # a bank holiday: no digest (rules/digest_day.py)
            "recipients": len(self.recipients),
            **delivered,
            "failures": self.failures,
        }


JobResult = RemindResult | DigestResult


def effective_counts(digest: BoardDigest) -> dict[RagName, int]:
    totals: dict[RagName, int] = {"red": 0, "amber": 0, "green": 0, "none": 0}
    for s in digest.streams:
        totals["red"] += s.red
        totals["amber"] += s.amber
        totals["green"] += s.green
        totals["none"] += s.none
    return totals
