"""Test data made through the services, the way the running service makes it, and read
back or moved on in time the way a test needs it."""

from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from gophermart.accrual.checks import LEASE_SECONDS, claim_due_checks
from gophermart.extensions import db
from gophermart.luhn import with_check_digit
from gophermart.models import Order, OrderStatus, User, utcnow
from gophermart.services import ledger
from gophermart.services.orders import submit_order


def luhn_number(seed: int) -> str:
    """A Luhn-valid order number: the seed's digits plus a check digit."""
    return with_check_digit(str(seed))


def user_id_of(login: str) -> int:
    """In an app context."""
    return db.session.execute(db.select(User.id).filter_by(login=login)).scalar_one()


def set_balance(app, user_id: int, current: Decimal, withdrawn: Decimal = Decimal(0)) -> None:
    """Put a balance on the user's row directly (what many accruals and withdrawals would)."""
    with app.app_context():
        db.session.execute(sa.update(User).where(User.id == user_id).values(current=current, withdrawn=withdrawn))
        db.session.commit()


def order_id_of(number: str) -> int:
    """In an app context."""
    return db.session.execute(db.select(Order.id).filter_by(number=number)).scalar_one()


def credit(app, login: str, amount: Decimal | str, number: str | None = None) -> str:
    """Give a user points the real way: an order handed in, then PROCESSED with an accrual."""
    with app.app_context():
        user_id = user_id_of(login)
        number = number or luhn_number(10_000 + user_id * 1000 + db.session.query(Order).count())
        submit_order(user_id, number)
        order_id = order_id_of(number)
        assert ledger.apply_final_status(order_id, OrderStatus.PROCESSED, Decimal(amount))
    return number


def order_and_balance(app, order_id):
    with app.app_context():
        order = db.session.get_one(Order, order_id)
        user = db.session.get_one(User, order.user_id)
        return order.status, order.accrual, user.current


def make_due(app, order_id):
    """As if time passed: the order is due, and a check that crashed has lost its lease."""
    past = utcnow() - timedelta(seconds=1)
    with app.app_context():
        db.session.execute(
            sa.update(Order)
            .where(Order.id == order_id)
            .values(
                next_check_at=past,
                check_started_at=sa.case(
                    (Order.check_started_at.is_(None), None),
                    else_=past - timedelta(seconds=LEASE_SECONDS),
                ),
            )
        )
        db.session.commit()


def claim_due_orders(limit: int) -> list[int]:
    """The sweep's claim, as the order ids it leased (oldest upload first)."""
    return [order_id for order_id, _token in claim_due_checks(limit)]


def hand_in(app, user_id: int, number: str, age: float = 10.0) -> int:
    """Hand in an order, as if `age` seconds ago (old enough to be checked now)."""
    with app.app_context():
        submit_order(user_id, number)
        order_id = order_id_of(number)
        db.session.execute(
            sa.update(Order).where(Order.id == order_id).values(uploaded_at=utcnow() - timedelta(seconds=age))
        )
        db.session.commit()
        return order_id
