"""The lead-reminder job (level 1): each lead hears, in one message, about their actions
that are due soon, overdue or up for review (worker/rules/reminders.py)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import date

from worker.jobs.actions import ActionRules
from worker.jobs.config import RemindConfig
from worker.jobs.per_action import plan_messages
from worker.jobs.pipeline import Job
from worker.rules.digest import Entry, Item, Recipient
from worker.rules.reminders import (
    ActionFacts,
    Later,
    Rank,
    Schedule,
    counted_entries,
    due_items,
    due_keys,
)
from worker.store.facts import Scope


def _scope(config: RemindConfig) -> Scope:
    # Open actions with a recurrence or a target date within the reminders' reach.
    return Scope(within_days=max(config.policy.upcoming, default=0))


def _items(
    facts: Sequence[ActionFacts], config: RemindConfig, as_of: date, to: Collection[str] | None
) -> Iterable[tuple[Recipient, Item]]:
    c = config
    return due_items(facts, c.directory, c.policy, c.days, as_of, c.rag, to)


def _keys(
    facts: Sequence[Schedule], config: RemindConfig, as_of: date
) -> Iterable[tuple[Recipient, int, str, Rank, Later]]:
    return due_keys(facts, config.directory, config.policy, config.days, as_of)


def _counted(
    facts: Sequence[Schedule], config: RemindConfig, as_of: date, to: Collection[str]
) -> Iterable[tuple[Recipient, Entry]]:
    return counted_entries(facts, config.directory, config.policy, config.days, as_of, to)


RULES = ActionRules(_scope, _items, _keys, counted=_counted)

JOB = Job(
    name="remind",
    template="reminder",
    schedule="remind",
    plan=plan_messages,
    rules=RULES,
)
