"""What every job needs besides the database, the clock and the mail backend: the contacts
directory, the policies, the templates and who the mail comes from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from pathlib import Path

from worker.contacts import Directory
from worker.jobs.deliver import RetryPolicy
from worker.plan.dates import MonthDay
from worker.rules.escalation import EscalationPolicy
from worker.rules.rag import RagPolicy
from worker.rules.stages import ReminderPolicy
from worker.rules.workdays import WorkingDays
from worker.web.links import Signer

DEFAULT_RAG = RagPolicy()
DEFAULT_ESCALATION = EscalationPolicy()


@dataclass(frozen=True, slots=True)
class MailIdentity:
    sender: Address
    reply_to: Address | None


@dataclass(frozen=True, slots=True)
class RequestConfig:
    """Status-return requests: when in the digest's cycle, and how leads answer."""

    days_before_digest: int = 3  # working days before the digest's morning
    chase_after_days: int = 2  # working days after the request
    # The leads' page (`planworker web`): its public address and signing key; "" when it is
    # not set up, and the request says to reply to the email instead.
    base_url: str = ""
    key: str = ""
    link_days: int = 45

    @property
    def links(self) -> bool:
        return bool(self.base_url and self.key)


@dataclass(frozen=True, slots=True)
class RemindConfig:
    """Everything a job needs besides the database, the clock and the mail backend."""

    directory: Directory
    policy: ReminderPolicy
    days: WorkingDays
    month_day: MonthDay
    templates: Sequence[Path]  # folders, an admin's first
    identity: MailIdentity
    retry: RetryPolicy
    rag: RagPolicy = DEFAULT_RAG
    escalation: EscalationPolicy = DEFAULT_ESCALATION
    digest_on_holidays: bool = False  # send the board digest on non-working days too
    digest_weekday: int = 0  # the board digest's day (0 = Monday): board members' morning
    digest_long_red_weeks: int = 4  # reported Red this long: listed for the board every week
    digest_report_url: str = ""  # the full report's address, linked from the digest
    # The largest message sent: a digest over it goes in parts (mail.max_message_kb, or
    # less when the mail server's SIZE says so).
    max_message_bytes: int = 10 * 1024 * 1024
    # Signs each recipient's link to their page (docs/web.md, "Links in emails"); None when
    # web.base_url or the key is not configured: messages then carry no link.
    links: Signer | None = None
    requests: RequestConfig = RequestConfig()

    def mail_domain(self) -> str:
        """The domain of Message-IDs and calendar UIDs: the sender's."""
        return self.identity.sender.domain or "planworker.invalid"
