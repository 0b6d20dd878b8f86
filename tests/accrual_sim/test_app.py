"""The Flask views with a fake clock (no network)."""

import gzip
import json

import pytest

from accrual_sim import create_app
from accrual_sim.engine import Engine
from accrual_sim.settings import SimConfig


@pytest.fixture
def sim(clock):
    sleeps: list[float] = []
    engine = Engine(SimConfig(calc_seconds=3.0), clock=clock)
    app = create_app(engine=engine, sleep=sleeps.append)
    client = app.test_client()
    client.sleeps = sleeps  # type: ignore[attr-defined]  # the tests read the pauses off the client they get
    return client


def post_json(client, path, payload, **kwargs):
    return client.post(path, data=json.dumps(payload), **kwargs)


def test_goods_codes(sim):
    body = {"match": "Bork", "reward": 10, "reward_type": "%"}
    response = post_json(sim, "/api/goods", body)
    assert response.status_code == 200
    assert response.data == b""
    assert post_json(sim, "/api/goods", body).status_code == 409
    bad = sim.post("/api/goods", data=b'{"match": "", "reward": 1, "reward_type": "pt"}')
    assert bad.status_code == 400
    assert bad.mimetype == "text/plain"
    assert b"match" in bad.data
    assert sim.post("/api/goods", data=b"not json").status_code == 400


def test_orders_codes(sim):
    body = {"order": "12345678903", "goods": [{"description": "Bork", "price": 7000}]}
    response = post_json(sim, "/api/orders", body)
    assert response.status_code == 202
    assert response.data == b""
    assert post_json(sim, "/api/orders", body).status_code == 409
    assert post_json(sim, "/api/orders", {"order": "12345678900", "goods": []}).status_code == 400


def test_gzip_request_body(sim):
    raw = gzip.compress(b'{"match": "Acme", "reward": 5, "reward_type": "%"}')
    assert sim.post("/api/goods", data=raw, headers={"Content-Encoding": "gzip"}).status_code == 200
    assert sim.post("/api/goods", data=b"xx", headers={"Content-Encoding": "gzip"}).status_code == 400
    assert sim.post("/api/goods", data=b"{}", headers={"Content-Encoding": "br"}).status_code == 400


def test_status_answers(sim, clock):
    post_json(sim, "/api/goods", {"match": "Acme", "reward": 5, "reward_type": "%"})
    post_json(sim, "/api/orders", {"order": "9278923470", "goods": [{"description": "TV Acme", "price": 14599.50}]})
    response = sim.get("/api/orders/9278923470")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"order": "9278923470", "status": "REGISTERED"}
    clock.advance(3)
    response = sim.get("/api/orders/9278923470")
    assert response.data == b'{"order": "9278923470", "status": "PROCESSED", "accrual": 729.98}'

    unknown = sim.get("/api/orders/12345678903")
    assert unknown.status_code == 204
    assert unknown.data == b""
    assert "Content-Type" not in unknown.headers


def test_429_and_latency(sim):
    assert post_json(sim, "/admin/config", {"rate_limit": 1, "rate_window": 30, "latency_ms": 20}).status_code == 200
    assert sim.get("/api/orders/18").status_code == 204
    limited = sim.get("/api/orders/18")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "30"
    assert limited.mimetype == "text/plain"
    assert limited.data.decode().strip() == "No more than 2 requests per minute allowed"
    assert sim.sleeps == [0.02, 0.02]


def test_fault_answer(sim):
    post_json(sim, "/admin/config", {"fault_rate": 1})
    response = sim.get("/api/orders/18")
    assert response.status_code == 500
    assert response.mimetype == "text/plain"


def test_admin_stats_reset_and_config(sim):
    post_json(sim, "/api/orders", {"order": "18", "goods": []})
    sim.get("/api/orders/18")
    stats = sim.get("/admin/stats").get_json()
    assert stats["requests"]["POST /api/orders"] == {"202": 1}
    assert stats["order_gets"]["by_order"] == {"18": 1}

    assert sim.post("/admin/reset").get_json() == {"reset": "counters"}
    stats = sim.get("/admin/stats").get_json()
    assert stats["order_gets"]["total"] == 0
    assert stats["orders"]["total"] == 1
    assert post_json(sim, "/admin/reset", {"state": True}).get_json() == {"reset": "all"}
    assert sim.get("/admin/stats").get_json()["orders"]["total"] == 0
    assert sim.post("/admin/reset?state=1").get_json() == {"reset": "all"}
    assert sim.post("/admin/reset?state=perhaps").status_code == 400

    config = sim.get("/admin/config").get_json()
    assert config == {
        "rate_limit": 0,
        "rate_window": 60.0,
        "calc_seconds": 3.0,
        "fault_rate": 0.0,
        "latency_ms": 0.0,
        "random_seed": None,
    }
    changed = post_json(sim, "/admin/config", {"calc_seconds": 0.5, "random_seed": 3})
    assert changed.status_code == 200
    assert changed.get_json()["calc_seconds"] == 0.5
    assert changed.get_json()["random_seed"] == 3
    for bad in ({"calc_seconds": -1}, {"nope": 1}, [1], {"fault_rate": "x"}):
        response = post_json(sim, "/admin/config", bad)
        assert response.status_code == 400, bad
    assert sim.get("/admin/config").get_json()["calc_seconds"] == 0.5
