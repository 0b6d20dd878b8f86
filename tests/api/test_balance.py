"""SPEC 3.4 to 3.6: balance, withdrawals and the withdrawal list."""

from decimal import Decimal

import pytest

from gophermart.extensions import db
from gophermart.models import User, Withdrawal
from tests.support.factories import credit


def balance(client) -> dict:
    response = client.get("/api/user/balance")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    return response.json


def withdraw(client, order="2377225624", amount=751, **extra):
    return client.post("/api/user/balance/withdraw", json={"order": order, "sum": amount, **extra})


def test_new_user_has_zero_balance(auth_client):
    assert balance(auth_client) == {"current": 0, "withdrawn": 0}


def test_balance_after_accruals_and_withdrawal_is_exact(auth_client, app):
    credit(app, "alice", "729.98")
    credit(app, "alice", "0.03")
    assert withdraw(auth_client, amount=Decimal("500.5")).status_code == 200
    response = auth_client.get("/api/user/balance")
    assert response.data.strip() == b'{"current":229.51,"withdrawn":500.5}'


def test_withdrawal_registered_and_listed(auth_client, app):
    credit(app, "alice", "1000")
    response = withdraw(auth_client)
    assert response.status_code == 200
    assert balance(auth_client) == {"current": 249, "withdrawn": 751}
    listed = auth_client.get("/api/user/withdrawals")
    assert listed.status_code == 200 and listed.content_type == "application/json"
    [item] = listed.json
    assert item["order"] == "2377225624" and item["sum"] == 751
    assert item["processed_at"].endswith("+00:00")
    # A withdrawal never shows in the order list.
    assert [o["number"] for o in auth_client.get("/api/user/orders").json] != ["2377225624"]


def test_withdrawals_newest_first(auth_client, app):
    credit(app, "alice", "100")
    for number in ("2377225624", "12345678903", "9278923470"):
        assert withdraw(auth_client, order=number, amount=1).status_code == 200
    assert [w["order"] for w in auth_client.get("/api/user/withdrawals").json] == [
        "9278923470",
        "12345678903",
        "2377225624",
    ]


def test_withdrawals_204_when_none(auth_client):
    response = auth_client.get("/api/user/withdrawals")
    assert response.status_code == 204 and response.data == b""


def test_insufficient_balance_is_402_and_changes_nothing(auth_client, app):
    credit(app, "alice", "100")
    response = withdraw(auth_client, amount=Decimal("100.01"))
    assert response.status_code == 402
    assert response.content_type == "application/problem+json"
    assert balance(auth_client) == {"current": 100, "withdrawn": 0}
    assert auth_client.get("/api/user/withdrawals").status_code == 204


def test_whole_balance_can_be_spent(auth_client, app):
    credit(app, "alice", "100")
    assert withdraw(auth_client, amount=100).status_code == 200
    assert balance(auth_client) == {"current": 0, "withdrawn": 100}


def test_identical_repeat_charges_once_and_answers_200(auth_client, app):
    credit(app, "alice", "1000")
    assert withdraw(auth_client).status_code == 200
    assert withdraw(auth_client).status_code == 200
    assert withdraw(auth_client, amount=Decimal("751.00")).status_code == 200
    assert balance(auth_client) == {"current": 249, "withdrawn": 751}


def test_identical_repeat_is_200_even_when_balance_is_now_short(auth_client, app):
    credit(app, "alice", "751")
    assert withdraw(auth_client).status_code == 200
    assert withdraw(auth_client).status_code == 200


def test_same_order_other_sum_is_409(auth_client, app):
    credit(app, "alice", "1000")
    assert withdraw(auth_client).status_code == 200
    assert withdraw(auth_client, amount=10).status_code == 409
    assert balance(auth_client)["withdrawn"] == 751


def test_same_order_other_user_is_409_before_402(auth_client, app, register):
    credit(app, "alice", "1000")
    assert withdraw(auth_client).status_code == 200
    bob = app.test_client()
    bob.environ_base["HTTP_AUTHORIZATION"] = register("bob")
    assert withdraw(bob).status_code == 409  # bob has no points: 409 is checked before 402


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"nope",
        b"[]",
        b'{"order": "2377225624"}',
        b'{"order": "2377225624", "sum": "751"}',
        b'{"order": "2377225624", "sum": null}',
        b'{"order": "2377225624", "sum": true}',
        b'{"order": "2377225624", "sum": 0}',
        b'{"order": "2377225624", "sum": -5}',
        b'{"order": "2377225624", "sum": 5.001}',
        b'{"order": "2377225624", "sum": NaN}',
        b'{"order": "2377225624", "sum": Infinity}',
        b'{"order": "2377225624", "sum": [1]}',
        b'{"sum": 5}',
        b'{"order": 2377225624, "sum": 5}',
        b'{"order": null, "sum": 5}',
    ],
)
def test_malformed_withdrawal_is_400_and_changes_nothing(auth_client, app, body):
    credit(app, "alice", "1000")
    response = auth_client.post("/api/user/balance/withdraw", data=body, content_type="application/json")
    assert response.status_code == 400, body
    assert balance(auth_client) == {"current": 1000, "withdrawn": 0}


@pytest.mark.parametrize("order", ["2377225625", "", "abc", "２３７７２２５６２４", " 2377225624", "0" * 300])
def test_order_failing_luhn_is_422(auth_client, app, order):
    credit(app, "alice", "1000")
    assert withdraw(auth_client, order=order, amount=1).status_code == 422
    assert balance(auth_client)["withdrawn"] == 0


def test_checks_apply_in_spec_order(auth_client, app):
    # 400 before 422: bad sum and bad order together.
    assert withdraw(auth_client, order="1", amount=-1).status_code == 400
    # 422 before 402: a bad order with no points.
    assert withdraw(auth_client, order="1", amount=1).status_code == 422


@pytest.mark.parametrize("amount", [Decimal("5.000"), Decimal("5.10"), 5])
def test_sums_with_trailing_zeros_are_fine(auth_client, app, amount):
    credit(app, "alice", "10")
    assert withdraw(auth_client, amount=amount).status_code == 200
    assert balance(auth_client)["current"] == float(Decimal(10) - Decimal(amount))


@pytest.mark.parametrize("amount", ["1e300", "1E+400", "99999999999999999999999999999999999.5"])
def test_astronomical_sum_is_402_not_500(auth_client, app, amount):
    credit(app, "alice", "10")
    response = auth_client.post(
        "/api/user/balance/withdraw",
        data=f'{{"order": "2377225624", "sum": {amount}}}',
        content_type="application/json",
    )
    assert response.status_code == 402


def test_ledger_invariant_holds_in_the_database(auth_client, app):
    credit(app, "alice", "300.25")
    withdraw(auth_client, order="2377225624", amount=Decimal("100.10"))
    withdraw(auth_client, order="12345678903", amount=Decimal("0.15"))
    with app.app_context():
        user = db.session.execute(db.select(User)).scalar_one()
        withdrawn = db.session.execute(db.select(db.func.sum(Withdrawal.sum))).scalar_one()
        assert user.current == Decimal("300.25") - withdrawn == Decimal("200.00")
        assert user.withdrawn == withdrawn
