"""Database tables (SQLAlchemy 2.0 typed ORM). Migrations live in worker/migrations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from worker.moments import as_utc

# Stable constraint names, so migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp column kept in UTC on every engine. SQLAlchemy's own DateTime(timezone=
    True) on SQLite writes an aware value's wall-clock time and drops its zone (and reads
    back a naive one), while PostgreSQL keeps the instant: a change dated noon in the plan's
    zone and one stamped by the UTC clock were stored in two zones on SQLite. Written as
    UTC, read back as aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


# Column declarations many tables share: SQLAlchemy maps `Mapped[Id]` to the column given
# here, so each is written once.
Id = Annotated[int, mapped_column(primary_key=True)]
PlanId = Annotated[int, mapped_column(ForeignKey("plans.id", ondelete="CASCADE"))]
ActionId = Annotated[int, mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), index=True)]
# Text that may be empty: "" rather than NULL when not given.
OptionalText = Annotated[str, mapped_column(Text, default="")]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def table_of(model: type[Base]) -> Table:
    """A model's Core table. Bulk writes go through it: given a list of rows, the ORM splits
    them into one statement per pattern of None values, the Core table sends one."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class Plan(Base):
    __tablename__ = "plans"

    id: Mapped[Id]
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(Text)
    organisation: Mapped[OptionalText]
    source: Mapped[OptionalText]
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    legend_green: Mapped[OptionalText]
    legend_amber: Mapped[OptionalText]
    legend_red: Mapped[OptionalText]
    # The dates.month_day setting the stored due dates were read with (re-read on change).
    month_day: Mapped[str] = mapped_column(String(8), default="end", server_default="end")

    phases: Mapped[list[Phase]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="Phase.number"
    )
    work_streams: Mapped[list[WorkStream]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="WorkStream.number"
    )


class NumberedInPlan:
    """A part of a plan that the plan numbers (a phase, a work stream), with its title."""

    id: Mapped[Id]
    plan_id: Mapped[PlanId]
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[UniqueConstraint]:
        return (UniqueConstraint("plan_id", "number"),)


class Phase(NumberedInPlan, Base):
    __tablename__ = "phases"

    plan: Mapped[Plan] = relationship(back_populates="phases")


class WorkStream(NumberedInPlan, Base):
    __tablename__ = "work_streams"

    heading: Mapped[OptionalText]
    phase: Mapped[int] = mapped_column(Integer, default=1)
    strategic_lead: Mapped[OptionalText]
    key_aim: Mapped[OptionalText]

    plan: Mapped[Plan] = relationship(back_populates="work_streams")
    outcomes: Mapped[list[Outcome]] = relationship(
        back_populates="work_stream", cascade="all, delete-orphan", order_by="Outcome.position"
    )


