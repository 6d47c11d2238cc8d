"""Progress in the database: setting an action's RAG and state with history, and reading
back what the rules need (latest notes, and which deliverables are Red or overdue)."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from worker.errors import InputError, PlanworkerError, Problem
from worker.frozen import frozen
from worker.io.terminal import one_line
from worker.models import Action, StatusChange, WorkStream
from worker.moments import in_zone
from worker.plan.data import DependencyRef, Rag, State
from worker.store.action_links import Actions, chunks, deps_by_action, of_actions
from worker.store.rows import plain_rows

# --- reading -----------------------------------------------------------------------------


@frozen
class Note:
    text: str
    by: str
    at: datetime


def latest_notes(session: Session, actions: Actions) -> dict[int, Note]:
    """The latest non-empty status note of each of these actions."""
    # The actions first, then their history through its action_id index: joined the other
    # way round, SQLite reads the whole history for every chunk of a large plan.
    notes: dict[int, Note] = {}
    for condition in of_actions(StatusChange.action_id, actions):
        last = (
            select(func.max(StatusChange.id).label("id"))
            .where(condition, StatusChange.note != "")
            .group_by(StatusChange.action_id)
            .subquery()
        )
        query = select(
            StatusChange.action_id,
            StatusChange.note,
            StatusChange.changed_by,
            StatusChange.changed_at,
        ).join(last, last.c.id == StatusChange.id)
        rows = plain_rows(session, query)
        notes.update({a: Note(note, by, at) for a, note, by, at in rows})
    return notes


def held_back() -> ColumnElement[bool]:
    """A target before its start that no admin has confirmed: not overdue by its dates.
    Never NULL, so it can be negated."""
    return (
        Action.due_date.is_not(None)
        & Action.start_date.is_not(None)
        & (Action.due_date < Action.start_date)
        & Action.dates_confirmed.is_(False)
    )


def is_risky(as_of: date) -> ColumnElement[bool]:
    """An open action reported Red or past its target date: what puts the actions that
    depend on it at risk."""
    return (
        Action.archived.is_(False)
        & Action.state.not_in(["completed", "dropped"])
        & or_(
            Action.rag == Rag.RED.value,
            # A target before its start, not yet confirmed, is not overdue by its dates.
            and_(
                Action.due_date < as_of,
                Action.recurrence == "",
                ~held_back(),
            ),
        )
    )


@lru_cache(maxsize=4096)  # a plan repeats each key deliverable's text on all its actions
def kd_number(text: str) -> int | None:
    """The number a key deliverable's text starts with, as dependencies name it."""
    found = re.match(r"\s*(\d+)", text)
    return int(found.group(1)) if found else None


def risky_actions(session: Session, plan_id: int, as_of: date) -> Iterator[RiskyAction]:
    """(work stream number, key deliverable, ref) of each risky action (is_risky), in plan
    order, read a batch at a time: a large plan has hundreds of thousands."""
    query = (
        select(WorkStream.number, Action.key_deliverable, Action.ref)
        .join(WorkStream, WorkStream.id == Action.work_stream_id)
        # `id > 0` (always true) makes the (plan, id) index SQLite's best choice: it read the
        # plan through its (plan, due date) index instead, visiting the rows in due-date
        # order, three times slower at 1M than in the order they are stored.
        .where(Action.plan_id == plan_id, Action.id > 0, is_risky(as_of))
        .order_by(Action.position, Action.id)
        .execution_options(yield_per=5000)
    )
    for number, kd, ref in session.execute(query):
        yield number, kd_number(kd), ref


# A reminder lists at most this many of the risky actions it depends on, then "and N more":
# a work stream can hold thousands, and a list that long helps no reader (and costs memory
# and time in every message that carries it).
RISK_REFS_SHOWN = 10


@frozen
class RiskGroup:
    """The risky actions of one work stream, or of one of its key deliverables: how many, and
    the first few refs in plan order (enough to show RISK_REFS_SHOWN besides the reader's
    own action). A plan's index stays small however many actions are at risk."""

    refs: tuple[str, ...]
    count: int


GroupKey = tuple[int, int | None]  # work stream number, key deliverable number (None: all)
RiskyAction = tuple[int, int | None, str]  # work stream number, key deliverable, ref
RiskIndex = dict[GroupKey, RiskGroup]


def risk_groups(number: int, kd: int | None) -> tuple[GroupKey, ...]:
    """The groups an action of this work stream and key deliverable belongs to."""
    return ((number, None),) if kd is None else ((number, None), (number, kd))


