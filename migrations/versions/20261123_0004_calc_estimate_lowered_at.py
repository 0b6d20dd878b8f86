"""When the learned calculation time was last lowered: it is lowered per second, not per order.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accrual_gate") as batch:
        batch.add_column(sa.Column("calc_estimate_lowered_at", sa.Float(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("accrual_gate") as batch:
        batch.drop_column("calc_estimate_lowered_at")
