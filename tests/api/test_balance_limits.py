"""Balances at the edge of their NUMERIC(14, 2) columns: refused cleanly, never a 500."""

from decimal import Decimal

import sqlalchemy as sa

from gophermart.extensions import db
from gophermart.models import User, Withdrawal
from gophermart.money import MAX_AMOUNT
from tests.support import factories
from tests.support.factories import user_id_of


def set_balance(app, current, withdrawn):
    """Alice's balance (the registered user's)."""
    with app.app_context():
        user_id = user_id_of("alice")
    factories.set_balance(app, user_id, current, withdrawn)


def stored(app):
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.login == "alice")).scalar_one()
        return user.current, user.withdrawn, db.session.execute(sa.select(sa.func.count(Withdrawal.id))).scalar()


def withdraw(client, amount, order="2377225624"):
    return client.post("/api/user/balance/withdraw", json={"order": order, "sum": amount})


def test_a_withdrawal_that_would_overflow_withdrawn_is_409_and_changes_nothing(auth_client, app):
    set_balance(app, Decimal(100), MAX_AMOUNT - 5)
    response = withdraw(auth_client, 10)
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    assert "withdrawn" in response.json["detail"]
    assert stored(app) == (Decimal(100), MAX_AMOUNT - 5, 0)
    # Up to the column's very limit is fine.
    assert withdraw(auth_client, 5).status_code == 200
    assert stored(app) == (Decimal(95), MAX_AMOUNT, 1)


def test_a_withdrawal_the_balance_does_not_cover_is_402_even_with_withdrawn_full(auth_client, app):
    set_balance(app, Decimal(1), MAX_AMOUNT)
    assert withdraw(auth_client, 10).status_code == 402
    assert stored(app) == (Decimal(1), MAX_AMOUNT, 0)


def test_the_largest_balance_can_be_spent_whole(auth_client, app):
    set_balance(app, MAX_AMOUNT, Decimal(0))
    body = f'{{"order": "2377225624", "sum": {MAX_AMOUNT}}}'
    response = auth_client.post("/api/user/balance/withdraw", data=body, content_type="application/json")
    assert response.status_code == 200
    assert stored(app) == (Decimal(0), MAX_AMOUNT, 1)
    assert auth_client.get("/api/user/balance").data.strip() == b'{"current":0,"withdrawn":999999999999.99}'
