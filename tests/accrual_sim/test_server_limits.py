"""The real simulator over HTTP: rate limit, faults and latency."""

import time

import pytest

from tests.support.simulator import new_order_number

LIMIT = 3
WINDOW = 4


@pytest.fixture(scope="module")
def limited(simulator_factory):
    return simulator_factory("--rate-limit", str(LIMIT), "--rate-window", str(WINDOW), "--calc-time", "0")


@pytest.fixture(scope="module")
def faulty(simulator_factory):
    # Knobs from the environment this time.
    return simulator_factory(
        env={"ACCRUAL_FAULT_RATE": "1.0", "ACCRUAL_LATENCY_MS": "300", "ACCRUAL_CALC_SECONDS": "0"}
    )


def test_rate_limit_window_and_retry_after(limited):
    limited.reset()
    number = new_order_number()
    assert limited.post("/api/orders", json={"order": number, "goods": []}).status_code == 202
    codes = [limited.get(f"/api/orders/{number}").status_code for _ in range(LIMIT)]
    assert codes == [200] * LIMIT

    over = limited.get(f"/api/orders/{number}")
    assert over.status_code == 429
    retry_after = int(over.headers["Retry-After"])
    assert 1 <= retry_after <= WINDOW
    assert over.headers["Content-Type"].startswith("text/plain")
    assert over.text.strip() == "No more than 45 requests per minute allowed"  # 3 per 4 s

    # Ignoring the announced pause is counted.
    again = limited.get(f"/api/orders/{number}")
    assert again.status_code == 429
    received = time.monotonic()
    stats = limited.stats()
    assert stats["rate_limited"] == 2
    assert stats["during_pause"] == 1
    assert stats["requests"]["GET /api/orders/{number}"] == {"200": LIMIT, "429": 2}
    assert stats["order_gets"]["by_order"] == {number: LIMIT + 2}

    # The POST endpoints are never limited.
    assert limited.post("/api/goods", json={"match": "Sony", "reward": 1, "reward_type": "pt"}).status_code == 200
    assert limited.post("/api/orders", json={"order": new_order_number(), "goods": []}).status_code == 202

    # After waiting as told, a new window admits requests again, and that is no pause breach.
    time.sleep(max(0.0, received + int(again.headers["Retry-After"]) + 0.2 - time.monotonic()))
    assert limited.get(f"/api/orders/{number}").status_code == 200
    assert limited.stats()["during_pause"] == 1


def test_rate_limit_per_minute_message_and_runtime_change(limited):
    limited.configure(rate_limit=2, rate_window=60)
    try:
        limited.reset()
        assert [limited.get("/api/orders/18").status_code for _ in range(3)] == [204, 204, 429]
        over = limited.get("/api/orders/18")
        assert over.text.strip() == "No more than 2 requests per minute allowed"
        assert 58 <= int(over.headers["Retry-After"]) <= 60
        assert limited.stats()["pause_remaining_seconds"] > 50
    finally:
        limited.configure(rate_limit=LIMIT, rate_window=WINDOW)
        limited.reset()


def test_fault_rate_one_answers_500_to_every_status_request(faulty):
    number = new_order_number()
    assert faulty.post("/api/orders", json={"order": number, "goods": []}).status_code == 202
    faulty.reset()
    codes = [faulty.get(f"/api/orders/{number}").status_code for _ in range(5)]
    assert codes == [500] * 5
    stats = faulty.stats()
    assert stats["faults"] == 5
    assert stats["requests"]["GET /api/orders/{number}"] == {"500": 5}
    assert faulty.get("/admin/config").json()["fault_rate"] == 1.0


def test_latency_is_added(faulty):
    started = time.monotonic()
    assert faulty.get("/api/orders/18").status_code == 500
    assert time.monotonic() - started >= 0.3
    assert faulty.get("/admin/config").json()["latency_ms"] == 300.0


def test_seeded_fault_share(faulty):
    faulty.configure(fault_rate=0.5, random_seed=1234, latency_ms=0)
    try:
        first = [faulty.get("/api/orders/18").status_code for _ in range(30)]
        faulty.configure(random_seed=1234)
        again = [faulty.get("/api/orders/18").status_code for _ in range(30)]
    finally:
        faulty.configure(fault_rate=1.0, latency_ms=300)
    assert first == again
    assert set(first) == {204, 500}
