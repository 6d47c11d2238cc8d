"""Writing one chunk of an imported plan's actions: their rows, status history, leads and
dependencies, each only where it differs from what is stored."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from worker.models import Action, ActionDependency, ActionLead, StatusChange, table_of
from worker.plan.data import ActionData, State
from worker.plan.dates import MonthDay
from worker.plan.leads import role_key
from worker.store.action_links import deps_by_action, roles_by_action
from worker.store.import_result import Changer, ImportResult
from worker.store.plan_dates import date_values
from worker.store.status import history_row

# Columns an import compares and writes; status columns are handled separately.
TEXT_COLUMNS = (
    "work_stream_id",
    "row_ref",
    "position",
    "key_deliverable",
    "action_text",
    "description",
    "lead_text",
    "dependencies_text",
    "start_text",
    "target_text",
    "start_date",
    "due_date",
    "first_due_date",
    "due_precision",
    "recurrence",
    "dates_readable",
    "archived",
)

# Fields as a person knows them, for `plan import --diff`; the dates read follow the texts.
FIELD_NAMES = {
    "work_stream_id": "work stream",
    "row_ref": "row",
    "position": "order",
    "key_deliverable": "key deliverable",
    "action_text": "action",
    "description": "description",
    "lead_text": "lead",
    "dependencies_text": "dependencies",
    "start_text": "start date",
    "target_text": "target date",
    "archived": "restored",
    "rag": "RAG",
    "state": "status",
}
# Below this share of words in common, a new text is another action's, not an edit.
SAME_ACTION_WORDS = 0.25


def _words(*texts: str) -> set[str]:
    return {w for text in texts for w in re.findall(r"\w+", text.casefold())}


def rewritten(old_action: str, old_description: str, action: ActionData) -> bool:
    """Whether an action's new texts barely match its old ones (few words in common)."""
    before = _words(old_action, old_description)
    after = _words(action.action, action.description)
    if not before or not after:
        return before != after
    return len(before & after) / len(before | after) < SAME_ACTION_WORDS


@lru_cache(maxsize=16_384)
def _dates(start_text: str, target_text: str, month_day: MonthDay) -> tuple[tuple[str, Any], ...]:
    """The date columns read from these texts. Reading a date is pure but slow, and a plan's
    date texts repeat ("March 2013", "Ongoing"): a bounded cache reads each pair once."""
    return tuple(date_values(start_text, target_text, month_day).items())


def _values(
    action: ActionData, position: int, ws_ids: dict[int, int], month_day: MonthDay
) -> dict[str, Any]:
    return {
        "work_stream_id": ws_ids[action.work_stream],
        "row_ref": action.row_ref,
        "position": position,
        "key_deliverable": action.key_deliverable,
        "action_text": action.action,
        "description": action.description,
        "lead_text": action.lead,
        "dependencies_text": action.dependencies,
        "start_text": action.start,
        "target_text": action.target,
        **dict(_dates(action.start, action.target, month_day)),
        "archived": False,
    }


def _status_updates(stored: dict[str, Any] | None, action: ActionData) -> dict[str, Any]:
    """The status columns the file changes (only where it gives a value)."""
    changes: dict[str, Any] = {}
    if action.rag is not None and (stored is None or stored["rag"] != action.rag.value):
        changes["rag"] = action.rag.value
    if action.state is not None and (stored is None or stored["state"] != action.state.value):
        changes["state"] = action.state.value
    return changes


def _history(
    action_id: int,
    stored: dict[str, Any] | None,
    changes: dict[str, Any],
    who: Changer,
    target: tuple[str | None, str | None] = (None, None),
) -> dict[str, Any]:
    before_rag = stored["rag"] if stored else None
    before_state = stored["state"] if stored else State.NOT_STARTED.value
    rag = (before_rag, changes.get("rag", before_rag))
    state = (before_state, changes.get("state", before_state))
    return history_row(action_id, who, rag, state, target)


def _moved(old: dict[str, Any], diff: dict[str, Any]) -> tuple[str | None, str | None]:
    """The target text before and after, when this import changes it: the action's trail
    ("re-baselined from ... to ..."), never a silent edit."""
    if "target_text" not in diff:
        return (None, None)
    return (old["target_text"], diff["target_text"])


