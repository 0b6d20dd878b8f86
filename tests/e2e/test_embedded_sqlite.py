"""The embedded default (SQLite) keeps the same promises: no double credit, a balance that
never goes negative, under real concurrent requests."""

import re
from decimal import Decimal

import pytest
from flask_migrate import upgrade

from config import load_settings
from gophermart import create_app
from gophermart.extensions import db
from gophermart.models import Order, OrderStatus, User
from gophermart.services.ledger import apply_final_status
from gophermart.services.orders import builds_json
from tests.support.factories import credit, luhn_number, user_id_of
from tests.support.processes import free_port, gophermart_command, service_env, serving, signed_up
from tests.support.racing import fire_together


@pytest.fixture(scope="module")
def sqlite_stack(tmp_path_factory):
    instance = tmp_path_factory.mktemp("sqlite-instance")
    uri = f"sqlite:///{instance / 'gophermart.sqlite3'}"
    app = create_app(
        load_settings(argv=[], environ={}, database_uri=uri, instance_dir=str(instance), password_hash_cost="low")
    )
    with app.app_context():
        upgrade()
    port = free_port()
    command = gophermart_command("web", "--skip-migrations", "-a", f"127.0.0.1:{port}")
    with serving(
        command, service_env(uri, instance, WEB_WORKER_CLASS="gthread", WEB_WORKERS="2", WEB_THREADS="16"), port
    ):
        yield app, f"http://127.0.0.1:{port}"


def test_fifty_withdrawals_of_ten_from_one_hundred_on_sqlite(sqlite_stack):
    app, base = sqlite_stack
    session = signed_up(base, "sqlite-rich")
    credit(app, "sqlite-rich", "100")
    numbers = [luhn_number(60_000 + i) for i in range(50)]
    codes = fire_together(
        50,
        lambda i: session.post(f"{base}/api/user/balance/withdraw", json={"order": numbers[i], "sum": 10}).status_code,
    )
    assert sorted(codes) == [200] * 10 + [402] * 40
    assert session.get(f"{base}/api/user/balance").json() == {"current": 0, "withdrawn": 100}


def test_racing_final_answers_credit_once_on_sqlite(sqlite_stack):
    app, base = sqlite_stack
    signed_up(base, "sqlite-racer")
    credit(app, "sqlite-racer", "0.01")  # a user with one processed order already
    with app.app_context():
        user_id = user_id_of("sqlite-racer")
        order = Order(number=luhn_number(61_000), user_id=user_id)
        db.session.add(order)
        db.session.commit()
        order_id = order.id

    def answer(_):
        with app.app_context():
            return apply_final_status(order_id, OrderStatus.PROCESSED, Decimal("729.98"))

    # A thread that fails (a "database is locked", say) fails the test: fire_together raises.
    results = fire_together(10, answer)
    assert sorted(results) == [False] * 9 + [True]
    with app.app_context():
        user = db.session.get_one(User, user_id)
        assert user.current == Decimal("729.99")


def test_order_list_on_sqlite(sqlite_stack):
    """Where the database does not build the list's JSON, the presenter writes the same form."""
    app, base = sqlite_stack
    session = signed_up(base, "sqlite-lister")
    handed_in = luhn_number(62_000)
    assert session.post(f"{base}/api/user/orders", data=handed_in).status_code == 202
    credited = credit(app, "sqlite-lister", "500.50")
    with app.test_request_context():
        assert not builds_json()
    response = session.get(f"{base}/api/user/orders")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert [(item["number"], item["status"], item.get("accrual")) for item in body] == [
        (credited, "PROCESSED", 500.5),
        (handed_in, "NEW", None),
    ]
    assert b'"accrual":500.5,' in response.content
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", item["uploaded_at"]) for item in body)
