"""The escalation jobs: strategic leads hear of Amber, Red and long-overdue actions in their
work streams (level 2), and the board's escalation contacts of actions that have just turned
Red (level 3, the Red alert). Rules: worker/rules/escalation.py."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date

from worker.jobs.actions import ActionRules
from worker.jobs.config import RemindConfig
from worker.jobs.per_action import plan_messages
from worker.jobs.pipeline import Job
from worker.rules.digest import Item, Recipient
from worker.rules.digest_day import digest_skipped
from worker.rules.escalation import board_waits, escalation_items
from worker.rules.reminders import ActionFacts
from worker.store.facts import Scope


def _every_open_action(config: RemindConfig) -> Scope:
    del config  # escalations look at every open action, whatever its date
    return Scope()


def digest_morning(config: RemindConfig, as_of: date) -> bool:
    """Whether the board's digest goes out on `as_of` (its weekday, not a skipped day)."""
    if as_of.weekday() != config.digest_weekday:
        return False
    return not digest_skipped(as_of, config.days, config.digest_on_holidays)


def _escalations(
    facts: Sequence[ActionFacts], config: RemindConfig, as_of: date, to: Collection[str] | None
) -> Iterable[tuple[Recipient, Item]]:
    c = config
    wait = board_waits(c.directory, digest_morning(c, as_of))
    found = escalation_items(
        facts, c.directory, c.escalation, c.policy, c.rag, c.days, as_of, wait=wait
    )
    return found if to is None else ((r, i) for r, i in found if r.email.lower() in to)


def _alerts(
    facts: Sequence[ActionFacts], config: RemindConfig, as_of: date, to: Collection[str] | None
) -> Iterable[tuple[Recipient, Item]]:
    """Only the Red alerts (sent straight after a status change turns an action Red)."""
    return ((r, i) for r, i in _escalations(facts, config, as_of, to) if i.kind == "red_alert")


ESCALATE = Job(
    name="escalate",
    template="reminder",
    schedule="escalate",
    plan=plan_messages,
    rules=ActionRules(_every_open_action, _escalations, reads_first_told=True),
)

ALERT = Job(
    name="alert",
    template="reminder",
    schedule=None,  # run when a status change turns an action Red (`status set`, `import`)
    plan=plan_messages,
    rules=ActionRules(_every_open_action, _alerts, reads_first_told=True),
)
