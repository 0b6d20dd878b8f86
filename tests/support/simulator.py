"""The accrual simulator in tests: a fake clock, order numbers, a handle on a real
simulator subprocess, and purchases registered at it."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from gophermart.luhn import with_check_digit
from tests.support.processes import free_port

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
REQUEST_TIMEOUT = 10.0


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def console_script() -> str:
    path = Path(sys.executable).with_name("gophermart-accrual")
    assert path.exists(), f"console script missing next to the interpreter: {path}"
    return str(path)


def simulator_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without the simulator's own variables, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ACCRUAL_") and key not in ("RUN_ADDRESS", "LOG_LEVEL")
    }
    env.update(extra or {})
    return env


@dataclass
class RunningSimulator:
    url: str
    process: subprocess.Popen
    log_path: Path
    session: requests.Session = field(default_factory=requests.Session)
    stopped: bool = False

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return self.session.request(method, self.url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def stats(self) -> dict[str, Any]:
        response = self.get("/admin/stats")
        assert response.status_code == 200, response.text
        return response.json()

    def reset(self, state: bool = False) -> None:
        response = self.post("/admin/reset", json={"state": state})
        assert response.status_code == 200, response.text

    def configure(self, **knobs: Any) -> dict[str, Any]:
        response = self.post("/admin/config", json=knobs)
        assert response.status_code == 200, response.text
        return response.json()

    def stop(self, sig: int = signal.SIGINT, timeout: float = STOP_TIMEOUT) -> int:
        """Send ``sig`` and wait for the exit code (kills it after ``timeout``)."""
        self.session.close()
        if self.running:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"simulator did not stop within {timeout} s:\n{self.output()}") from None
        finally:
            self.stopped = True


def _wait_until_listening(sim: RunningSimulator, port: int, deadline: float) -> bool:
    """True once the simulator logged that it listens on ``port`` (so the port is its own)."""
    marker = f"listening on http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        if marker in sim.output():
            return True
        if not sim.running:
            return False
        time.sleep(0.05)
    return False


def start_simulator(
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    use_console_script: bool = False,
    attempts: int = 3,
    port: int | None = None,
) -> RunningSimulator:
    """Start the simulator on `port`, or on a free port (retrying when it got taken meanwhile)."""
    command = [console_script()] if use_console_script else [sys.executable, "-m", "accrual_sim"]
    last_output = ""
    fixed_port = port
    for _ in range(attempts):
        port = fixed_port or free_port()
        fd, name = tempfile.mkstemp(prefix="accrual-sim-", suffix=".log")
        with os.fdopen(fd, "wb") as log_file:
            process = subprocess.Popen(
                [*command, "-a", f"127.0.0.1:{port}", *args],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=simulator_env(env),
            )
        sim = RunningSimulator(url=f"http://127.0.0.1:{port}", process=process, log_path=Path(name))
        if _wait_until_listening(sim, port, time.monotonic() + STARTUP_TIMEOUT):
            return sim
        if process.poll() is None:
            process.kill()
        process.wait()
        last_output = sim.output()
        sim.log_path.unlink(missing_ok=True)
    raise AssertionError(f"simulator did not start:\n{last_output}")


def wait_for_final(sim: RunningSimulator, number: str, timeout: float = 15.0) -> dict[str, Any]:
    """Poll ``GET /api/orders/{number}`` until a final status; returns the body."""
    deadline = time.monotonic() + timeout
    while True:
        response = sim.get(f"/api/orders/{number}")
        assert response.status_code == 200, (response.status_code, response.text)
        body = response.json()
        if body["status"] in ("PROCESSED", "INVALID"):
            return body
        assert time.monotonic() < deadline, f"order {number} not final: {body}"
        time.sleep(0.05)


_numbers = itertools.count(int(time.time()) % 10**6 * 10**6)


def new_order_number() -> str:
    """A Luhn-valid order number not handed out before in this process."""
    return with_check_digit(str(next(_numbers)))


def register_at_simulator(sim, number: str, goods: list[dict] | None = None, mechanics: Sequence[dict] = ()) -> None:
    """A purchase the accrual system will calculate: its mechanics first, then the order."""
    register_purchases(sim, [number], goods, mechanics)


def register_purchases(
    sim, numbers: list[str], goods: list[dict] | None = None, mechanics: Sequence[dict] = ()
) -> None:
    """Purchases of the same goods, one per order number; the mechanics first, once."""
    for mechanic in mechanics:
        assert sim.post("/api/goods", json=mechanic).status_code in (200, 409)
    for number in numbers:
        response = sim.post("/api/orders", json={"order": number, "goods": goods if goods is not None else []})
        assert response.status_code == 202, response.text
