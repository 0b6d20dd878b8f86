"""Users with their running balance, handed-in orders, withdrawals.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(14, 2)
MOMENT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, primary_key=True),
        sa.Column("login", sa.String(255), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("auth_version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("current", MONEY, nullable=False, server_default="0"),
        sa.Column("withdrawn", MONEY, nullable=False, server_default="0"),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.UniqueConstraint("login", name="uq_users_login"),
        sa.CheckConstraint("current >= 0", name="ck_users_current_not_negative"),
        sa.CheckConstraint("withdrawn >= 0", name="ck_users_withdrawn_not_negative"),
    )
    op.create_table(
        "orders",
        sa.Column("id", ID, primary_key=True),
        sa.Column("number", sa.String(255), nullable=False),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("accrual", MONEY, nullable=True),
        sa.Column("uploaded_at", MOMENT, nullable=False),
        sa.Column("updated_at", MOMENT, nullable=False),
        sa.Column("next_check_at", MOMENT, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.UniqueConstraint("number", name="uq_orders_number"),
        sa.CheckConstraint("accrual IS NULL OR accrual > 0", name="ck_orders_accrual_positive"),
        sa.CheckConstraint(
            "status IN ('NEW', 'PROCESSING', 'INVALID', 'PROCESSED')", name="ck_orders_status"
        ),
    )
    op.create_index(
        "ix_orders_user_uploaded", "orders", ["user_id", sa.text("uploaded_at DESC"), sa.text("id DESC")]
    )
    op.create_index(
        "ix_orders_pending_next_check",
        "orders",
        ["next_check_at"],
        postgresql_where=sa.text("status IN ('NEW', 'PROCESSING')"),
        sqlite_where=sa.text("status IN ('NEW', 'PROCESSING')"),
    )
    op.create_table(
        "withdrawals",
        sa.Column("id", ID, primary_key=True),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("order_number", sa.String(255), nullable=False),
        sa.Column("sum", MONEY, nullable=False),
        sa.Column("processed_at", MOMENT, nullable=False),
        sa.UniqueConstraint("order_number", name="uq_withdrawals_order_number"),
        sa.CheckConstraint("sum > 0", name="ck_withdrawals_sum_positive"),
    )
    op.create_index(
        "ix_withdrawals_user_processed",
        "withdrawals",
        ["user_id", sa.text("processed_at DESC"), sa.text("id DESC")],
    )


def downgrade() -> None:
    op.drop_table("withdrawals")
    op.drop_table("orders")
    op.drop_table("users")
