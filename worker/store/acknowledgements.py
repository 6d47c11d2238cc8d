"""Acknowledgements in the database: read set-wise for the rules, and recorded from the
web page (one per action and address; a new one replaces the old)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from worker.models import Acknowledgement
from worker.rules.acknowledge import Acknowledged, Snapshot
from worker.store.action_links import Actions, of_actions


def acknowledgements(session: Session, actions: Actions) -> dict[int, tuple[Acknowledged, ...]]:
    """Every acknowledgement of these actions, oldest first."""
    found: dict[int, list[Acknowledged]] = {}
    for condition in of_actions(Acknowledgement.action_id, actions):
        query = select(Acknowledgement).where(condition).order_by(Acknowledgement.id)
        for row in session.scalars(query):
            found.setdefault(row.action_id, []).append(_acknowledged(row))
    return {action_id: tuple(acks) for action_id, acks in found.items()}


def _acknowledged(row: Acknowledgement) -> Acknowledged:
    saw = Snapshot(row.rag, row.state, row.target_text, row.latest_note, row.latest_note_at)
    return Acknowledged(row.email, row.name, row.at, row.note, saw)


def record_acknowledgement(session: Session, action_id: int, ack: Acknowledged) -> None:
    """Record `ack`, replacing the same person's earlier one of the action (the caller
    commits)."""
    session.execute(
        delete(Acknowledgement).where(
            Acknowledgement.action_id == action_id, Acknowledgement.email == ack.email
        )
    )
    session.add(
        Acknowledgement(
            action_id=action_id,
            email=ack.email,
            name=ack.name,
            note=ack.note,
            at=ack.at,
            rag=ack.saw.rag,
            state=ack.saw.state,
            target_text=ack.saw.target_text,
            latest_note=ack.saw.latest_note,
            latest_note_at=ack.saw.latest_note_at,
        )
    )
