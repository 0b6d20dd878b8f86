"""Failing parts never cost a point: after each fault every order is final and
Σ balances = Σ accruals − Σ withdrawals."""

import signal
import threading
import time
from decimal import Decimal

import requests

from tests.support.database import connected, execute, fetch_all, fetch_one
from tests.support.ledger import ledger_is_exact
from tests.support.processes import free_port, gophermart_command, service_env, serving
from tests.support.scrape import metric
from tests.support.simulator import new_order_number, register_purchases
from tests.support.stacks import Shopper, outage

REWARD = {"match": "Gopher", "reward": Decimal("2.5"), "reward_type": "pt"}


def register(simulator, numbers):
    register_purchases(simulator.running, numbers, [{"description": "Gopher", "price": 1}], [REWARD])


def assert_all_credited_once(shopper, numbers, postgres, timeout=120):
    orders = shopper.wait_final(numbers, timeout=timeout)
    assert all(orders[n]["status"] == "PROCESSED" and orders[n]["accrual"] == 2.5 for n in numbers)
    ledger_is_exact(postgres.uri)


def test_redis_restarted_with_orders_in_flight(fault_stack, servers):
    postgres, redis, simulator = servers
    numbers = [new_order_number() for _ in range(15)]
    register(simulator, numbers)
    shopper = Shopper(fault_stack.url, "redis-restart")
    for number in numbers[:10]:
        assert shopper.hand_in(number) == 202
    with outage(redis, seconds=2):  # every queued message is gone with it
        for number in numbers[10:]:
            assert shopper.hand_in(number) == 202  # the web still accepts orders
    assert_all_credited_once(shopper, numbers, postgres)
    assert shopper.balance()["current"] == 37.5


def test_worker_rides_out_a_redis_outage(fault_stack, servers):
    """The worker reconnects by itself: the same process, not one the watchdog restarted."""
    postgres, redis, simulator = servers
    numbers = [new_order_number() for _ in range(10)]
    register(simulator, numbers)
    shopper = Shopper(fault_stack.url, "redis-outage")
    assert shopper.hand_in(numbers[0]) == 202
    shopper.wait_final(numbers[:1], timeout=30)  # the worker is up and checking
    worker = fault_stack.processes["worker"]
    for number in numbers[1:5]:
        assert shopper.hand_in(number) == 202  # their first checks wait unacknowledged in the worker
    for _outage in range(3):
        with outage(redis, seconds=1, subscribers_first=True):
            pass
        time.sleep(1)
        assert worker.poll() is None, f"the worker exited with {worker.returncode} when Redis went away"
    for number in numbers[5:]:
        assert shopper.hand_in(number) == 202
    # Those waiting in the worker through the outages too, and the ones handed in after.
    assert_all_credited_once(shopper, numbers, postgres)
    assert fault_stack.processes["worker"] is worker and worker.poll() is None


def test_postgres_restarted(fault_stack, servers):
    postgres, _redis, simulator = servers
    numbers = [new_order_number() for _ in range(10)]
    register(simulator, numbers)
    shopper = Shopper(fault_stack.url, "pg-restart")
    for number in numbers[:5]:
        assert shopper.hand_in(number) == 202
    with outage(postgres, seconds=2):
        started = time.monotonic()
        down = shopper.http.post(f"{fault_stack.url}/api/user/orders", data=numbers[5], timeout=30)
        assert down.status_code == 503 and down.headers["Retry-After"]
        assert time.monotonic() - started < 10  # an answer, not a hang
    deadline = time.monotonic() + 30
    while requests.get(f"{fault_stack.url}/readyz").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    for number in numbers[5:]:
        assert shopper.hand_in(number) == 202
    assert_all_credited_once(shopper, numbers, postgres)


def test_accrual_system_down_for_a_while(fault_stack, servers):
    postgres, _redis, simulator = servers
    numbers = [new_order_number() for _ in range(10)]
    shopper = Shopper(fault_stack.url, "accrual-down")
    failed_before = failed_accrual_calls(fault_stack.url)  # the module's stack counts all along
    with outage(simulator, seconds=0):
        for number in numbers:
            assert shopper.hand_in(number) == 202
        # Checks are tried, fail, are retried briefly, then re-scheduled: nothing changes.
        deadline = time.monotonic() + 30
        while failed_accrual_calls(fault_stack.url) <= failed_before:
            assert time.monotonic() < deadline, "no accrual call failed while the accrual system was down"
            time.sleep(0.2)
        assert {o["status"] for o in shopper.orders().values()} == {"NEW"}
    register(simulator, numbers)  # the restarted simulator forgot everything
    assert_all_credited_once(shopper, numbers, postgres)


def failed_accrual_calls(base: str) -> float:
    return metric(requests.get(f"{base}/metrics").text, 'gophermart_accrual_calls_total{outcome="Unavailable"}') or 0.0


def test_whole_service_sigterm_under_load(servers, tmp_path):
    """In-flight requests complete, nothing is half-written, and the service exits 0."""
    postgres, redis, simulator = servers
    port = free_port()
    env = service_env(
        postgres.uri,
        tmp_path,
        REDIS_URL=redis.url,
        ACCRUAL_SYSTEM_ADDRESS=simulator.url,
        RUN_ADDRESS=f"127.0.0.1:{port}",
    )
    with serving(gophermart_command(), env, port) as process:
        run_under_load_and_stop(process, port, postgres)


def run_under_load_and_stop(process, port, postgres):
    base = f"http://127.0.0.1:{port}"
    shopper = Shopper(base, "sigterm")
    with connected(postgres.uri, autocommit=True) as conn:  # 1000 points, from a processed order as the ledger expects
        execute(
            conn,
            "INSERT INTO orders (number, user_id, status, accrual, uploaded_at, updated_at, next_check_at)"
            " SELECT %s, id, 'PROCESSED', 1000, now(), now(), now() FROM users WHERE login = 'sigterm'",
            (new_order_number(),),
        )
        execute(conn, "UPDATE users SET current = 1000 WHERE login = 'sigterm'")
    answers: list[tuple[str, int]] = []
    stop = threading.Event()

    def load():
        http = requests.Session()
        http.headers["Authorization"] = shopper.http.headers["Authorization"]
        while not stop.is_set():
            number = new_order_number()
            try:
                response = http.post(f"{base}/api/user/balance/withdraw", json={"order": number, "sum": 1}, timeout=10)
            except requests.ConnectionError:
                continue  # refused once the server stopped accepting: never processed
            answers.append((number, response.status_code))

    threads = [threading.Thread(target=load) for _ in range(6)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert answers and all(code == 200 for _, code in answers), {code for _, code in answers}
    with connected(postgres.uri, autocommit=True) as conn:
        recorded = {
            row[0]
            for row in fetch_all(
                conn,
                "SELECT order_number FROM withdrawals w JOIN users u ON u.id = w.user_id WHERE u.login = 'sigterm'",
            )
        }
        row = fetch_one(conn, "SELECT current, withdrawn FROM users WHERE login = 'sigterm'")
        assert row is not None
        current, withdrawn = row
    # Every 200 was committed, and every committed withdrawal got its answer: no request the
    # server had taken was dropped (a request refused or cut before it was read is in neither).
    assert {number for number, _ in answers} == recorded
    assert withdrawn == len(recorded) and current == 1000 - len(recorded)  # and nothing half-written
    ledger_is_exact(postgres.uri)
