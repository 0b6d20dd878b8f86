"""The public autotest's story and the other SPEC 4 paths, with every process real."""

import time
from decimal import Decimal

from tests.support.ledger import ledger_is_exact
from tests.support.simulator import new_order_number, register_at_simulator
from tests.support.stacks import Shopper


def test_autotest_story(stack, sim, app, database_uri):
    number = new_order_number()
    register_at_simulator(
        sim,
        number,
        [{"description": "TV Acme 4K", "price": Decimal("14599.50")}],
        [{"match": "Acme", "reward": 5, "reward_type": "%"}],
    )
    shopper = Shopper(stack.url, "autotest")
    assert shopper.hand_in(number) == 202
    order = shopper.wait_final([number], timeout=20)[number]
    assert order["status"] == "PROCESSED" and order["accrual"] == 729.98
    assert shopper.balance() == {"current": 729.98, "withdrawn": 0}
    spend = shopper.http.post(
        f"{stack.url}/api/user/balance/withdraw", json={"order": new_order_number(), "sum": 729.98}
    )
    assert spend.status_code == 200
    assert shopper.balance() == {"current": 0, "withdrawn": 729.98}
    assert len(shopper.http.get(f"{stack.url}/api/user/withdrawals").json()) == 1
    ledger_is_exact(database_uri)


def test_late_registered_invalid_and_rewardless_orders(stack, sim, app, database_uri):
    shopper = Shopper(stack.url, "paths")
    late, invalid, plain = new_order_number(), new_order_number(), new_order_number()
    register_at_simulator(sim, invalid, [])
    register_at_simulator(sim, plain, [{"description": "Plain kettle", "price": 100}])
    for number in (late, invalid, plain):
        assert shopper.hand_in(number) == 202
    # The late order is unknown to the accrual system: wait until the service was told so.
    deadline = time.monotonic() + 15
    while sim.stats()["requests"].get("GET /api/orders/{number}", {}).get("204", 0) == 0:
        assert time.monotonic() < deadline, "the late order was never asked about"
        time.sleep(0.1)
    assert shopper.orders()[late]["status"] == "NEW"
    register_at_simulator(
        sim,
        late,
        [{"description": "Bork kettle", "price": 1000}],
        [{"match": "Bork", "reward": 10, "reward_type": "%"}],
    )
    orders = shopper.wait_final([late, invalid, plain], timeout=30)
    assert orders[late]["status"] == "PROCESSED" and orders[late]["accrual"] == 100
    assert orders[invalid] == {k: v for k, v in orders[invalid].items() if k != "accrual"}
    assert orders[invalid]["status"] == "INVALID" and "accrual" not in orders[invalid]
    assert orders[plain]["status"] == "PROCESSED" and "accrual" not in orders[plain]
    assert shopper.balance() == {"current": 100, "withdrawn": 0}
    ledger_is_exact(database_uri)
