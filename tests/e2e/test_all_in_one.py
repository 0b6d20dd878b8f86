"""How the public autotest runs the service: one executable, no arguments, only
RUN_ADDRESS, DATABASE_URI (an empty database) and ACCRUAL_SYSTEM_ADDRESS set, no Redis."""

import signal
import sys
import time
from decimal import Decimal
from pathlib import Path

import psutil
import pytest

from tests.support.processes import free_port, service_env, serving
from tests.support.simulator import new_order_number, register_at_simulator
from tests.support.stacks import Shopper


@pytest.fixture
def empty_database(make_database):
    return make_database("aio")


def test_one_executable_serves_the_whole_story_and_stops_on_sigint(empty_database, sim, tmp_path):
    port = free_port()
    env = service_env(empty_database, tmp_path, RUN_ADDRESS=f"127.0.0.1:{port}", ACCRUAL_SYSTEM_ADDRESS=sim.url)
    started = time.monotonic()
    executable = [str(Path(sys.executable).with_name("gophermart"))]
    with serving(executable, env, port, timeout=40, cwd=tmp_path) as process:  # slack: the next line is the check
        assert time.monotonic() - started < 20, f"up after {time.monotonic() - started:.1f} s"
        number = new_order_number()
        register_at_simulator(
            sim,
            number,
            [{"description": "TV Acme", "price": Decimal("14599.50")}],
            [{"match": "Acme", "reward": 5, "reward_type": "%"}],
        )
        shopper = Shopper(f"http://127.0.0.1:{port}", "autotest")
        assert shopper.hand_in(number) == 202
        order = shopper.wait_final([number], timeout=20)[number]
        assert order == {**order, "status": "PROCESSED", "accrual": 729.98}
        assert shopper.balance() == {"current": 729.98, "withdrawn": 0}
        family = psutil.Process(process.pid).children(recursive=True)
        assert len(family) >= 3  # web, worker and beat at least
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        gone, alive = psutil.wait_procs(family, timeout=5)
        assert not alive, f"left behind: {alive}"
