"""Reading actions' leads and dependencies, and batching the ids a statement may hold.

The rest of the store reads actions a batch at a time; `of_actions` turns "these actions"
(a condition, or ids) into the conditions to run, within the database's limit on values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import groupby
from typing import TypeVar

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import QueryableAttribute, Session

from worker.models import Action, ActionDependency, ActionLead, LeadRole
from worker.plan.as_above import Row, resolve_streams, says_as_above
from worker.plan.data import DependencyRef
from worker.store.rows import plain_rows
from worker.store.value_list import in_values

CHUNK = 2000
# Ids in one statement: a run's chunk of the plan (5,000) in one, under SQLite's 32,766.
ID_CHUNK = 30_000
T = TypeVar("T")

# Which actions a read is about: a condition on Action, or their ids.
Actions = ColumnElement[bool] | Sequence[int]


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def of_actions(column: QueryableAttribute[int], actions: Actions) -> Iterator[ColumnElement[bool]]:
    """A table's `action_id` column limited to these actions, as one condition per statement
    to run. Ids filter the column itself, so the table's own index on it is used: PostgreSQL
    does not carry an `IN` list on `actions.id` through a join, and scanned all of
    `action_leads` for each batch of a run. Many ids go ID_CHUNK at a time: a statement
    takes at most 32,766 values on SQLite and 65,535 on PostgreSQL, and a board digest
    reads a whole plan."""
    if isinstance(actions, ColumnElement):
        yield column.in_(select(Action.id).where(actions))
        return
    for part in chunks(actions, ID_CHUNK):
        yield in_values(column, part)


def roles_by_action(session: Session, actions: Actions) -> dict[int, list[str]]:
    """Each action's lead role names, in order."""
    roles: dict[int, list[str]] = {}
    # One copy of each name: a plan names the same roles on thousands of actions, and each
    # row would otherwise bring its own.
    names: dict[str, str] = {}
    for condition in of_actions(ActionLead.action_id, actions):
        query = (
            select(ActionLead.action_id, LeadRole.name)
            .join(LeadRole, LeadRole.id == ActionLead.lead_role_id)
            .where(condition)
            .order_by(ActionLead.action_id, ActionLead.position)
        )
        for action_id, name in plain_rows(session, query):
            roles.setdefault(action_id, []).append(names.setdefault(name, name))
    return roles


def deps_by_action(session: Session, actions: Actions) -> dict[int, list[DependencyRef]]:
    """Each action's structured dependencies."""
    deps: dict[int, list[DependencyRef]] = {}
    for condition in of_actions(ActionDependency.action_id, actions):
        query = (
            select(
                ActionDependency.action_id,
                ActionDependency.work_stream,
                ActionDependency.key_deliverable,
            )
            .where(condition)
            .order_by(ActionDependency.action_id, ActionDependency.id)
        )
        for action_id, ws, kd in session.execute(query):
            deps.setdefault(action_id, []).append(DependencyRef(ws, kd))
    return deps


def as_above_texts(session: Session, texts: dict[int, str]) -> dict[int, str]:
    """For the actions among `texts` (id -> Dependencies text) that say "As above", the text
    to show instead, naming the row referred to (worker/plan/as_above.py). Two queries, and
    none when no text says "As above": their work streams' rows up to the last such action."""
    ids = sorted(i for i, text in texts.items() if says_as_above(text))
    if not ids:
        return {}
    reach: dict[int, int] = {}
    for part in chunks(ids, ID_CHUNK):
        query = (
            select(Action.work_stream_id, func.max(Action.position))
            .where(Action.id.in_(part))
            .group_by(Action.work_stream_id)
        )
        for stream, last in session.execute(query):
            reach[stream] = max(last, reach.get(stream, last))
    rows = session.execute(
        select(
            Action.id,
            Action.ref,
            Action.work_stream_id,
            Action.key_deliverable,
            Action.dependencies_text,
        )
        .where(
            Action.archived.is_(False),
            or_(
                *(and_(Action.work_stream_id == s, Action.position <= p) for s, p in reach.items())
            ),
        )
        .order_by(Action.work_stream_id, Action.position)
    ).all()
    streams = (
        [Row(r.id, r.ref, r.key_deliverable, r.dependencies_text or "") for r in group]
        for _, group in groupby(rows, key=lambda r: r.work_stream_id)
    )
    wanted = set(ids)
    return {i: text for i, text in resolve_streams(streams).items() if i in wanted}
