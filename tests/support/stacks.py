"""Stacks of the service's real processes and the servers under them: web, worker and beat
started, killed and restarted by role; a shopper using the live API; a Redis and an accrual
simulator of a test's own that it may stop and start; an outage of any of them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import redis as redis_lib

from tests.support.processes import gophermart_command, signed_up, wait_for_port
from tests.support.simulator import start_simulator


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


class PrivateRedis:
    """A Redis without persistence, like the one this machine runs: a restart loses every
    queued message, and the service must not lose an order for it."""

    def __init__(self, port: int, folder: Path):
        self.port, self.folder = port, folder
        self.process: subprocess.Popen[bytes] | None = None

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
        assert self.process is not None, "private Redis not started"
        if subscribers_first:
            with socket.create_connection(("127.0.0.1", self.port)) as conn:
                conn.sendall(b"CLIENT KILL TYPE pubsub\r\nSHUTDOWN NOSAVE\r\n")
                while conn.recv(1024):  # until Redis closes it on its way out
                    pass
        else:
            self.process.terminate()
        self.process.wait(timeout=10)


class RestartableSimulator:
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
