"""Real parallel requests against the real server (gunicorn) and PostgreSQL."""

from decimal import Decimal

import requests

from gophermart.extensions import db
from gophermart.models import Order, User, Withdrawal
from tests.support.factories import credit, luhn_number
from tests.support.racing import fire_together


def test_fifty_withdrawals_of_ten_from_one_hundred(live_web, live_user, app):
    session = live_user("rich")
    credit(app, "rich", "100")
    numbers = [luhn_number(90_000 + i) for i in range(50)]
    codes = fire_together(
        50,
        lambda i: (
            session.post(f"{live_web}/api/user/balance/withdraw", json={"order": numbers[i], "sum": 10}).status_code
        ),
    )
    assert sorted(codes) == [200] * 10 + [402] * 40
    balance = session.get(f"{live_web}/api/user/balance").json()
    assert balance == {"current": 0, "withdrawn": 100}
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Withdrawal)).scalar() == 10


def test_identical_withdrawals_in_parallel_charge_once(live_web, live_user, app):
    session = live_user("twice")
    credit(app, "twice", "100")
    codes = fire_together(
        20,
        lambda i: (
            session.post(f"{live_web}/api/user/balance/withdraw", json={"order": "2377225624", "sum": 30}).status_code
        ),
    )
    assert codes == [200] * 20
    assert session.get(f"{live_web}/api/user/balance").json() == {"current": 70, "withdrawn": 30}


def test_racing_uploads_of_one_number_by_many_users(live_web, live_user, app):
    sessions = [live_user(f"racer{i}") for i in range(20)]
    codes = fire_together(20, lambda i: sessions[i].post(f"{live_web}/api/user/orders", data="12345678903").status_code)
    assert codes.count(202) == 1
    assert codes.count(409) == 19
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(Order)).scalar() == 1


def test_racing_uploads_of_one_number_by_one_user(live_web, live_user):
    session = live_user("eager")
    codes = fire_together(20, lambda i: session.post(f"{live_web}/api/user/orders", data="9278923470").status_code)
    assert sorted(codes) == [200] * 19 + [202]


def test_racing_registrations_of_one_login(live_web, app):
    codes = fire_together(
        30,
        lambda i: (
            requests.post(f"{live_web}/api/user/register", json={"login": "same", "password": f"p{i}"}).status_code
        ),
    )
    assert sorted(codes) == [200] + [409] * 29
    with app.app_context():
        assert db.session.execute(db.select(db.func.count()).select_from(User)).scalar() == 1


def test_parallel_credits_and_withdrawals_keep_the_ledger_exact(live_web, live_user, app):
    session = live_user("ledger")
    credit(app, "ledger", "50")
    numbers = [luhn_number(70_000 + i) for i in range(40)]

    def act(i):
        if i % 2:
            credit(app, "ledger", "1.25", number=luhn_number(80_000 + i))
            return None
        return session.post(
            f"{live_web}/api/user/balance/withdraw", json={"order": numbers[i], "sum": "3.5"}
        ).status_code

    fire_together(40, act)
    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(login="ledger")).scalar_one()
        credited = db.session.execute(db.select(db.func.sum(Order.accrual))).scalar_one()
        withdrawn = db.session.execute(db.select(db.func.coalesce(db.func.sum(Withdrawal.sum), 0))).scalar_one()
        assert user.current == credited - withdrawn >= 0
        assert user.withdrawn == withdrawn
        assert credited == Decimal("50") + 20 * Decimal("1.25")
