"""SPEC 3.2 and 3.3: handing in order numbers and listing them."""

import gzip
from datetime import datetime
from decimal import Decimal

import pytest

from gophermart.extensions import db
from gophermart.luhn import luhn_valid
from gophermart.models import Order, OrderStatus
from gophermart.services import ledger
from tests.support.factories import luhn_number


def order_count(app) -> int:
    with app.app_context():
        return db.session.execute(db.select(db.func.count()).select_from(Order)).scalar_one()


def test_new_number_is_202_then_200_for_the_same_user(auth_client):
    assert auth_client.post("/api/user/orders", data="12345678903", content_type="text/plain").status_code == 202
    again = auth_client.post("/api/user/orders", data="12345678903", content_type="text/plain")
    assert again.status_code == 200
    assert again.data == b""


def test_number_of_another_user_is_409(auth_client, app, register):
    auth_client.post("/api/user/orders", data="12345678903")
    bob = register("bob")
    response = app.test_client().post("/api/user/orders", data="12345678903", headers={"Authorization": bob})
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize("body", [" 12345678903\n", "\t12345678903  "])
def test_surrounding_whitespace_is_ignored(auth_client, app, body):
    assert auth_client.post("/api/user/orders", data=body).status_code == 202
    with app.app_context():
        assert db.session.execute(db.select(Order.number)).scalar_one() == "12345678903"


def test_content_type_is_not_required_to_be_text_plain(auth_client):
    assert auth_client.post("/api/user/orders", data="12345678903", content_type="application/json").status_code == 202
    assert auth_client.post("/api/user/orders", data="9278923470").status_code == 202


def test_leading_zeros_count(auth_client, app):
    assert auth_client.post("/api/user/orders", data="012345678903").status_code == 202
    assert auth_client.post("/api/user/orders", data="12345678903").status_code == 202
    assert order_count(app) == 2


@pytest.mark.parametrize("body", [b"", b"   ", b"\n\t ", b"\xff\xfe\x00\x01", b"\x80abc"])
def test_empty_or_binary_body_is_400(auth_client, app, body):
    response = auth_client.post("/api/user/orders", data=body)
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert order_count(app) == 0


@pytest.mark.parametrize(
    "body",
    [
        "12345678900",
        "abc",
        "1234 5678903",
        "-12345678903",
        "+12345678903",
        "12345678903.0",
        "１２３４５６７８９０３",
        "0x1F",
        '"12345678903"',
        "0" * 254 + "18",
        "1e10",
        "\x00",
    ],
)
def test_not_digits_or_failing_luhn_is_422(auth_client, app, body):
    response = auth_client.post("/api/user/orders", data=body.encode())
    assert response.status_code == 422, body
    assert response.json["status"] == 422
    assert order_count(app) == 0


def test_255_digits_accepted(auth_client):
    number = luhn_number(10**253)
    assert len(number) == 255 and luhn_valid(number)
    assert auth_client.post("/api/user/orders", data=number).status_code == 202


def test_huge_body_is_413(auth_client, app):
    response = auth_client.post("/api/user/orders", data="1" * (1024 * 1024))
    assert response.status_code == 413
    assert order_count(app) == 0


def test_list_is_204_when_empty(auth_client):
    response = auth_client.get("/api/user/orders")
    assert response.status_code == 204
    assert response.data == b""


def test_list_newest_first_with_statuses_and_accruals(auth_client, app):
    numbers = [luhn_number(700 + i) for i in range(4)]
    for number in numbers:
        assert auth_client.post("/api/user/orders", data=number).status_code == 202
    with app.app_context():
        ids = {o.number: o.id for o in db.session.execute(db.select(Order)).scalars()}
        ledger.apply_final_status(ids[numbers[0]], OrderStatus.PROCESSED, Decimal("500"))
        ledger.apply_final_status(ids[numbers[1]], OrderStatus.INVALID)
        ledger.apply_final_status(ids[numbers[2]], OrderStatus.PROCESSED, Decimal("0"))
        db.session.execute(db.update(Order).where(Order.id == ids[numbers[3]]).values(status=OrderStatus.PROCESSING))
        db.session.commit()
    response = auth_client.get("/api/user/orders")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    body = response.json
    assert [item["number"] for item in body] == numbers[::-1]  # same-second ties: newest first
    assert body[0] == {"number": numbers[3], "status": "PROCESSING", "uploaded_at": body[0]["uploaded_at"]}
    assert body[1] == {"number": numbers[2], "status": "PROCESSED", "uploaded_at": body[1]["uploaded_at"]}
    assert body[2] == {"number": numbers[1], "status": "INVALID", "uploaded_at": body[2]["uploaded_at"]}
    assert body[3]["status"] == "PROCESSED" and body[3]["accrual"] == 500
    assert b'"accrual":500,' in response.data  # a plain literal, not "500" or 5E+2
    for item in body:
        moment = datetime.fromisoformat(item["uploaded_at"])
        assert moment.utcoffset() is not None and item["uploaded_at"].endswith("+00:00")


def test_new_order_is_listed_as_new(auth_client):
    auth_client.post("/api/user/orders", data="12345678903")
    assert auth_client.get("/api/user/orders").json[0]["status"] == "NEW"


def test_users_see_only_their_own_orders(auth_client, app, register):
    auth_client.post("/api/user/orders", data="12345678903")
    bob = register("bob")
    assert app.test_client().get("/api/user/orders", headers={"Authorization": bob}).status_code == 204


def test_gzip_request_body_is_accepted(auth_client):
    response = auth_client.post(
        "/api/user/orders", data=gzip.compress(b"12345678903"), headers={"Content-Encoding": "gzip"}
    )
    assert response.status_code == 202


def test_gzip_bomb_is_413_quickly(auth_client, app):
    bomb = gzip.compress(b"1" * (50 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    response = auth_client.post("/api/user/orders", data=bomb, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"
    assert order_count(app) == 0


@pytest.mark.parametrize("body", [b"not gzip at all", gzip.compress(b"12345678903", mtime=0)[:-6]])
def test_broken_gzip_is_400(auth_client, body):
    response = auth_client.post("/api/user/orders", data=body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400


def test_unknown_content_encoding_is_415(auth_client):
    response = auth_client.post("/api/user/orders", data=b"12345678903", headers={"Content-Encoding": "br"})
    assert response.status_code == 415


def test_responses_are_gzipped_when_asked(auth_client):
    for i in range(30):
        auth_client.post("/api/user/orders", data=luhn_number(5000 + i))
    plain = auth_client.get("/api/user/orders")
    zipped = auth_client.get("/api/user/orders", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.content_type == "application/json"
    assert gzip.decompress(zipped.data) == plain.data


def test_chunked_body_over_the_limit_is_413(live_web, live_user):
    session = live_user("chunky")

    def chunks():
        for _ in range(20):
            yield b"1" * 4096  # 80 KiB, over the 64 KiB cap, with no Content-Length

    response = session.post(f"{live_web}/api/user/orders", data=chunks())
    assert response.status_code == 413
