"""The floors the API benchmark measures the service against (bench/floor_server.py) answer
as the service's endpoints do, so the shares compare like with like: the same user's
balance and orders, 401 for a bad token, 202 for a new number that is then stored and pushed
to the broker."""

import sys
from pathlib import Path

import pytest
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # scripts, not a package
import floor_server

from tests.support.factories import luhn_number


@pytest.mark.parametrize("kind", floor_server.KINDS)
def test_a_floor_serves_the_users_balance_orders_and_hand_ins(kind, app, register, database_uri, redis_url):
    bearer = register("rich")
    client = app.test_client()
    client.post("/api/user/orders", data=luhn_number(1), headers={"Authorization": bearer})
    broker = redis.Redis.from_url(redis_url)
    broker.delete(floor_server.QUEUE)
    floor = floor_server.app_for(kind, database_uri, redis_url, threads=1, pool_size=1).test_client()

    token = floor.get("/token/rich").get_data(as_text=True)
    headers = {"Authorization": token}
    assert floor.get("/api/user/balance", headers=headers).get_json() == {"current": 0, "withdrawn": 0}
    [order] = floor.get("/api/user/orders", headers=headers).get_json()
    assert (order["number"], order["status"]) == (luhn_number(1), "NEW")
    assert floor.get("/api/user/balance", headers={"Authorization": token + "x"}).status_code == 401

    assert floor.post("/api/user/orders", data=luhn_number(2), headers=headers).status_code == 202
    assert len(floor.get("/api/user/orders", headers=headers).get_json()) == 2
    assert broker.llen(floor_server.QUEUE) == 1
    broker.delete(floor_server.QUEUE)
