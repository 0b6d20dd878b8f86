"""Fault tests run against servers of their own — PostgreSQL, Redis and the accrual
simulator — which they stop and start at will without disturbing the rest of the suite."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis as redis_lib

from tests.accrual_sim.helpers import start_simulator
from tests.e2e.conftest import Stack
from tests.operations.private_postgres import PrivatePostgres
from tests.processes import free_port, gophermart_command, service_env


class PrivateRedis:
    """A Redis without persistence, like the one this machine runs: a restart loses every
    queued message, and the service must not lose an order for it."""

    def __init__(self, port: int, folder: Path):
        self.port, self.folder, self.process = port, folder, None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--maxmemory-policy",
                "noeviction",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis_lib.Redis(port=self.port).ping():
                    return
            except redis_lib.ConnectionError:
                assert time.monotonic() < deadline, "private Redis did not start"
                time.sleep(0.05)

    def stop(self, subscribers_first: bool = False) -> None:
        """With `subscribers_first`, Redis drops its subscriber connections (Celery's
        broadcast and event channels) and then shuts down at once: a worker finds out
        through a subscriber while its queue read is still pending and Redis already gone."""
        if subscribers_first:
            with socket.create_connection(("127.0.0.1", self.port)) as conn:
                conn.sendall(b"CLIENT KILL TYPE pubsub\r\nSHUTDOWN NOSAVE\r\n")
                while conn.recv(1024):  # until Redis closes it on its way out
                    pass
        else:
            self.process.terminate()
        self.process.wait(timeout=10)


class Simulator:
    """The accrual simulator on a fixed port, so it can be stopped and started again (it
    forgets everything when stopped, as an in-memory store does)."""

    def __init__(self):
        self.running = start_simulator(["--calc-time", "1"])
        self.url = self.running.url
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        assert self.running.stop() == 0

    def start(self) -> None:
        self.running = start_simulator(["--calc-time", "1"], port=self.port)


@contextmanager
def outage(server, seconds: float, **stop_options):
    """`server` is down for the block and `seconds` after it; back up even if the block
    fails, so one failed test leaves the module's servers running for the next."""
    server.stop(**stop_options)
    try:
        yield
        time.sleep(seconds)
    finally:
        server.start()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Private PostgreSQL (with an empty database), Redis and accrual simulator."""
    postgres = PrivatePostgres(free_port()).init()
    postgres.start()
    redis = PrivateRedis(free_port(), tmp_path_factory.mktemp("redis"))
    redis.start()
    simulator = Simulator()
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
