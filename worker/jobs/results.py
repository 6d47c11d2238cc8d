"""What a job's run reports: to the command line (text, --json), to the service's job record
and to `simulate`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from worker.jobs.deliver import DeliveryReport
from worker.rules.board import BoardDigest, RagName
from worker.rules.digest import Digest
from worker.store.outbox import Planned


def _slim(digest: Digest) -> Digest:
    # What a run reports about an item: the long texts are in the message already.
    items = tuple(
        replace(i, action_text="", description="", dependencies_text="", latest_note="")
        for i in digest.items
    )
    return replace(digest, items=items)


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
    # Each recorded message's digest (its items without their long texts), subject and
    # Message-ID, unless the caller asked for counts only (the service: a large plan's run
    # would otherwise hold every item to the end).
    planned: list[Digest] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    messages: int = 0
    items: int = 0
    render_errors: list[str] = field(default_factory=list)
    dates_reread: int = 0
    delivery: DeliveryReport | None = None

    def extend(self, other: RemindResult) -> None:
        self.planned += other.planned
        self.message_ids += other.message_ids
        self.subjects += other.subjects
        self.messages += other.messages
        self.items += other.items
        self.render_errors += other.render_errors

    @property
    def failures(self) -> int:
        """Messages that could not be made or were refused for good: a run with any failed."""
        refused = self.delivery.failed if self.delivery is not None else 0
        return len(self.render_errors) + refused

    def note(self, planned: Sequence[Planned], keep_digests: bool) -> None:
        self.messages += len(planned)
        self.items += sum(len(p.digest.items) for p in planned)
        if keep_digests:
            self.planned += [_slim(p.digest) for p in planned]
            self.message_ids += [p.message_id for p in planned]
            self.subjects += [p.subject for p in planned]

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