def risk_index(risky: dict[int, list[tuple[int | None, str]]]) -> RiskIndex:
    """Group the risky actions (per work stream, its (key deliverable, ref) pairs in plan
    order) by work stream (key None) and by key deliverable."""
    return grouped_risks((n, kd, ref) for n, found in risky.items() for kd, ref in found)


def grouped_risks(risky: Iterable[RiskyAction]) -> RiskIndex:
    """The risky actions, in plan order, grouped by work stream and key deliverable: a
    count and the first refs of each group, whatever their number."""
    refs: dict[GroupKey, list[str]] = {}
    counts: dict[GroupKey, int] = {}
    for number, kd, ref in risky:
        for key in risk_groups(number, kd):
            counts[key] = counts.get(key, 0) + 1
            kept = refs.setdefault(key, [])
            if len(kept) <= RISK_REFS_SHOWN:
                kept.append(ref)
    return {key: RiskGroup(tuple(refs[key]), n) for key, n in counts.items()}


def at_risk_from(
    depends_on: Sequence[DependencyRef],
    index: RiskIndex,
    own_ref: str,
    own_groups: Collection[GroupKey] = (),
) -> tuple[str, ...]:
    """Refs of the risky actions an action depends on (a whole work stream, or one of its
    key deliverables): the first RISK_REFS_SHOWN, then "and N more" if there are more. The
    action itself is never counted: `own_groups` are its groups if it is risky itself."""
    whole = {dep.work_stream for dep in depends_on if dep.key_deliverable is None}
    keys: dict[GroupKey, None] = {}
    for dep in depends_on:
        # A key deliverable of a stream the action depends on as a whole adds nothing new.
        if dep.key_deliverable is None or dep.work_stream not in whole:
            keys[(dep.work_stream, dep.key_deliverable)] = None
    # Different streams, and different key deliverables of one stream, share no action.
    found = [(key, index[key]) for key in keys if key in index]
    total = sum(group.count - (key in own_groups) for key, group in found)
    shown: list[str] = []
    for _, group in found:
        for ref in group.refs:
            if len(shown) == RISK_REFS_SHOWN:
                break
            if ref != own_ref:
                shown.append(ref)
    if total > len(shown):
        shown.append(f"and {total - len(shown)} more")
    return tuple(shown)


def plan_risks(session: Session, plan_id: int, as_of: date) -> RiskIndex:
    """The plan's risky actions, grouped for at_risk_from."""
    return grouped_risks(risky_actions(session, plan_id, as_of))


def dependency_risks(
    session: Session,
    own: dict[int, tuple[str, tuple[GroupKey, ...]]],
    risks: RiskIndex,
) -> dict[int, tuple[str, ...]]:
    """For each action in `own` (id -> its ref and, if it is risky itself, its groups), its
    risky dependencies."""
    if not risks:
        return {}
    deps = deps_by_action(session, list(own))
    return {
        action_id: found
        for action_id, refs_ in deps.items()
        if (found := at_risk_from(refs_, risks, *own.get(action_id, ("", ()))))
    }


# --- writing -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One change of progress as a lead reports it."""

    ref: str
    rag: Rag | None  # None: unchanged
    state: State | None
    note: str
    by: str
    at: datetime
    source: str  # "cli", "status return <file>"


