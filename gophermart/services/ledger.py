"""The points ledger: balance, withdrawals and accrual credits.

Every balance change is one transaction whose condition is checked inside the UPDATE, so
concurrent requests can never take the balance below zero or credit an order twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import sqlalchemy as sa

from gophermart.database import end_alone, first_alone, insert_or_ignore
from gophermart.errors import Conflict, InsufficientFunds
from gophermart.extensions import db
from gophermart.models import (
    FINAL_STATUSES,
    ORDERS,
    USERS,
    OrderStatus,
    Withdrawal,
    bound_statuses,
    orders_table,
    users_table,
    utcnow,
)
from gophermart.money import MAX_AMOUNT, round_cents

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Balance:
    current: Decimal
    withdrawn: Decimal


class HoldsBalance(Protocol):
    """A user's row as read, such as the one loaded to authenticate this very request."""

    @property
    def current(self) -> Decimal: ...
    @property
    def withdrawn(self) -> Decimal: ...


def get_balance(user: HoldsBalance) -> Balance:
    """The balance kept on the user's row, as it was read."""
    return Balance(current=user.current, withdrawn=user.withdrawn)


_AMOUNT = sa.bindparam("amount", type_=USERS.current.type)
# The most a balance column holds: past it PostgreSQL raises an overflow (a 500).
_MOST = sa.literal(MAX_AMOUNT, USERS.current.type)
# Made once, run with parameters: building it for each withdrawal (and running it through
# the ORM's UPDATE handling, with no User in the session to update) cost more CPU than
# the database spent on it.
_CHARGE = (
    sa.update(users_table)
    .where(USERS.id == sa.bindparam("user_id"), USERS.current >= _AMOUNT, USERS.withdrawn <= _MOST - _AMOUNT)
    .values(current=USERS.current - _AMOUNT, withdrawn=USERS.withdrawn + _AMOUNT)
    .returning(USERS.id)
)
_BALANCE = sa.select(USERS.current, USERS.withdrawn).where(USERS.id == sa.bindparam("user_id"))


def withdraw(user_id: int, order_number: str, amount: Decimal) -> None:
    """Pay for a new order with points: 200 on success or identical repeat, else 409/402.

    A new withdrawal, the common case, costs one UPDATE and one INSERT: whether the number
    was paid before is only looked up when one of them fails (no balance, or the number is
    taken), and the answer is the same as looking it up first.
    """
    if amount > MAX_AMOUNT:  # more than any balance; NUMERIC(14, 2) could not even hold it
        if _is_identical_repeat(user_id, order_number, amount):
            return
        raise InsufficientFunds("The balance is smaller than the sum.")
    charged = db.session.execute(_CHARGE, {"user_id": user_id, "amount": amount}).scalar()
    if charged is None:
        db.session.rollback()
        if _is_identical_repeat(user_id, order_number, amount):
            return
        # Which condition failed: 409 only for a balance that covers the sum but a total
        # withdrawn that would not fit its column; a credit landing meanwhile leaves a 402.
        current, withdrawn = db.session.execute(_BALANCE, {"user_id": user_id}).one()
        if current >= amount and withdrawn > MAX_AMOUNT - amount:
            db.session.rollback()
            raise Conflict("The points withdrawn from this account have reached the most it can record.")
        db.session.rollback()
        raise InsufficientFunds("The balance is smaller than the sum.")
    inserted = insert_or_ignore(Withdrawal, user_id=user_id, order_number=order_number, sum=amount)
    if inserted is None:
        # A concurrent request registered this order number first: undo our charge.
        db.session.rollback()
        if not _is_identical_repeat(user_id, order_number, amount):
            raise Conflict("This order number was already paid with points in a different way.")
        return
    db.session.commit()
    log.info("withdrawal registered", extra={"user_id": user_id, "order_number": order_number, "sum": str(amount)})


def _is_identical_repeat(user_id: int, order_number: str, amount: Decimal) -> bool:
    """True for the very same withdrawal again; Conflict for the number paid another way."""
    existing = db.session.execute(
        sa.select(Withdrawal.user_id, Withdrawal.sum).where(Withdrawal.order_number == order_number)
    ).one_or_none()
    if existing is None:
        return False
    db.session.rollback()
    if existing.user_id == user_id and existing.sum == amount:
        return True
    raise Conflict("This order number was already paid with points in a different way.")


