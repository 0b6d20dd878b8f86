"""The floors the API benchmark measures the service against (bench/floor_server.py) answer
as the service's endpoints do, so the shares compare like with like: the same user's
balance and orders, 401 for a bad token, 202 for a new number that is then stored and pushed
to the broker; the pipeline's floor (bench/pipeline_floor.py) takes an order to its final
answer and credits it once."""

import sys
import time
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from celery.exceptions import Retry

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # scripts, not a package
import floor_server
import pipeline_floor

from gophermart.extensions import db
from gophermart.models import Order
from tests.support.factories import luhn_number
from tests.support.simulator import register_at_simulator


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


def test_the_pipeline_floors_check_asks_again_until_final_then_credits_once(
    app, register, database_uri, sim, simulator_calc_seconds, monkeypatch
):
    bearer = register("floor-shopper")
    client = app.test_client()
    number = luhn_number(7)
    register_at_simulator(
        sim,
        number,
        [{"description": "Kettle Acme", "price": 2000}],
        [{"match": "Acme", "reward": 10, "reward_type": "%"}],
    )
    assert client.post("/api/user/orders", data=number, headers={"Authorization": bearer}).status_code == 202
    with app.app_context():
        order_id = db.session.scalar(sa.select(Order.id).where(Order.number == number))
    monkeypatch.setenv("DATABASE_URI", database_uri)
    monkeypatch.setenv("ACCRUAL_SYSTEM_ADDRESS", sim.url)
    try:
        with pytest.raises(Retry):  # still calculating
            pipeline_floor.check(order_id)
        deadline = time.monotonic() + 10 * simulator_calc_seconds
        while True:
            try:
                pipeline_floor.check(order_id)
                break
            except Retry:
                assert time.monotonic() < deadline, "the simulator never answered PROCESSED"
                time.sleep(0.2)
        pipeline_floor.check(order_id)  # a second final answer changes nothing
    finally:
        pipeline_floor.forget_connections()
    balance = client.get("/api/user/balance", headers={"Authorization": bearer}).get_json()
    assert balance == {"current": 200, "withdrawn": 0}
    [order] = client.get("/api/user/orders", headers={"Authorization": bearer}).get_json()
    assert (order["status"], order["accrual"]) == ("PROCESSED", 200)
