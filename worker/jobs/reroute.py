"""Queued messages whose recipient no longer holds the post: re-planned before delivery.

A reminder queued during an outage was addressed by the contacts directory of its day. If a
post has changed hands since (or fallen vacant), the job's own rules, run again for the
message's date with today's directory, give its items to someone else. Such a message is
taken out of the queue (only while still pending: one being sent is left alone) and its
actions are planned again in the same transaction, so the new holder, or whoever planning
falls back to, gets them. The new items record why in the ledger (`reason`), shown by
`planworker outbox`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from worker.jobs.actions import ActionRules, DayPlan, current_keys, run_scope
from worker.jobs.compose import messages
from worker.jobs.config import RemindConfig
from worker.models import Plan
from worker.rules.reminders import PlanFacts
from worker.store.facts import refs_of
from worker.store.outbox import LedgerRace, record
from worker.store.queue import Queued, note_reasons, queued, take_out

if TYPE_CHECKING:
    from worker.jobs.pipeline import Job

Group = tuple[str, date]  # a job and the date it was planned for


@dataclass(frozen=True, slots=True)
class Move:
    """An item whose recipient changed: who it was queued for, and who has it now."""

    message_id: int
    group: Group
    action_id: int
    was: str
    now: tuple[str, ...]
    rest: str  # the key less its recipient

    def reason(self) -> str:
        return (
            f"re-routed: queued for {self.was} on {self.group[1].isoformat()}; the contacts "
            f"directory now gives it to {', '.join(self.now)}"
        )


def _split(key: str) -> tuple[str, str]:
    recipient, bar, rest = key.partition("|")
    return recipient.lower(), bar + rest


def moves(queued: Iterable[Queued], current: Mapping[Group, set[str]]) -> list[Move]:
    """The queued items that today's rules give to someone else instead (pure). An item the
    rules no longer give to anyone (the action was completed meanwhile) is left as it is."""
    holders: dict[Group, dict[str, set[str]]] = {}
    for group, keys in current.items():
        by_rest: dict[str, set[str]] = defaultdict(set)
        for key in keys:
            recipient, rest = _split(key)
            by_rest[rest].add(recipient)
        holders[group] = by_rest
    found = []
    for item in queued:
        group = (item.job, item.as_of)
        was, rest = _split(item.key)
        now = holders.get(group, {}).get(rest, set())
        if now and was not in now:
            holders_now = tuple(sorted(now))
            found.append(Move(item.message_id, group, item.action_id, was, holders_now, rest))
    return found


def reroute(
    sessions: sessionmaker[Session],
    plan_id: int,
    config: RemindConfig,
    *,
    now: datetime,
    jobs: Mapping[str, Job],
    before: datetime | None = None,
) -> list[Move]:
    """Re-plan the pending messages (created before `before`, when given) whose items the
    current directory gives to someone else; what moved. One transaction."""
    with sessions() as session:
        per_action = {name: job for name, job in jobs.items() if job.rules is not None}
        queued_items = queued(session, plan_id, per_action, before)
        if not queued_items:
            return []
        actions: dict[Group, set[int]] = defaultdict(set)
        for item in queued_items:
            actions[(item.job, item.as_of)].add(item.action_id)
        current = {
            group: _current(session, plan_id, config, per_action[group[0]], group[1], ids)
            for group, ids in actions.items()
        }
        found = moves(queued_items, current)
        if not found:
            session.rollback()
            return []
        taken = take_out(session, sorted({m.message_id for m in found}))
        found = [m for m in found if m.message_id in taken]
        try:
            again = _taken_actions(queued_items, taken)
            rendered_all = _plan_again(session, plan_id, config, now, per_action, again)
        except LedgerRace:
            # Another worker planned some of the same items meanwhile: leave the queue as
            # it was; the next delivery looks again.
            session.rollback()
            return []
        if not rendered_all:
            # A new recipient's message could not be made (a template or header problem):
            # leave the queue as it was rather than lose the items; the run reports the
            # problem when it plans that recipient itself.
            session.rollback()
            return []
        note_reasons(session, ((r + m.rest, m.reason()) for m in found for r in m.now))
        session.commit()
    return found


def _rules(job: Job) -> ActionRules:
    assert job.rules is not None
    return job.rules


def _current(
    session: Session, plan_id: int, config: RemindConfig, job: Job, as_of: date, ids: set[int]
) -> set[str]:
    run = run_scope(session, plan_id, config, as_of)
    return current_keys(session, _rules(job), run, ids)


def _plan_again(
    session: Session,
    plan_id: int,
    config: RemindConfig,
    now: datetime,
    jobs: Mapping[str, Job],
    actions: Mapping[Group, set[int]],
) -> bool:
    """Plan these actions' items again, as of each group's date, with today's directory;
    False as soon as a message fails to render (the caller rolls everything back)."""
    plan = session.get_one(Plan, plan_id)
    facts = PlanFacts(plan.title, plan.organisation)
    for (name, as_of), ids in actions.items():
        job = jobs[name]
        run = run_scope(session, plan_id, config, as_of, only=refs_of(session, ids))
        day = DayPlan(session, facts, _rules(job), run)
        digests = day.digests(day.recipients())
        errors: list[str] = []
        planned = list(
            messages(digests, config, now, name, job.template, plan_id=plan_id, errors=errors)
        )
        if errors:
            return False
        record(
            session,
            planned,
            plan_id=plan_id,
            job=name,
            as_of=as_of,
            now=now,
            sender=config.identity.sender.addr_spec,
        )
    return True


def _taken_actions(queued: Iterable[Queued], taken: set[int]) -> dict[Group, set[int]]:
    found: dict[Group, set[int]] = defaultdict(set)
    for item in queued:
        if item.message_id in taken:
            found[(item.job, item.as_of)].add(item.action_id)
    return found