def list_withdrawals(user_id: int) -> list[Withdrawal]:
    return list(
        db.session.execute(
            sa.select(Withdrawal)
            .where(Withdrawal.user_id == user_id)
            .order_by(Withdrawal.processed_at.desc(), Withdrawal.id.desc())
        ).scalars()
    )


class CreditRefused(Exception):
    """The credit would take the balance past what its column holds: nothing was written."""


# Made once, like _CHARGE: a worker runs them for every final answer.
_FINALISE = (
    sa.update(orders_table)
    .where(ORDERS.id == sa.bindparam("order_id"), ORDERS.status.not_in(bound_statuses(*FINAL_STATUSES)))
    .values(
        status=sa.bindparam("status"),
        accrual=sa.bindparam("accrual"),
        updated_at=sa.bindparam("now"),
        attempts=ORDERS.attempts + sa.bindparam("requests"),
        failures=0,
        check_started_at=None,
        bad_answer=None,
    )
    .returning(ORDERS.user_id)
)
_CREDIT_AMOUNT = sa.bindparam("credit", type_=USERS.current.type)
_CREDIT = (
    sa.update(users_table)
    .where(USERS.id == sa.bindparam("user_id"), USERS.current <= _MOST - _CREDIT_AMOUNT)
    .values(current=USERS.current + _CREDIT_AMOUNT)
    .returning(USERS.id)
)
# Both in one statement, on PostgreSQL: the order's change, and the credit when there is one.
_FINALISED = _FINALISE.cte("finalised")
_FINALISE_AND_CREDIT = sa.select(_FINALISED.c.user_id).add_cte(
    sa.update(users_table)
    .where(USERS.id == _FINALISED.c.user_id, _CREDIT_AMOUNT.is_not(None))
    .values(current=USERS.current + _CREDIT_AMOUNT)
    .returning(USERS.id)
    .cte("credited")
)
NUMERIC_VALUE_OUT_OF_RANGE = "22003"  # PostgreSQL's SQLSTATE for a value its column cannot hold


def apply_final_status(order_id: int, status: OrderStatus, accrual: Decimal | None = None, requests: int = 0) -> bool:
    """Record the accrual system's final answer and credit the points, in one transaction.

    The UPDATE only matches an order that is not final yet, so running the same check
    twice, or two workers racing, credits once. Returns whether this call made the change;
    raises CreditRefused, having written nothing, when the balance could not hold the credit.
    """
    assert status in FINAL_STATUSES
    credit = round_cents(accrual) if status is OrderStatus.PROCESSED and accrual and accrual > 0 else None
    # Under half a cent is no points at all: PROCESSED without an accrual (SPEC 3.3).
    credit = credit or None
    if credit is not None and credit > MAX_AMOUNT:
        raise CreditRefused(f"a credit of {credit} is more than any balance holds")
    values = {"order_id": order_id, "status": status, "accrual": credit, "now": utcnow(), "requests": requests}
    if db.session.get_bind().dialect.name == "postgresql":
        user_id = _finalise_and_credit(values, credit)
    else:
        user_id = _finalise_then_credit(values, credit)
    if user_id is None:
        return False
    log.info(
        "order final",
        extra={"order_id": order_id, "user_id": user_id, "status": status.value, "accrual": str(credit or 0)},
    )
    return True


def _finalise_and_credit(values: dict, credit: Decimal | None) -> int | None:
    """PostgreSQL: both changes in one statement, run alone (one round trip, no BEGIN and
    COMMIT). A credit past the balance column's limit overflows it, and the statement,
    the order's change included, fails whole."""
    try:
        row = first_alone(_FINALISE_AND_CREDIT, {**values, "credit": credit}, on_session=True)
    except sa.exc.DataError as error:
        db.session.rollback()
        if getattr(error.orig, "pgcode", None) == NUMERIC_VALUE_OUT_OF_RANGE:
            raise CreditRefused(f"a credit of {credit} would take the balance past {MAX_AMOUNT}") from error
        raise
    end_alone()
    return None if row is None else row[0]


def _finalise_then_credit(values: dict, credit: Decimal | None) -> int | None:
    """Elsewhere (SQLite): the order's change, then the credit, in one transaction."""
    user_id = db.session.execute(_FINALISE, values).scalar()
    if user_id is None:
        db.session.rollback()
        return None
    if credit and db.session.execute(_CREDIT, {"user_id": user_id, "credit": credit}).scalar() is None:
        db.session.rollback()
        raise CreditRefused(f"a credit of {credit} would take the balance past {MAX_AMOUNT}")
    db.session.commit()
    return user_id
