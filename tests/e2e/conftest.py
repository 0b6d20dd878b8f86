"""End-to-end fixtures: the real processes (web, worker, beat) against PostgreSQL, Redis
and the bundled accrual simulator. The tests take `app` too: it empties the tables first."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import redis as redis_lib

from tests.pipeline.conftest import redis_url  # noqa: F401  (fixture)
from tests.processes import free_port, gophermart_command, service_env, signed_up, wait_for_port


@dataclass
class Stack:
    env: dict[str, str]
    port: int
    logs: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, role: str) -> None:
        args = ["web", "--skip-migrations", "-a", f"127.0.0.1:{self.port}"] if role == "web" else [role]
        # Own process group: killing a role kills all of it, like a container or host dying.
        with open(self.logs / f"{role}.log", "ab") as log:  # the child keeps its own copy
            self.processes[role] = subprocess.Popen(
                gophermart_command(*args), env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        if role == "web":
            wait_for_port(self.port, self.processes[role])

    def start_all(self) -> None:
        for role in ("worker", "beat", "web"):  # web last: it is up when this returns
            self.start(role)

    def kill(self, role: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(role)
        group = psutil.Process(process.pid).children(recursive=True)
        if sig == signal.SIGKILL:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
        process.wait(timeout=30)
        # Its children too: a dying gunicorn worker still holds the listening socket.
        _, alive = psutil.wait_procs(group, timeout=30)
        assert not alive, f"{role}'s children outlived it: {alive}"

    def stop_all(self) -> None:
        for role in list(self.processes):
            self.kill(role, signal.SIGTERM)

    def output(self, role: str) -> str:
        return (self.logs / f"{role}.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def stack(database_uri, redis_url, simulator, tmp_path_factory):  # noqa: F811
    redis_lib.Redis.from_url(redis_url).flushdb()
    logs = tmp_path_factory.mktemp("stack-logs")
    env = service_env(
        database_uri,
        tmp_path_factory.mktemp("stack-instance"),
        REDIS_URL=redis_url,
        ACCRUAL_SYSTEM_ADDRESS=simulator.url,
        LOG_LEVEL="INFO",
        WORKER_CONCURRENCY="4",
    )
    running = Stack(env=env, port=free_port(), logs=logs)
    running.start_all()
    yield running
    running.stop_all()


class Shopper:
    """A registered user of the live API."""

    def __init__(self, base: str, login: str):
        self.base = base
        self.http = signed_up(base, login)

    def hand_in(self, number: str) -> int:
        return self.http.post(f"{self.base}/api/user/orders", data=number, timeout=5).status_code

    def orders(self) -> dict[str, dict]:
        response = self.http.get(f"{self.base}/api/user/orders", timeout=1)
        return {} if response.status_code == 204 else {o["number"]: o for o in response.json()}

    def balance(self) -> dict:
        return self.http.get(f"{self.base}/api/user/balance", timeout=1).json()

    def wait_final(self, numbers: list[str], timeout: float) -> dict[str, dict]:
        deadline = time.monotonic() + timeout
        while True:
            orders = self.orders()
            if all(orders.get(n, {}).get("status") in ("PROCESSED", "INVALID") for n in numbers):
                return orders
            if time.monotonic() > deadline:
                pending = {
                    n: orders.get(n, {}).get("status")
                    for n in numbers
                    if orders.get(n, {}).get("status") not in ("PROCESSED", "INVALID")
                }
                raise AssertionError(f"{len(pending)} orders not final after {timeout} s: {list(pending.items())[:5]}")
            time.sleep(0.2)