def sync_chunk(
    session: Session,
    plan_id: int,
    chunk: Sequence[tuple[int, ActionData, int | None]],
    ws_ids: dict[int, int],
    role_ids: dict[str, int],
    month_day: MonthDay,
    who: Changer,
    result: ImportResult,
) -> None:
    """Write one chunk of (position, action, stored row id or None for a new action)."""
    # Only actions the plan already had are read back, by primary key: a lookup by ref let
    # PostgreSQL, its statistics not yet counting the rows this import had written, scan
    # the whole plan for every chunk.
    old_ids = [action_id for _, _, action_id in chunk if action_id is not None]
    columns = [
        Action.id,
        Action.ref,
        Action.rag,
        Action.state,
        *(getattr(Action, c) for c in TEXT_COLUMNS),
    ]
    stored: dict[str, dict[str, Any]] = {}
    if old_ids:
        query = select(*columns).where(Action.id.in_(old_ids))
        stored = {row["ref"]: dict(row) for row in session.execute(query).mappings()}
    new_rows: list[dict[str, Any]] = []
    new_actions: list[ActionData] = []
    updates: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for position, action, _ in chunk:
        values = _values(action, position, ws_ids, month_day)
        old = stored.get(action.ref)
        status = _status_updates(old, action)
        if old is None:
            new_rows.append(
                {
                    "plan_id": plan_id,
                    "ref": action.ref,
                    **values,
                    "rag": None,
                    "state": State.NOT_STARTED.value,
                    **status,
                }
            )
            new_actions.append(action)
            continue
        diff = {k: v for k, v in values.items() if old[k] != v}
        if "due_date" in diff or "start_date" in diff:
            diff["dates_confirmed"] = False  # a confirmed target-before-start is asked anew
        if diff or status:
            updates.append({"id": old["id"], **diff, **status})
        if diff and not old["archived"]:
            result.rewritten += rewritten(old["action_text"], old["description"], action)
        if result.changes is not None and (diff or status):
            fields = [FIELD_NAMES[k] for k in (*diff, *status) if k in FIELD_NAMES]
            result.changes.changed[action.ref] = fields
        if diff:
            result.updated += 1
        elif not status:
            result.unchanged += 1
        moved = _moved(old, diff)
        result.targets_moved += moved != (None, None)
        if status or moved != (None, None):
            history.append(_history(old["id"], old, status, who, moved))
            result.status_changes += bool(status)
    if new_rows:
        by_ref = _insert_actions(session, plan_id, new_rows)
        for action in new_actions:
            stored[action.ref] = {"id": by_ref[action.ref]}
            status = _status_updates(None, action)
            if status:
                history.append(_history(by_ref[action.ref], None, status, who))
                result.status_changes += 1
        result.added += len(new_rows)
        if result.changes is not None:
            result.changes.added += [action.ref for action in new_actions]
    if updates:
        # ORM bulk UPDATE by primary key: rows with the same changed columns share a statement.
        session.execute(update(Action), updates)
    if history:
        session.execute(insert(table_of(StatusChange)), history)
    ids_by_ref = {ref: row["id"] for ref, row in stored.items()}
    _sync_links(session, chunk, ids_by_ref, role_ids, old_ids)


def _insert_actions(session: Session, plan_id: int, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert new actions; their ids by ref."""
    actions = table_of(Action)
    if session.get_bind().dialect.name == "sqlite":
        # SQLite cannot promise RETURNING rows in parameter order for a batch, so SQLAlchemy
        # would run one INSERT per row: one executemany, then one indexed read of the ids
        # (plan_id, ref is unique) is several times cheaper.
        session.execute(insert(actions), rows)
        query = select(Action.ref, Action.id).where(
            Action.plan_id == plan_id, Action.ref.in_(bindparam("refs", expanding=True))
        )
        refs = {"refs": [row["ref"] for row in rows]}
        return {ref: action_id for ref, action_id in session.execute(query, refs)}
    inserted = session.execute(
        insert(actions).returning(actions.c.id, actions.c.ref, sort_by_parameter_order=True),
        rows,
    )
    return {ref: action_id for action_id, ref in inserted}


def _sync_links(
    session: Session,
    chunk: Sequence[tuple[int, ActionData, int | None]],
    ids_by_ref: dict[str, int],
    role_ids: dict[str, int],
    old_ids: Sequence[int],
) -> None:
    """Rewrite the leads and the dependencies of the actions whose lists changed. An action
    added by this import has none stored yet."""
    roles = roles_by_action(session, old_ids) if old_ids else {}
    deps = deps_by_action(session, old_ids) if old_ids else {}
    leads: dict[int, list[dict[str, Any]]] = {}
    depends_on: dict[int, list[dict[str, Any]]] = {}
    for _, action, _ in chunk:
        action_id = ids_by_ref[action.ref]
        wanted = list(dict.fromkeys(role_key(r) for r in action.lead_roles))
        if [role_key(n) for n in roles.get(action_id, [])] != wanted:
            leads[action_id] = [
                {"lead_role_id": role_ids[k], "position": i} for i, k in enumerate(wanted)
            ]
        if deps.get(action_id, []) != list(action.depends_on):
            depends_on[action_id] = [
                {"work_stream": d.work_stream, "key_deliverable": d.key_deliverable}
                for d in action.depends_on
            ]
    _relink(session, ActionLead, leads)
    _relink(session, ActionDependency, depends_on)


def _relink(
    session: Session,
    model: type[ActionLead] | type[ActionDependency],
    rows: dict[int, list[dict[str, Any]]],
) -> None:
    """Replace a link table's rows for these actions."""
    if rows:
        # The ids go as a parameter, not into the statement: a statement sits in reference
        # cycles, and would keep each chunk's list alive until the collector came by.
        chosen = delete(model).where(model.action_id.in_(bindparam("ids", expanding=True)))
        session.execute(chosen, {"ids": list(rows)})
    values = [{"action_id": a, **row} for a, action_rows in rows.items() for row in action_rows]
    if values:
        session.execute(insert(table_of(model)), values)
