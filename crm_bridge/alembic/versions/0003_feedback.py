"""Feedback (CSAT, KB answer helpfulness) and the Rasa sender id of escalations.

``escalations.sender_id`` is filled from ``context.sender_id`` of existing rows, so tickets
opened before their conversation was ingested can still be linked to it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=255), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "csat",
                "kb_answer",
                name="feedbackkind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("kb_entry_id", sa.String(length=100), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_feedback_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_feedback_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_feedback_kb_entry_id"), ["kb_entry_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_feedback_sender_id"), ["sender_id"], unique=False)

    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender_id", sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f("ix_escalations_sender_id"), ["sender_id"], unique=False)
    _backfill_escalation_sender_ids()


def _backfill_escalation_sender_ids() -> None:
    """Copy the sender id the bot sent (kept in ``context``) into the new column."""
    if context.is_offline_mode():
        return
    escalations = sa.table(
        "escalations",
        sa.column("id", sa.Integer()),
        sa.column("context", sa.JSON()),
        sa.column("sender_id", sa.String(255)),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(escalations.c.id, escalations.c.context)).all()
    for row_id, ctx in rows:
        sender = ctx.get("sender_id") if isinstance(ctx, dict) else None
        if isinstance(sender, str) and 0 < len(sender) <= 255:
            bind.execute(
                escalations.update().where(escalations.c.id == row_id).values(sender_id=sender)
            )


def downgrade() -> None:
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalations_sender_id"))
        batch_op.drop_column("sender_id")

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_sender_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_kb_entry_id"))
        batch_op.drop_index(batch_op.f("ix_feedback_conversation_id"))

    op.drop_table("feedback")