class ChangedBy(Protocol):
    """Who changed an action's progress, when, through what, and their note."""

    @property
    def by(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def source(self) -> str: ...
    @property
    def note(self) -> str: ...


def history_row(
    action_id: int,
    who: ChangedBy,
    rag: tuple[str | None, str | None],
    state: tuple[str | None, str | None],
    target: tuple[str | None, str | None] = (None, None),
) -> dict[str, Any]:
    """A status_history row: the action's RAG, state and (when it moved) target text
    (before, after), and who changed them. Status updates, plan imports and rebaselines all
    record their changes so."""
    return {
        "action_id": action_id,
        "changed_at": who.at,
        "changed_by": who.by,
        "source": who.source,
        "rag_from": rag[0],
        "rag_to": rag[1],
        "state_from": state[0],
        "state_to": state[1],
        "note": who.note,
        "target_from": target[0],
        "target_to": target[1],
    }


@dataclass(slots=True)
class Applied:
    changed: int = 0
    unchanged: int = 0
    refs: list[str] | None = None


def _current(session: Session, plan_id: int, refs: Sequence[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for part in chunks(list(refs)):
        query = select(Action.id, Action.ref, Action.rag, Action.state).where(
            Action.plan_id == plan_id, Action.ref.in_(part), Action.archived.is_(False)
        )
        found.update({r.ref: dict(r._mapping) for r in session.execute(query)})
    notes = latest_notes(session, [r["id"] for r in found.values()]) if found else {}
    for row in found.values():
        note = notes.get(row["id"])
        row["note"] = note.text if note else ""
    return found


def apply_updates(
    session: Session,
    plan_id: int,
    updates: Sequence[StatusUpdate],
    places: Sequence[str],
    source: str = "status",
) -> Applied:
    """Apply status updates in the open transaction, all or nothing. `places` names each
    update's origin for errors ("row 7"). An update that changes nothing -- the same RAG,
    state and note as now -- is skipped, so importing the same return twice is harmless."""
    current = _current(session, plan_id, [u.ref for u in updates])
    problems = [
        Problem(f"{place}, column 'ID'", f"no action {u.ref!r} in this plan")
        for u, place in zip(updates, places, strict=True)
        if u.ref not in current
    ]
    if problems:
        raise InputError(source, problems)
    result = Applied(refs=[])
    history: list[dict[str, Any]] = []
    for update_ in updates:
        row = current[update_.ref]
        rag = update_.rag.value if update_.rag else row["rag"]
        state = update_.state.value if update_.state else row["state"]
        if (rag, state, update_.note) == (row["rag"], row["state"], row["note"]):
            result.unchanged += 1
            continue
        history.append(history_row(row["id"], update_, (row["rag"], rag), (row["state"], state)))
        if (rag, state) != (row["rag"], row["state"]):
            session.execute(
                update(Action).where(Action.id == row["id"]).values(rag=rag, state=state)
            )
        row.update(rag=rag, state=state, note=update_.note)
        result.changed += 1
        assert result.refs is not None
        result.refs.append(update_.ref)
    if history:
        session.execute(insert(StatusChange), history)
    return result


def confirm_dates(session: Session, plan_id: int, ref: str) -> bool:
    """Mark an action's dates as confirmed by an admin (`status set --confirm-date`): a
    target before its start is then taken as written. False when there is no such action."""
    found = session.execute(
        update(Action)
        .where(Action.plan_id == plan_id, Action.ref == ref, Action.archived.is_(False))
        .values(dates_confirmed=True)
    )
    return bool(getattr(found, "rowcount", 0))


def confirmed_refs(session: Session, plan_id: int) -> frozenset[str]:
    """The actions whose dates an admin has confirmed (`plan check` no longer lists them)."""
    query = select(Action.ref).where(Action.plan_id == plan_id, Action.dates_confirmed.is_(True))
    return frozenset(session.scalars(query))


def history(session: Session, plan_id: int, ref: str) -> list[StatusChange]:
    action = session.scalars(
        select(Action).where(Action.plan_id == plan_id, Action.ref == ref)
    ).one_or_none()
    if action is None:
        raise PlanworkerError(f"no action {ref!r} in this plan")
    query = (
        select(StatusChange)
        .where(StatusChange.action_id == action.id)
        .order_by(StatusChange.changed_at, StatusChange.id)
    )
    return list(session.scalars(query))


def _target_words(text: str | None) -> str:
    """A target text on one line: a cell listing several dates keeps them apart."""
    return "; ".join(" ".join(line.split()) for line in (text or "").splitlines() if line.strip())


def target_change(before: str | None, after: str | None) -> str:
    """A moved target in words: "re-baselined from 30 September 2012 to 31 October 2012"
    (the texts as written), or "" when the target did not move."""
    old, new = _target_words(before), _target_words(after)
    if old == new:
        return ""
    if not old:
        return f"target set to {new}"
    if not new:
        return f"target removed (was {old})"
    return f"re-baselined from {old} to {new}"


def change_words(c: StatusChange) -> str:
    """What one history row changed, in words ("note" when only a note was added)."""
    what = []
    if moved := target_change(c.target_from, c.target_to):
        what.append(moved)
    if c.rag_from != c.rag_to:
        what.append(f"RAG {c.rag_from or 'none'} -> {c.rag_to or 'none'}")
    if c.state_from != c.state_to:
        what.append(f"{c.state_from} -> {c.state_to}")
    return "; ".join(what) or "note"


def render_history(ref: str, changes: Sequence[StatusChange], timezone: str) -> str:
    """`status history` as text: one line per change, its time in the plan's zone. Notes
    and names are shown, never obeyed: their control characters and line breaks are
    printed as escapes."""
    if not changes:
        return f"{one_line(ref)}: no status changes recorded"
    lines = []
    for c in changes:
        note = f" — {c.note}" if c.note else ""
        lines.append(
            one_line(
                f"{in_zone(c.changed_at, timezone):%Y-%m-%d %H:%M}  {c.changed_by} ({c.source}): "
                f"{change_words(c)}{note}"
            )
        )
    return "\n".join(lines)
