"""The real simulator over HTTP: the three public endpoints and the operator API."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.simulator import new_order_number, wait_for_final

CALC = 0.3


@pytest.fixture(scope="module")
def sim(simulator_factory):
    # The flag must beat the environment variable.
    return simulator_factory("--calc-time", str(CALC), env={"ACCRUAL_CALC_SECONDS": "99", "ACCRUAL_RATE_LIMIT": ""})


def register_order(sim, goods, number=None):
    number = number or new_order_number()
    response = sim.post("/api/orders", json={"order": number, "goods": goods})
    assert response.status_code == 202, response.text
    return number


def test_flag_beats_environment_and_start_up_is_logged(sim):
    assert sim.get("/admin/config").json() == {
        "rate_limit": 0,
        "rate_window": 60.0,
        "calc_seconds": CALC,
        "fault_rate": 0.0,
        "latency_ms": 0.0,
        "random_seed": None,
    }
    lines = [line for line in sim.output().splitlines() if "accrual simulator listening on" in line]
    assert len(lines) == 1
    assert f"http://127.0.0.1:{sim.url.rsplit(':', 1)[1]}" in lines[0]
    assert "rate limit off" in lines[0] and "calc time 0.3s" in lines[0]


def test_goods_registered_then_conflict(sim):
    body = {"match": "Bork", "reward": 10, "reward_type": "%"}
    response = sim.post("/api/goods", json=body)
    assert response.status_code == 200
    assert response.content == b""
    assert sim.post("/api/goods", json=body).status_code == 409
    assert sim.post("/api/goods", json={**body, "reward": 1, "reward_type": "pt"}).status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"reward": 10, "reward_type": "%"}',
        b'{"match": "", "reward": 10, "reward_type": "%"}',
        b'{"match": 7, "reward": 10, "reward_type": "%"}',
        b'{"match": "Sony", "reward_type": "%"}',
        b'{"match": "Sony", "reward": "10", "reward_type": "%"}',
        b'{"match": "Sony", "reward": -10, "reward_type": "%"}',
        b'{"match": "Sony", "reward": 10, "reward_type": "percent"}',
        b'{"match": "Sony", "reward": 10}',
    ],
)
def test_goods_bad_body(sim, body):
    response = sim.post("/api/goods", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")


def test_orders_accepted_then_conflict(sim):
    number = new_order_number()
    body = {"order": number, "goods": [{"description": "Tefal kettle", "price": 7000}]}
    response = sim.post("/api/orders", json=body)
    assert response.status_code == 202
    assert response.content == b""
    assert sim.post("/api/orders", json=body).status_code == 409
    assert sim.post("/api/orders", json={"order": number, "goods": []}).status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b'["12345678903"]',
        b'{"order": "12345678900", "goods": []}',
        b'{"order": "1234567890a", "goods": []}',
        b'{"order": 12345678903, "goods": []}',
        b'{"order": "", "goods": []}',
        b'{"order": "12345678903"}',
        b'{"order": "12345678903", "goods": [{"description": "x"}]}',
        b'{"order": "12345678903", "goods": [{"description": "x", "price": -1}]}',
        b'{"order": "12345678903", "goods": [{"price": 1}]}',
    ],
)
def test_orders_bad_body(sim, body):
    assert sim.post("/api/orders", data=body, headers={"Content-Type": "application/json"}).status_code == 400


def test_unknown_order_is_204_without_body(sim):
    response = sim.get(f"/api/orders/{new_order_number()}")
    assert response.status_code == 204
    assert response.content == b""
    assert sim.get("/api/orders/not-a-number").status_code == 204


def test_status_progression(sim):
    sim.configure(calc_seconds=3.0)
    try:
        number = register_order(sim, [{"description": "Tefal kettle", "price": 7000}])
    finally:
        sim.configure(calc_seconds=CALC)
    first = sim.get(f"/api/orders/{number}")
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "application/json"
    assert first.json() == {"order": number, "status": "REGISTERED"}
    seen = ["REGISTERED"]
    deadline = time.monotonic() + 20
    while seen[-1] != "PROCESSED":
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)
        current = sim.get(f"/api/orders/{number}").json()["status"]
        if current != seen[-1]:
            seen.append(current)
    assert seen == ["REGISTERED", "PROCESSING", "PROCESSED"]


def test_spec_rounding_examples(sim):
    for mechanic in (
        {"match": "Pringles", "reward": 10, "reward_type": "%"},
        {"match": "Coca-Cola", "reward": 12.5, "reward_type": "pt"},
        {"match": "Acme", "reward": 5, "reward_type": "%"},
        {"match": "Vitek", "reward": 10, "reward_type": "%"},
    ):
        assert sim.post("/api/goods", json=mechanic).status_code == 200
    snacks = register_order(
        sim,
        [
            {"description": "Tefal kettle", "price": 7000},
            {"description": "Pringles bacon", "price": 147.5},
            {"description": "Coca-Cola Zero", "price": 55},
        ],
    )
    tv = register_order(sim, [{"description": "TV Acme", "price": 14599.50}])
    iron = register_order(sim, [{"description": "Vitek iron", "price": 5000}])
    assert wait_for_final(sim, snacks) == {"order": snacks, "status": "PROCESSED", "accrual": 27.25}
    assert wait_for_final(sim, tv)["accrual"] == 729.98
    wait_for_final(sim, iron)
    raw = sim.get(f"/api/orders/{snacks}").text
    assert '"accrual": 27.25}' in raw
    raw = sim.get(f"/api/orders/{iron}").text
    assert raw == '{"order": "' + iron + '", "status": "PROCESSED", "accrual": 500}'


def test_no_reward_and_invalid(sim):
    plain = register_order(sim, [{"description": "Nothing matches here", "price": 100}])
    empty = register_order(sim, [])
    assert wait_for_final(sim, plain) == {"order": plain, "status": "PROCESSED"}
    assert wait_for_final(sim, empty) == {"order": empty, "status": "INVALID"}


def test_counters(sim):
    sim.reset()
    number = new_order_number()
    sim.post("/api/goods", json={"match": "Counter", "reward": 1, "reward_type": "pt"})
    sim.post("/api/goods", json={"match": "Counter", "reward": 1, "reward_type": "pt"})
    sim.post("/api/goods", data=b"[]")
    register_order(sim, [{"description": "Counter", "price": 1}], number)
    sim.post("/api/orders", json={"order": number, "goods": []})
    sim.get(f"/api/orders/{number}")
    sim.get(f"/api/orders/{number}")
    sim.get("/api/orders/18")
    stats = sim.stats()
    assert stats["requests"] == {
        "POST /api/goods": {"200": 1, "400": 1, "409": 1},
        "POST /api/orders": {"202": 1, "409": 1},
        "GET /api/orders/{number}": {"200": 2, "204": 1},
    }
    assert stats["order_gets"] == {"total": 3, "distinct_orders": 2, "by_order": {number: 2, "18": 1}}
    assert stats["rate_limited"] == 0
    assert stats["during_pause"] == 0
    assert stats["faults"] == 0

    sim.reset()
    assert sim.stats()["order_gets"]["total"] == 0
    assert sim.get(f"/api/orders/{number}").status_code == 200
    sim.reset(state=True)
    stats = sim.stats()
    assert stats["mechanics"] == 0 and stats["orders"]["total"] == 0
    assert sim.get(f"/api/orders/{number}").status_code == 204


def test_many_concurrent_clients(sim):
    sim.configure(latency_ms=300)
    try:
        sim.reset()
        started = time.monotonic()

        def one(_):
            return requests.get(f"{sim.url}/api/orders/18", timeout=30).status_code

        with ThreadPoolExecutor(max_workers=40) as pool:
            codes = list(pool.map(one, range(40)))
        elapsed = time.monotonic() - started
    finally:
        sim.configure(latency_ms=0)
    assert codes == [204] * 40
    assert elapsed < 8  # one at a time would take 12 s
    stats = sim.stats()
    assert stats["in_flight"]["max"] > 1
    assert stats["in_flight"]["current"] == 0
