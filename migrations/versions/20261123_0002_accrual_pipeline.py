"""Accrual pipeline: one check at a time per order, crash counting and parking; the shared
gate for runs without Redis.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("failures", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("check_started_at", sa.DateTime(timezone=True), nullable=True))
    gate = op.create_table(
        "accrual_gate",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("pause_until", sa.Float(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("tokens_at", sa.Float(), nullable=False),
        sa.Column("calc_estimate", sa.Float(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_accrual_gate_single_row"),
    )
    op.bulk_insert(gate, [dict(id=1, pause_until=0.0, rate=0.0, tokens=1.0, tokens_at=0.0, calc_estimate=1.0)])


def downgrade() -> None:
    op.drop_table("accrual_gate")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("check_started_at")
        batch.drop_column("parked_at")
        batch.drop_column("failures")
