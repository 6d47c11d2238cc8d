"""Writing a plan into the database and reading it back.

An import is one transaction: it writes only what differs from what is stored, so the same
file twice changes nothing, and a failure leaves the database as it was. Actions a new file
no longer lists are archived, never deleted, so their status history stays.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, delete, insert, select, update
from sqlalchemy.orm import QueryableAttribute, Session

from worker.errors import PlanworkerError
from worker.models import (
    Action,
    ActionDependency,
    ActionLead,
    LeadRole,
    Outcome,
    Phase,
    Plan,
    StatusChange,
    WorkStream,
    table_of,
)
from worker.plan.data import (
    ActionData,
    DependencyRef,
    PlanDoc,
    PlanInfo,
    Rag,
    State,
)
from worker.plan.data import Outcome as OutcomeData
from worker.plan.data import WorkStream as WorkStreamData
from worker.plan.dates import MonthDay
from worker.plan.due import read_action_dates
from worker.plan.leads import role_key

CHUNK = 2000
# Called with (actions written, actions in the file) as an import goes.
Progress = Callable[[int, int], None]

# Ids in one statement: a run's chunk of the plan (5,000) in one, under SQLite's 32,766.
ID_CHUNK = 30_000
T = TypeVar("T")

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
    "due_precision",
    "recurrence",
    "dates_readable",
    "archived",
)


@dataclass
class ImportChanges:
    """What an import changes, action by action (kept only when asked for: `plan import
    --diff`). `changed` maps an ID to the fields that change."""

    added: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)
    archived: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    plan: str
    created_plan: bool = False
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0
    status_changes: int = 0
    warnings: list[str] = field(default_factory=list)
    # Live actions the plan held before, and how many of them keep their ID but get a text
    # that barely matches the old one: the signs of a different plan replacing this one.
    live_before: int = 0
    rewritten: int = 0
    changes: ImportChanges | None = None

    @property
    def changed(self) -> bool:
        return bool(
            self.created_plan or self.added or self.updated or self.archived or self.status_changes
        )


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- choosing a plan -------------------------------------------------------------------


def find_plan(session: Session, slug: str | None) -> Plan:
    """The plan named, or the only plan; a clear error when that is not one plan."""
    if slug:
        plan = session.scalars(select(Plan).where(Plan.slug == slug)).one_or_none()
        if plan is None:
            known = ", ".join(session.scalars(select(Plan.slug).order_by(Plan.slug))) or "none"
            raise PlanworkerError(f"no plan named {slug!r} (plans in the database: {known})")
        return plan
    plans = session.scalars(select(Plan).order_by(Plan.slug).limit(2)).all()
    if not plans:
        raise PlanworkerError(
            "no plan in the database yet: import one with "
            "'planworker plan import seed/cbc-action-plan-2012-13.yaml'"
        )
    if len(plans) > 1:
        known = ", ".join(session.scalars(select(Plan.slug).order_by(Plan.slug)))
        raise PlanworkerError(f"the database holds several plans ({known}): choose one with --plan")
    return plans[0]


# --- import ------------------------------------------------------------------------------


def _plan_row(session: Session, info: PlanInfo, result: ImportResult) -> Plan:
    plan = session.scalars(select(Plan).where(Plan.slug == info.slug)).one_or_none()
    if plan is None:
        plan = Plan(slug=info.slug, title=info.title)
        session.add(plan)
        result.created_plan = True
    values: dict[str, Any] = {
        "title": info.title,
        "organisation": info.organisation,
        "source": info.source,
        "timezone": info.timezone,
        "legend_green": info.rag_legend.get("green", ""),
        "legend_amber": info.rag_legend.get("amber", ""),
        "legend_red": info.rag_legend.get("red", ""),
    }
    for name, value in values.items():
        if getattr(plan, name) != value:
            setattr(plan, name, value)
    wanted = sorted(info.phases.items())
    if [(p.number, p.title) for p in plan.phases] != wanted:
        plan.phases = [Phase(number=n, title=t) for n, t in wanted]
    session.flush()
    return plan


def _work_streams(
    session: Session, plan: Plan, streams: Iterable[WorkStreamData], needed: set[int]
) -> dict[int, int]:
    """Upsert the file's work streams; create a placeholder for any other number used."""
    by_number = {ws.number: ws for ws in plan.work_streams}
    for data in streams:
        row = by_number.get(data.number)
        if row is None:
            row = WorkStream(number=data.number, title=data.title)
            plan.work_streams.append(row)
            by_number[data.number] = row
        for name in ("title", "heading", "phase", "strategic_lead", "key_aim"):
            if getattr(row, name) != getattr(data, name):
                setattr(row, name, getattr(data, name))
        _outcomes(row, data.outcomes)
    for number in sorted(needed - set(by_number)):
        row = WorkStream(number=number, title=f"Work Stream {number}", phase=1)
        plan.work_streams.append(row)
        by_number[number] = row
    session.flush()
    return {number: row.id for number, row in by_number.items()}


