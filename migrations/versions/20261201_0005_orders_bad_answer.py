"""What was wrong with an order's last accrual answer, and when the learned limit was last confirmed.

Revision ID: 0005_bad_answer
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_bad_answer"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("bad_answer", sa.String(255), nullable=True))
    with op.batch_alter_table("accrual_gate") as batch:
        batch.add_column(sa.Column("rate_set_at", sa.Float(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("accrual_gate") as batch:
        batch.drop_column("rate_set_at")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("bad_answer")
