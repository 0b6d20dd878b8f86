"""Users, handed-in orders and withdrawals.

The user row carries the running balance (`current`, `withdrawn`) so a withdrawal is one
conditional UPDATE; order accruals and withdrawal rows are the ledger it is derived from:
current = Σ credited accruals − Σ withdrawals.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from gophermart.extensions import Model
from gophermart.money import CENT


class Money(sa.types.TypeDecorator):
    """NUMERIC(14, 2) in PostgreSQL; whole cents in SQLite, which has no exact decimal type."""

    impl = sa.Numeric(14, 2, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value, dialect):
        if value is None or dialect.name != "sqlite":
            return value
        return int(Decimal(value).quantize(CENT) * 100)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)) / 100
        return Decimal(value)


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite returns naive ones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime; use utcnow()")
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class OrderStatus(enum.StrEnum):
    NEW = "NEW"
    PROCESSING = "PROCESSING"
    INVALID = "INVALID"
    PROCESSED = "PROCESSED"


FINAL_STATUSES = frozenset({OrderStatus.INVALID, OrderStatus.PROCESSED})
# A check queued with a countdown (a hand-in's first, a soon re-check) is due this long
# after its countdown ends; only then does the sweep take the order over from it.
QUEUED_CHECK_GRACE_SECONDS = 10.0
NEW_ORDER_TOKEN = 0  # a new order's schedule token, which its first check's message carries


class User(Model):
    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint("current >= 0", name="ck_users_current_not_negative"),
        sa.CheckConstraint("withdrawn >= 0", name="ck_users_withdrawn_not_negative"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(255), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    # Bumped to revoke every token and session issued before.
    auth_version: Mapped[int] = mapped_column(default=1, server_default="1")
    current: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    withdrawn: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Flask-Login protocol: the session and token carry id and auth version together.
    is_active = True
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.id}:{self.auth_version}"


class Order(Model):
    __tablename__ = "orders"
    __table_args__ = (
        sa.Index("ix_orders_user_uploaded", "user_id", sa.text("uploaded_at DESC"), sa.text("id DESC")),
        # Pending orders by due time: the planner's way to the few due ones when most of a
        # backlog is still in back-off (the claim below walks it in upload order otherwise).
        sa.Index(
            "ix_orders_pending_next_check",
            "next_check_at",
            postgresql_where=sa.text("status IN ('NEW', 'PROCESSING')"),
            sqlite_where=sa.text("status IN ('NEW', 'PROCESSING')"),
        ),
        # The sweep's claim (pending, not parked, oldest upload first) stops at its limit.
        sa.Index(
            "ix_orders_due_claim",
            "uploaded_at",
            "id",
            postgresql_where=sa.text("status IN ('NEW', 'PROCESSING') AND parked_at IS NULL"),
            sqlite_where=sa.text("status IN ('NEW', 'PROCESSING') AND parked_at IS NULL"),
        ),
        sa.CheckConstraint("accrual IS NULL OR accrual > 0", name="ck_orders_accrual_positive"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(255), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[OrderStatus] = mapped_column(
        sa.Enum(OrderStatus, native_enum=False, length=16, validate_strings=True),
        default=OrderStatus.NEW,
    )
    accrual: Mapped[Decimal | None] = mapped_column(Money)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The orders table is the outbox: the sweep re-queues orders whose check is overdue.
    next_check_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Accrual requests made for this order.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # Checks started but not finished (a crash or an exception); reset by every finished check.
    failures: Mapped[int] = mapped_column(default=0, server_default="0")
    # Set while a check runs: a second check of the same order stands back (see LEASE_SECONDS).
    check_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when an order crashed its check too often; the sweep leaves it alone until re-queued.
    parked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped by every claim and re-schedule; a check's message carries it, and only the one
    # with the current value may start, so a duplicate never asks ahead of the schedule.
    check_token: Mapped[int] = mapped_column(default=NEW_ORDER_TOKEN, server_default=str(NEW_ORDER_TOKEN))
    # What was wrong with the accrual system's last answer (or with crediting it): set, and
    # logged, at the first bad answer only; a sane answer clears it.
    bad_answer: Mapped[str | None] = mapped_column(sa.String(255))


# Orders by status, and parked ones, kept by triggers on orders (migration 0006) so a
# scrape reads a few rows whatever the table's size; split over slots (the order id modulo
# the migration's SLOTS) so concurrent changes seldom wait on one row.
PARKED = "parked"


class OrderCount(Model):
    __tablename__ = "order_counts"

    kind: Mapped[str] = mapped_column(sa.String(16), primary_key=True)  # a status or PARKED
    slot: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    n: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")


class Withdrawal(Model):
    __tablename__ = "withdrawals"
    __table_args__ = (
        sa.Index("ix_withdrawals_user_processed", "user_id", sa.text("processed_at DESC"), sa.text("id DESC")),
        sa.CheckConstraint("sum > 0", name="ck_withdrawals_sum_positive"),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    order_number: Mapped[str] = mapped_column(sa.String(255), unique=True)
    sum: Mapped[Decimal] = mapped_column(Money)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The tables and their column sets for the Core statements of the hot paths (a Core
# statement made once costs a fraction of an ORM one built per call).
users_table = cast(sa.Table, User.__table__)
orders_table = cast(sa.Table, Order.__table__)
USERS = users_table.c
ORDERS = orders_table.c


def bound_statuses(*members: OrderStatus) -> list[sa.BindParameter]:
    """The values of an `IN` on the status, bound one by one rather than as a list expanded
    at each run: a statement made with them compiles once, for the driver's cursor too."""
    return [sa.literal(member, ORDERS.status.type) for member in sorted(members)]