class Outcome(Base):
    __tablename__ = "outcomes"
    __table_args__ = (UniqueConstraint("work_stream_id", "position"),)

    id: Mapped[Id]
    work_stream_id: Mapped[int] = mapped_column(ForeignKey("work_streams.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)

    work_stream: Mapped[WorkStream] = relationship(back_populates="outcomes")


class Action(Base):
    """One action. Texts are kept as written; the date columns are what planworker read."""

    __tablename__ = "actions"
    __table_args__ = (
        UniqueConstraint("plan_id", "ref"),
        Index("ix_actions_plan_due", "plan_id", "due_date"),
        # The daily run walks a plan in id ranges (docs/benchmarks.md: without this index
        # SQLite scanned the whole plan for each range).
        Index("ix_actions_plan_id", "plan_id", "id"),
    )

    id: Mapped[Id]
    plan_id: Mapped[PlanId]
    work_stream_id: Mapped[int] = mapped_column(ForeignKey("work_streams.id", ondelete="CASCADE"))
    ref: Mapped[str] = mapped_column(String(64))
    row_ref: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    key_deliverable: Mapped[str] = mapped_column(String(64), default="")
    action_text: Mapped[OptionalText]
    description: Mapped[OptionalText]
    lead_text: Mapped[OptionalText]
    dependencies_text: Mapped[OptionalText]
    start_text: Mapped[OptionalText]
    target_text: Mapped[OptionalText]
    # Read from start_text/target_text at import (see worker/plan/schedule.py).
    start_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_precision: Mapped[str] = mapped_column(String(16), default="none")
    recurrence: Mapped[str] = mapped_column(String(32), default="")
    dates_readable: Mapped[bool] = mapped_column(Boolean, default=True)
    # The earliest dated item when the target cell holds several (each is a milestone); NULL
    # when it holds one. The daily run's first pass selects by it too.
    first_due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # An admin confirmed a target that reads as before its start (held back until then).
    dates_confirmed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Progress: reported RAG (None until someone reports one) and state.
    rag: Mapped[str | None] = mapped_column(String(8), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="not started")
    # True when the last import of the plan no longer listed this action.
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


class LeadRole(Base):
    """A lead role or person as the plan names it; `key` is what matching uses."""

    __tablename__ = "lead_roles"
    __table_args__ = (UniqueConstraint("plan_id", "key"),)

    id: Mapped[Id]
    plan_id: Mapped[PlanId]
    name: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(String(255))


class ActionLead(Base):
    __tablename__ = "action_leads"

    action_id: Mapped[int] = mapped_column(
        ForeignKey("actions.id", ondelete="CASCADE"), primary_key=True
    )
    lead_role_id: Mapped[int] = mapped_column(
        ForeignKey("lead_roles.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)


class ActionDependency(Base):
    """A dependency that names another work stream (and maybe one of its key deliverables)."""

    __tablename__ = "action_dependencies"

    id: Mapped[Id]
    action_id: Mapped[ActionId]
    work_stream: Mapped[int] = mapped_column(Integer)
    key_deliverable: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Contact(Base):
    """The contacts directory (config/contacts.toml) as last synced, for set-based joins."""

    __tablename__ = "contacts"

    id: Mapped[Id]
    role: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    person: Mapped[OptionalText]
    email: Mapped[str] = mapped_column(String(320), default="")
    deputy_key: Mapped[str] = mapped_column(String(255), default="")
    line_manager_key: Mapped[str] = mapped_column(String(255), default="")


class ContactKey(Base):
    """Every key (the role's own and each alias's) that leads to a contact."""

    __tablename__ = "contact_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )


class StatusChange(Base):
    """Who changed an action's RAG or state, when, and why. Never updated, only added."""

    __tablename__ = "status_history"

    id: Mapped[Id]
    action_id: Mapped[ActionId]
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    changed_by: Mapped[OptionalText]
    source: Mapped[OptionalText]  # "cli", "status return <file>"
    rag_from: Mapped[str | None] = mapped_column(String(8), nullable=True)
    rag_to: Mapped[str | None] = mapped_column(String(8), nullable=True)
    state_from: Mapped[str | None] = mapped_column(String(16), nullable=True)
    state_to: Mapped[str | None] = mapped_column(String(16), nullable=True)
    note: Mapped[OptionalText]
    # A re-baselined target (import or `plan rebaseline`), as written before and after.
    target_from: Mapped[str | None] = mapped_column(Text, nullable=True)
    target_to: Mapped[str | None] = mapped_column(Text, nullable=True)


class Message(Base):
    """One email in the outbox. States: pending -> sending -> sent | failed (docs/ledger.md).

    The message is rendered once, when planned, and stored whole (MessageContent), so a retry
    sends exactly the same bytes with the same Message-ID.
    """

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_state_next", "state", "next_attempt_at"),
        # The messages still to send, in claiming order: small however large the history.
        Index(
            "ix_messages_open",
            "id",
            sqlite_where=text("state IN ('pending', 'sending')"),
            postgresql_where=text("state IN ('pending', 'sending')"),
        ),
    )

    id: Mapped[Id]
    plan_id: Mapped[PlanId] = mapped_column(index=True)
    job: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[date] = mapped_column(Date)
    recipient_email: Mapped[str] = mapped_column(String(320), index=True)
    recipient_name: Mapped[OptionalText]
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    subject: Mapped[OptionalText]
    # The envelope sender (MAIL FROM), the From address it was rendered with; "" in rows
    # from before it was stored, whose From header is read instead.
    sender: Mapped[str] = mapped_column(String(320), default="", server_default="")
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The mail backend's answer: the server's reply when sent, its reason when not.
    receipt: Mapped[OptionalText]
    last_error: Mapped[OptionalText]


class MessageContent(Base):
    """The bytes of one outbox message, kept apart from its state: claiming and marking a
    message sent then rewrite a small row, not the whole message (SQLite rewrites a row
    whole, its overflow pages too)."""

    __tablename__ = "message_contents"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Notification(Base):
    """One item of one message: why this recipient heard about this action on this date.

    `key` (recipient, action, kind, threshold, due date) is unique: the ledger never holds the
    same reminder twice, which is what makes a second run on the same date send nothing.
    """

    __tablename__ = "notifications"

    id: Mapped[Id]
    key: Mapped[str] = mapped_column(String(600), unique=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    action_id: Mapped[ActionId]
    recipient_email: Mapped[str] = mapped_column(String(320))
    section: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date] = mapped_column(Date)
    # Why, as it was at the time: the rule, the target as written and how exactly it was read,
    # the reported RAG and state, and the role it came through (or why no one had it).
    rule: Mapped[OptionalText]
    target_text: Mapped[OptionalText]
    precision: Mapped[str] = mapped_column(String(16), default="")
    rag: Mapped[str | None] = mapped_column(String(8), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="")
    via: Mapped[OptionalText]
    reason: Mapped[OptionalText]


class BoardDigestRun(Base):
    """One board digest per plan and date: its row makes a second run on the date a no-op,
    and its entries are what the next digest's "what changed" compares against."""

    __tablename__ = "board_digests"
    __table_args__ = (UniqueConstraint("plan_id", "as_of"),)

    id: Mapped[Id]
    plan_id: Mapped[PlanId]
    as_of: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BoardDigestEntry(Base):
    """An action's effective RAG and state as one digest saw it."""

    __tablename__ = "board_digest_entries"

    digest_id: Mapped[int] = mapped_column(
        ForeignKey("board_digests.id", ondelete="CASCADE"), primary_key=True
    )
    action_id: Mapped[int] = mapped_column(
        ForeignKey("actions.id", ondelete="CASCADE"), primary_key=True
    )
    rag: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))


class JobRun(Base):
    """One scheduled run of a job: the claim that makes several workers run each scheduled
    period once, and the record `planworker health` reads (docs/service.md)."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("plan_id", "job", "period"),)

    id: Mapped[Id]
    plan_id: Mapped[PlanId]
    job: Mapped[str] = mapped_column(String(32))
    # The scheduled time this run is for (UTC), not when it actually started.
    period: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16))  # running, succeeded, failed
    worker: Mapped[str] = mapped_column(String(128), default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    summary: Mapped[OptionalText]


class Acknowledgement(Base):
    """A strategic lead's or board member's acknowledgement of an escalated action, one per
    (action, address): with a snapshot of what it saw, so that it stands only until the
    action changes (worker/rules/acknowledge.py). A new one replaces the old."""

    __tablename__ = "acknowledgements"
    __table_args__ = (UniqueConstraint("action_id", "email"),)

    id: Mapped[Id]
    action_id: Mapped[ActionId]
    email: Mapped[str] = mapped_column(String(320))  # lower-case
    name: Mapped[OptionalText]
    note: Mapped[OptionalText]
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    # What it acknowledged: the reported RAG, state, target as written and latest note.
    rag: Mapped[str | None] = mapped_column(String(8), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="")
    target_text: Mapped[OptionalText]
    latest_note: Mapped[OptionalText]
    latest_note_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
