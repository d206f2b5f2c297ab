"""What the dashboard reads and the chat widget writes: each classified ticket keeps its
channel, the fields applied without a person (comma-separated names) and its SLA deadlines;
tickets handed over from the chat widget are kept with the contact the customer left.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recent_tickets") as batch:
        batch.add_column(sa.Column("channel", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("auto_applied", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("first_response_due", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resolution_due", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "handoff_tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("plan", sa.String(length=32), nullable=True),
        sa.Column("page_url", sa.String(length=1000), nullable=True),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.String(length=8), nullable=True),
        sa.Column("first_response_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_id"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_handoff_tickets_created_at"), "handoff_tickets", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_handoff_tickets_created_at"), table_name="handoff_tickets")
    op.drop_table("handoff_tickets")
    with op.batch_alter_table("recent_tickets") as batch:
        for column in ("resolution_due", "first_response_due", "auto_applied", "channel"):
            batch.drop_column(column)
