"""The plan administrator's "not delivered" items (pure): each reminder the mail server
refused for good, once, so someone can reach that lead another way."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date

from worker.contacts import Directory
from worker.rules.digest import Item, Kind, Recipient
from worker.rules.rag import RagPolicy
from worker.rules.reminders import DEFAULT_RAG, ActionFacts, ItemMaker, item_key
from worker.rules.stages import ReminderPolicy, Stage


@dataclass(frozen=True, slots=True)
class Refusal:
    """A reminder the mail server refused for good (from the outbox)."""

    action_id: int
    kind: Kind
    threshold: int
    due: date
    recipient: str  # the address it was meant for
    via: str
    reason: str  # the server's answer


def undelivered_items(
    refusals: Iterable[Refusal],
    actions: Mapping[int, ActionFacts],
    directory: Directory,
    policy: ReminderPolicy,
    as_of: date,
    rag: RagPolicy = DEFAULT_RAG,
) -> Iterator[tuple[Recipient, Item]]:
    """The administrator's "not delivered" items: each refused reminder, once."""
    admin = Recipient(directory.administrator.email, directory.administrator.name)
    maker = ItemMaker(directory, policy, as_of, rag)
    for refusal in refusals:
        action = actions.get(refusal.action_id)
        # The administrator's own refusals cannot be mailed to them: the outbox and the
        # command's exit status report those.
        if action is None or refusal.recipient.lower() == admin.email.lower():
            continue
        # A refused milestone reminder is shown as that milestone's.
        milestone = next(
            (m for m in action.milestones if m.due == refusal.due and refusal.kind != "review"),
            None,
        )
        stage = Stage(refusal.kind, refusal.threshold, refusal.due, refusal.due, milestone)
        key = item_key(admin.email, action.id, stage) + f"|undelivered|{refusal.recipient.lower()}"
        item = maker.item(
            action,
            stage,
            key=key,
            section="undelivered",
            via=(f"{refusal.recipient} ({refusal.via})" if refusal.via else refusal.recipient,),
            reason=refusal.reason,
        )
        rule = f"the reminder to {refusal.recipient} ({item.rule}) was refused by the mail server"
        yield admin, replace(item, rule=rule)
