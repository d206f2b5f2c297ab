"""Tenants: the tenants this install serves, and the tenant each API key belongs to (keys from
before belong to `default`). Each tenant's own records live in its own database or schema
(Settings.for_tenant), so no other table needs a tenant column.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(
            sa.Column("tenant", sa.String(length=32), nullable=False, server_default="default")
        )
        batch.create_index("ix_api_keys_tenant", ["tenant"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_index("ix_api_keys_tenant")
        batch.drop_column("tenant")
    op.drop_table("tenants")
