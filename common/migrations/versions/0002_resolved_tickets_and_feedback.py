"""Resolved tickets and feedback events (the learning loop's records).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=128), nullable=True),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("value", sa.String(length=128), nullable=True),
        sa.Column("previous_value", sa.String(length=128), nullable=True),
        sa.Column("article_id", sa.String(length=64), nullable=True),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_feedback_events_article_id"), "feedback_events", ["article_id"], unique=False
    )
    op.create_index(op.f("ix_feedback_events_kind"), "feedback_events", ["kind"], unique=False)
    op.create_index(
        op.f("ix_feedback_events_occurred_at"), "feedback_events", ["occurred_at"], unique=False
    )
    op.create_index(
        op.f("ix_feedback_events_ticket_id"), "feedback_events", ["ticket_id"], unique=False
    )
    op.create_table(
        "resolved_tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(length=128), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("plan", sa.String(length=32), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("resolved_by_article", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_resolved_tickets_content_hash"), "resolved_tickets", ["content_hash"], unique=False
    )
    op.create_index(
        op.f("ix_resolved_tickets_resolved_at"), "resolved_tickets", ["resolved_at"], unique=False
    )
    op.create_index(
        op.f("ix_resolved_tickets_resolved_by_article"),
        "resolved_tickets",
        ["resolved_by_article"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("resolved_tickets")
    op.drop_table("feedback_events")
