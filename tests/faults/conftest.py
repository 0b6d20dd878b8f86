"""Fault tests run against servers of their own — PostgreSQL, Redis and the accrual
simulator — which they stop and start at will without disturbing the rest of the suite."""

from __future__ import annotations

import subprocess
import threading

import pytest

from tests.support.private_postgres import PrivatePostgres
from tests.support.processes import free_port, gophermart_command, service_env
from tests.support.stacks import PrivateRedis, RestartableSimulator, Stack


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Private PostgreSQL (with an empty database), Redis and accrual simulator."""
    postgres = PrivatePostgres(free_port()).init()
    postgres.start()
    redis = PrivateRedis(free_port(), tmp_path_factory.mktemp("redis"))
    redis.start()
    simulator = RestartableSimulator()
    try:
        yield postgres, redis, simulator
    finally:
        simulator.running.stop()
        redis.stop()
        postgres.destroy()


@pytest.fixture(scope="module")
def fault_stack(servers, tmp_path_factory):
    """web, worker and beat against the private servers."""
    postgres, redis, simulator = servers
    env = service_env(
        postgres.uri,
        tmp_path_factory.mktemp("fault-instance"),
        REDIS_URL=redis.url,
        ACCRUAL_SYSTEM_ADDRESS=simulator.url,
        LOG_LEVEL="INFO",
    )
    stack = Stack(env=env, port=free_port(), logs=tmp_path_factory.mktemp("fault-logs"))
    subprocess.run(gophermart_command("migrate"), env=env, check=True)
    stack.start_all()
    # Restart a role that dies, as the all-in-one supervisor or compose's restart policy
    # does (a worker should not: test_worker_rides_out_a_redis_outage checks it survives).
    watching = threading.Event()

    def restart_dead_roles():
        while not watching.wait(0.5):
            for role, process in list(stack.processes.items()):
                if process.poll() is not None and role != "web":
                    stack.start(role)

    watchdog = threading.Thread(target=restart_dead_roles, daemon=True)
    watchdog.start()
    yield stack
    watching.set()
    watchdog.join()
    stack.stop_all()