def _outcomes(row: WorkStream, outcomes: Sequence[OutcomeData]) -> None:
    if [(o.number, o.text) for o in row.outcomes] != [(o.number, o.text) for o in outcomes]:
        row.outcomes = [
            Outcome(position=i, number=o.number, text=o.text) for i, o in enumerate(outcomes)
        ]


DATE_COLUMNS = (
    Action.start_date,
    Action.due_date,
    Action.due_precision,
    Action.recurrence,
    Action.dates_readable,
)


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
        **_date_values(action.start, action.target, month_day),
        "archived": False,
    }


def _role_ids(session: Session, plan_id: int, actions: Sequence[ActionData]) -> dict[str, int]:
    names: dict[str, str] = {}
    for action in actions:
        for role in action.lead_roles:
            names.setdefault(role_key(role), role)
    stored = dict(
        session.execute(select(LeadRole.key, LeadRole.id).where(LeadRole.plan_id == plan_id)).all()
    )
    missing = [
        {"plan_id": plan_id, "key": k, "name": n} for k, n in names.items() if k not in stored
    ]
    if missing:
        session.execute(insert(LeadRole), missing)
        stored = dict(
            session.execute(
                select(LeadRole.key, LeadRole.id).where(LeadRole.plan_id == plan_id)
            ).all()
        )
    return stored


# Which actions a read is about: a condition on Action, or their ids.
Actions = ColumnElement[bool] | Sequence[int]


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
        yield column.in_(part)


def roles_by_action(session: Session, actions: Actions) -> dict[int, list[str]]:
    """Each action's lead role names, in order."""
    roles: dict[int, list[str]] = {}
    for condition in of_actions(ActionLead.action_id, actions):
        query = (
            select(ActionLead.action_id, LeadRole.name)
            .join(LeadRole, LeadRole.id == ActionLead.lead_role_id)
            .where(condition)
            .order_by(ActionLead.action_id, ActionLead.position)
        )
        for action_id, name in session.execute(query):
            roles.setdefault(action_id, []).append(name)
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


@dataclass(frozen=True, slots=True)
class Changer:
    """Who an import's status changes are recorded against, and when."""

    by: str
    at: datetime
    source: str = "import"
    note: str = ""


def _status_updates(stored: dict[str, Any] | None, action: ActionData) -> dict[str, Any]:
    """The status columns the file changes (only where it gives a value)."""
    changes: dict[str, Any] = {}
    if action.rag is not None and (stored is None or stored["rag"] != action.rag.value):
        changes["rag"] = action.rag.value
    if action.state is not None and (stored is None or stored["state"] != action.state.value):
        changes["state"] = action.state.value
    return changes


def _history(
    action_id: int, stored: dict[str, Any] | None, changes: dict[str, Any], who: Changer
) -> dict[str, Any]:
    before_rag = stored["rag"] if stored else None
    before_state = stored["state"] if stored else State.NOT_STARTED.value
    return {
        "action_id": action_id,
        "changed_at": who.at,
        "changed_by": who.by,
        "source": who.source,
        "rag_from": before_rag,
        "rag_to": changes.get("rag", before_rag),
        "state_from": before_state,
        "state_to": changes.get("state", before_state),
        "note": who.note,
    }


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


