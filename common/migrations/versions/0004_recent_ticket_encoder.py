"""The encoder that made each recent ticket's vector: after a switch to another encoder (a
tuned one promoted), only vectors of the serving encoder are compared.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recent_tickets") as batch:
        batch.add_column(sa.Column("encoder", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recent_tickets") as batch:
        batch.drop_column("encoder")
