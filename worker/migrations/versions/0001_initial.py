"""initial schema: plans, work streams, actions, leads, contacts, history

Revision ID: 0001
Revises:
Create Date: 2026-11-26 13:31:28.663184
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("person", sa.Text(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("deputy_key", sa.String(length=255), nullable=False),
        sa.Column("line_manager_key", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("key", name=op.f("uq_contacts_key")),
    )
    op.create_table(
        "plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("organisation", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("legend_green", sa.Text(), nullable=False),
        sa.Column("legend_amber", sa.Text(), nullable=False),
        sa.Column("legend_red", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
        sa.UniqueConstraint("slug", name=op.f("uq_plans_slug")),
    )
    op.create_table(
        "contact_keys",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_keys_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_contact_keys")),
    )
    with op.batch_alter_table("contact_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contact_keys_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "lead_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_lead_roles_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_roles")),
        sa.UniqueConstraint("plan_id", "key", name=op.f("uq_lead_roles_plan_id")),
    )
    op.create_table(
        "phases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_phases_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phases")),
        sa.UniqueConstraint("plan_id", "number", name=op.f("uq_phases_plan_id")),
    )
    op.create_table(
        "work_streams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("heading", sa.Text(), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("strategic_lead", sa.Text(), nullable=False),
        sa.Column("key_aim", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_work_streams_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_streams")),
        sa.UniqueConstraint("plan_id", "number", name=op.f("uq_work_streams_plan_id")),
    )
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("work_stream_id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("row_ref", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key_deliverable", sa.String(length=64), nullable=False),
        sa.Column("action_text", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("lead_text", sa.Text(), nullable=False),
        sa.Column("dependencies_text", sa.Text(), nullable=False),
        sa.Column("start_text", sa.Text(), nullable=False),
        sa.Column("target_text", sa.Text(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("due_precision", sa.String(length=16), nullable=False),
        sa.Column("recurrence", sa.String(length=32), nullable=False),
        sa.Column("dates_readable", sa.Boolean(), nullable=False),
        sa.Column("rag", sa.String(length=8), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_actions_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["work_stream_id"],
            ["work_streams.id"],
            name=op.f("fk_actions_work_stream_id_work_streams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actions")),
        sa.UniqueConstraint("plan_id", "ref", name=op.f("uq_actions_plan_id")),
    )
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.create_index("ix_actions_plan_due", ["plan_id", "due_date"], unique=False)

    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_stream_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_stream_id"],
            ["work_streams.id"],
            name=op.f("fk_outcomes_work_stream_id_work_streams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcomes")),
        sa.UniqueConstraint("work_stream_id", "position", name=op.f("uq_outcomes_work_stream_id")),
    )
    op.create_table(
        "action_dependencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("work_stream", sa.Integer(), nullable=False),
        sa.Column("key_deliverable", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["actions.id"],
            name=op.f("fk_action_dependencies_action_id_actions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_dependencies")),
    )
    with op.batch_alter_table("action_dependencies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_action_dependencies_action_id"), ["action_id"], unique=False
        )

    op.create_table(
        "action_leads",
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("lead_role_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["actions.id"],
            name=op.f("fk_action_leads_action_id_actions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lead_role_id"],
            ["lead_roles.id"],
            name=op.f("fk_action_leads_lead_role_id_lead_roles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("action_id", "lead_role_id", name=op.f("pk_action_leads")),
    )
    with op.batch_alter_table("action_leads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_action_leads_lead_role_id"), ["lead_role_id"], unique=False
        )

    op.create_table(
        "status_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("rag_from", sa.String(length=8), nullable=True),
        sa.Column("rag_to", sa.String(length=8), nullable=True),
        sa.Column("state_from", sa.String(length=16), nullable=True),
        sa.Column("state_to", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["actions.id"],
            name=op.f("fk_status_history_action_id_actions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_history")),
    )
    with op.batch_alter_table("status_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_history_action_id"), ["action_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("status_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_history_action_id"))

    op.drop_table("status_history")
    with op.batch_alter_table("action_leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_leads_lead_role_id"))

    op.drop_table("action_leads")
    with op.batch_alter_table("action_dependencies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_dependencies_action_id"))

    op.drop_table("action_dependencies")
    op.drop_table("outcomes")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index("ix_actions_plan_due")

    op.drop_table("actions")
    op.drop_table("work_streams")
    op.drop_table("phases")
    op.drop_table("lead_roles")
    with op.batch_alter_table("contact_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_keys_contact_id"))

    op.drop_table("contact_keys")
    op.drop_table("plans")
    op.drop_table("contacts")
