"""Request bodies at the edges: gzip streams of several members, sums of thousands of digits."""

import gzip

import pytest

from tests.support.factories import credit


def test_a_gzip_body_of_several_members_is_read_whole(auth_client):
    # `cat a.gz b.gz`: RFC 1952 lets a stream hold members one after another.
    body = gzip.compress(b"1234") + gzip.compress(b"5678903")
    response = auth_client.post("/api/user/orders", data=body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 202
    assert [o["number"] for o in auth_client.get("/api/user/orders").json] == ["12345678903"]


def test_the_size_cap_applies_to_all_gzip_members_together(auth_client, app):
    cap = app.config["SETTINGS"].max_body_bytes
    member = gzip.compress(b" " * (cap // 2 + 1))  # each alone under the cap, both over it
    response = auth_client.post("/api/user/orders", data=member * 2, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413


def test_data_after_the_last_gzip_member_is_400(auth_client):
    body = gzip.compress(b"12345678903") + b"trailing garbage"
    response = auth_client.post("/api/user/orders", data=body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400


def test_a_whole_sum_of_thousands_of_digits_is_402(auth_client, app):
    credit(app, "alice", "100")
    body = '{"order": "2377225624", "sum": ' + "9" * 5000 + "}"
    response = auth_client.post("/api/user/balance/withdraw", data=body, content_type="application/json")
    assert response.status_code == 402  # larger than any balance: SPEC's order of checks
    assert auth_client.get("/api/user/balance").json == {"current": 100, "withdrawn": 0}


def test_a_sum_of_thousands_of_digits_with_too_many_decimals_is_400(auth_client, app):
    credit(app, "alice", "100")
    body = '{"order": "2377225624", "sum": ' + "9" * 5000 + ".001}"
    response = auth_client.post("/api/user/balance/withdraw", data=body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("number", ["1E+9999999999999999999", "1E-9999999999999999999"])
def test_a_sum_decimal_cannot_hold_is_400(auth_client, app, number):
    credit(app, "alice", "100")
    body = '{"order": "2377225624", "sum": ' + number + "}"
    response = auth_client.post("/api/user/balance/withdraw", data=body, content_type="application/json")
    assert response.status_code == 400
    assert auth_client.get("/api/user/balance").json == {"current": 100, "withdrawn": 0}
