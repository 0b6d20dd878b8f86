"""Handing in order numbers and listing them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from gophermart.database import end_alone, insert_or_ignore, run_alone, scalar_alone
from gophermart.errors import Conflict
from gophermart.extensions import db
from gophermart.models import NEW_ORDER_TOKEN, ORDERS, QUEUED_CHECK_GRACE_SECONDS, Order, OrderStatus, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submission:
    order_id: int
    accepted: bool  # a new number, now stored; False: this user handed it in before


def submit_order(user_id: int, number: str) -> Submission:
    """Store a new order as NEW; a number is accepted once, from one user, ever.

    The caller queues the first check of an accepted order; until the grace has passed
    the sweep leaves the order to that queued check."""
    now = utcnow()
    order_id = insert_or_ignore(
        Order,
        alone=True,
        number=number,
        user_id=user_id,
        # Every column with a Python-side default, named: the insert runs on the driver's cursor.
        status=OrderStatus.NEW,
        uploaded_at=now,
        updated_at=now,
        next_check_at=now + timedelta(seconds=QUEUED_CHECK_GRACE_SECONDS),
        attempts=0,
        failures=0,
        check_token=NEW_ORDER_TOKEN,
    )
    if order_id is None:
        owner_id, order_id = run_alone(sa.select(ORDERS.user_id, ORDERS.id).where(ORDERS.number == number)).one()
        db.session.rollback()
        if owner_id != user_id:
            raise Conflict("This order number was handed in by another user.")
        return Submission(order_id, accepted=False)
    end_alone()
    log.info(
        "order accepted", extra={"order_id": order_id, "order_number": number, "user_id": user_id, "status": "NEW"}
    )
    return Submission(order_id, accepted=True)


def list_orders(user_id: int):
    """The user's orders, newest upload first: rows of (number, status, accrual,
    uploaded_at), in that order. A user may have thousands, so this is a Core query of the
    table's columns (same types, same rows): ORM objects, and even ORM column rows, cost
    more to build (bench/FINDINGS.md). Read outside a transaction (see `run_alone`): the
    request writes nothing."""
    return run_alone(
        sa.select(ORDERS.number, ORDERS.status, ORDERS.accrual, ORDERS.uploaded_at)
        .where(ORDERS.user_id == user_id)
        .order_by(ORDERS.uploaded_at.desc(), ORDERS.id.desc())
    ).all()


def builds_json() -> bool:
    """Whether the database can build the order list's JSON itself (PostgreSQL)."""
    return db.engine.dialect.name == "postgresql"


# The same list in the API's JSON form (api.present.order's, byte for byte; the API tests
# compare the two), built by PostgreSQL in one statement: far cheaper than fetching the
# rows into Python and formatting them (bench/FINDINGS.md). Only the number is free text
# to escape (to_json);
# statuses come from a fixed set, amounts are NUMERIC(14, 2) printed without trailing
# zeros (trim_scale: 500, 500.5), times are UTC to the second, as in api.present.
_ORDER_LIST_JSON = sa.text("""
SELECT '[' || string_agg(
           '{"number":' || to_json(number)::text
        || ',"status":"' || status || '"'
        || CASE WHEN accrual > 0 THEN ',"accrual":' || trim_scale(accrual)::text ELSE '' END
        || ',"uploaded_at":"' || to_char(uploaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00"}',
           ',' ORDER BY uploaded_at DESC, id DESC) || ']'
FROM orders
WHERE user_id = :user_id
""")


def list_orders_json(user_id: int) -> str | None:
    """The user's orders as the JSON array GET /api/user/orders answers with, or None when
    there are none; PostgreSQL only (see builds_json). Read outside a transaction."""
    return scalar_alone(_ORDER_LIST_JSON, {"user_id": user_id})