def _sync_chunk(
    session: Session,
    plan_id: int,
    chunk: Sequence[tuple[int, ActionData]],
    ws_ids: dict[int, int],
    role_ids: dict[str, int],
    month_day: MonthDay,
    who: Changer,
    result: ImportResult,
    known: dict[str, int],
) -> None:
    # Only actions the plan already had are read back, by primary key: a lookup by ref let
    # PostgreSQL, its statistics not yet counting the rows this import had written, scan
    # the whole plan for every chunk.
    old_ids = [known[a.ref] for _, a in chunk if a.ref in known]
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
    for position, action in chunk:
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
        if status:
            history.append(_history(old["id"], old, status, who))
    if new_rows:
        actions = table_of(Action)
        inserted = session.execute(
            insert(actions).returning(actions.c.id, actions.c.ref, sort_by_parameter_order=True),
            new_rows,
        )
        by_ref = {ref: action_id for action_id, ref in inserted}
        for action in new_actions:
            stored[action.ref] = {"id": by_ref[action.ref]}
            status = _status_updates(None, action)
            if status:
                history.append(_history(by_ref[action.ref], None, status, who))
        result.added += len(new_rows)
        if result.changes is not None:
            result.changes.added += [action.ref for action in new_actions]
    if updates:
        # ORM bulk UPDATE by primary key: rows with the same changed columns share a statement.
        session.execute(update(Action), updates)
    if history:
        session.execute(insert(table_of(StatusChange)), history)
        result.status_changes += len(history)
    ids_by_ref = {ref: row["id"] for ref, row in stored.items()}
    _sync_links(session, chunk, ids_by_ref, role_ids, old_ids)
    _sync_deps(session, chunk, ids_by_ref, old_ids)


def _sync_links(
    session: Session,
    chunk: Sequence[tuple[int, ActionData]],
    ids_by_ref: dict[str, int],
    role_ids: dict[str, int],
    old_ids: Sequence[int],
) -> None:
    # An action added by this import has no leads stored yet.
    stored = roles_by_action(session, old_ids) if old_ids else {}
    stale: list[int] = []
    rows: list[dict[str, Any]] = []
    for _, action in chunk:
        action_id = ids_by_ref[action.ref]
        wanted = list(dict.fromkeys(role_key(r) for r in action.lead_roles))
        if [role_key(n) for n in stored.get(action_id, [])] != wanted:
            stale.append(action_id)
            rows += [
                {"action_id": action_id, "lead_role_id": role_ids[k], "position": i}
                for i, k in enumerate(wanted)
            ]
    if stale:
        session.execute(delete(ActionLead).where(ActionLead.action_id.in_(stale)))
    if rows:
        session.execute(insert(table_of(ActionLead)), rows)


def _sync_deps(
    session: Session,
    chunk: Sequence[tuple[int, ActionData]],
    ids_by_ref: dict[str, int],
    old_ids: Sequence[int],
) -> None:
    stored = deps_by_action(session, old_ids) if old_ids else {}
    stale: list[int] = []
    rows: list[dict[str, Any]] = []
    for _, action in chunk:
        action_id = ids_by_ref[action.ref]
        if stored.get(action_id, []) != list(action.depends_on):
            stale.append(action_id)
            rows += [
                {
                    "action_id": action_id,
                    "work_stream": d.work_stream,
                    "key_deliverable": d.key_deliverable,
                }
                for d in action.depends_on
            ]
    if stale:
        session.execute(delete(ActionDependency).where(ActionDependency.action_id.in_(stale)))
    if rows:
        session.execute(insert(table_of(ActionDependency)), rows)


def _archive_missing(
    session: Session, plan_id: int, refs: set[str], changes: ImportChanges | None
) -> int:
    live = session.execute(
        select(Action.id, Action.ref).where(Action.plan_id == plan_id, Action.archived.is_(False))
    )
    gone = [(action_id, ref) for action_id, ref in live if ref not in refs]
    for part in chunks(gone):
        ids = [action_id for action_id, _ in part]
        session.execute(update(Action).where(Action.id.in_(ids)).values(archived=True))
    if changes is not None:
        changes.archived += [ref for _, ref in gone]
    return len(gone)


def import_plan(
    session: Session,
    doc: PlanDoc,
    *,
    month_day: MonthDay,
    who: Changer,
    list_changes: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Write the plan in `doc` (already validated) into the open transaction; with
    `list_changes`, the result names each action added, changed and archived. `progress` is
    told the actions written so far and the total, after each chunk."""
    result = ImportResult(plan=doc.info.slug, changes=ImportChanges() if list_changes else None)
    plan = _plan_row(session, doc.info, result)
    needed = {a.work_stream for a in doc.actions}
    ws_ids = _work_streams(session, plan, doc.work_streams, needed)
    role_ids = _role_ids(session, plan.id, doc.actions)
    numbered = list(enumerate(doc.actions))
    # The plan's actions as stored before this import: one query, not one per chunk.
    query = select(Action.ref, Action.id, Action.archived).where(Action.plan_id == plan.id)
    known: dict[str, int] = {}
    for ref, action_id, archived in session.execute(query):
        known[ref] = action_id
        result.live_before += not archived
    done = 0
    for chunk in chunks(numbered):
        _sync_chunk(session, plan.id, chunk, ws_ids, role_ids, month_day, who, result, known)
        done += len(chunk)
        if progress is not None:
            progress(done, len(numbered))
    refs = {a.ref for a in doc.actions}
    result.archived = _archive_missing(session, plan.id, refs, result.changes)
    if plan.month_day != month_day:
        plan.month_day = month_day
    session.flush()
    return result


def _date_values(start_text: str, target_text: str, month_day: MonthDay) -> dict[str, Any]:
    dates = read_action_dates(start_text, target_text, month_day)
    return {
        "start_date": dates.start,
        "due_date": dates.due,
        "due_precision": dates.precision,
        "recurrence": str(dates.recurrence) if dates.recurrence else "",
        "dates_readable": dates.readable,
    }


def reread_dates(session: Session, plan: Plan, month_day: MonthDay) -> int:
    """Re-read every action's dates when the dates.month_day setting has changed since they
    were stored (otherwise nothing to do); returns how many actions' dates changed."""
    if plan.month_day == month_day:
        return 0
    columns = (Action.id, Action.start_text, Action.target_text, *DATE_COLUMNS)
    rows = session.execute(select(*columns).where(Action.plan_id == plan.id)).all()
    changed = 0
    for chunk in chunks(rows):
        updates = []
        for row in chunk:
            values = _date_values(row.start_text, row.target_text, month_day)
            if any(getattr(row, k.key) != values[k.key] for k in DATE_COLUMNS):
                updates.append({"id": row.id, **values})
        if updates:
            session.execute(update(Action), updates)
            changed += len(updates)
    plan.month_day = month_day
    session.flush()
    return changed


# --- reading back ------------------------------------------------------------------------


def plan_info(plan: Plan) -> PlanInfo:
    legend = {"green": plan.legend_green, "amber": plan.legend_amber, "red": plan.legend_red}
    return PlanInfo(
        slug=plan.slug,
        title=plan.title,
        organisation=plan.organisation,
        source=plan.source,
        timezone=plan.timezone,
        rag_legend={k: v for k, v in legend.items() if v},
        phases={p.number: p.title for p in plan.phases},
    )


def _stream(ws: WorkStream) -> WorkStreamData:
    return WorkStreamData(
        number=ws.number,
        title=ws.title,
        phase=ws.phase,
        heading=ws.heading,
        strategic_lead=ws.strategic_lead,
        key_aim=ws.key_aim,
        outcomes=tuple(OutcomeData(o.number, o.text) for o in ws.outcomes),
    )


def load_plan(session: Session, plan: Plan) -> PlanDoc:
    """The plan as plain data, actions in plan order."""
    roles = roles_by_action(session, Action.plan_id == plan.id)
    deps = deps_by_action(session, Action.plan_id == plan.id)
    numbers = {ws.id: ws.number for ws in plan.work_streams}
    query = (
        select(Action)
        .where(Action.plan_id == plan.id, Action.archived.is_(False))
        .order_by(Action.position, Action.id)
    )
    actions = tuple(
        ActionData(
            ref=a.ref,
            row_ref=a.row_ref,
            work_stream=numbers[a.work_stream_id],
            key_deliverable=a.key_deliverable,
            action=a.action_text,
            description=a.description,
            lead=a.lead_text,
            lead_roles=tuple(roles.get(a.id, ())),
            dependencies=a.dependencies_text,
            depends_on=tuple(deps.get(a.id, ())),
            start=a.start_text,
            target=a.target_text,
            rag=Rag(a.rag) if a.rag else None,
            state=State(a.state),
        )
        for a in session.scalars(query)
    )
    return PlanDoc(plan_info(plan), tuple(_stream(ws) for ws in plan.work_streams), actions)
