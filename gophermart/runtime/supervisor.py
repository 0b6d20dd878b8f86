"""The all-in-one run: web, worker and beat (and the accrual simulator when no accrual
system is configured) as supervised child processes of `gophermart`.

A child that dies is restarted; SIGINT or SIGTERM stops them all gracefully (SIGTERM, then
SIGKILL for any still running after the grace period) and exits 0.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

GRACE_SECONDS = 12.0
RESTART_DELAY_SECONDS = 1.0


@dataclass
class Child:
    name: str
    command: list[str]
    _process: subprocess.Popen | None = None
    restarts: int = 0

    @property
    def process(self) -> subprocess.Popen:
        assert self._process is not None, "not started"
        return self._process

    @property
    def started(self) -> bool:
        return self._process is not None

    def start(self, env: dict[str, str]) -> None:
        # Own session: a terminal's Ctrl-C reaches the supervisor only, which then stops
        # every child in order; killpg also reaches a child's own children (worker pool).
        self._process = subprocess.Popen(self.command, env=env, start_new_session=True)
        log.info("started", extra={"role": self.name, "pid": self.process.pid})

    def terminate(self) -> None:
        """Graceful stop: the role's main process shuts its own children down."""
        if self.process.poll() is None:
            self.process.terminate()

    def kill_group(self) -> None:
        """Whatever is left of the role, its children included."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


def run_all(env: dict[str, str], children: list[Child]) -> int:
    stopping = False

    def request_stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        for child in children:
            child.start(env)
        while not stopping:
            time.sleep(0.2)
            for child in children:
                code = child.process.poll()
                if code is not None and not stopping:
                    child.restarts += 1
                    log.error(
                        "exited; restarting", extra={"role": child.name, "code": code, "restarts": child.restarts}
                    )
                    time.sleep(RESTART_DELAY_SECONDS)
                    child.start(env)
    finally:
        stop_all(children)
    return 0


def stop_all(children: list[Child]) -> None:
    log.info("stopping", extra={"roles": [c.name for c in children]})
    started = [c for c in children if c.started]
    for child in reversed(started):  # web first stops taking requests, then worker, beat
        child.terminate()
    deadline = time.monotonic() + GRACE_SECONDS
    for child in started:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("did not stop in time; killing", extra={"role": child.name})
        child.kill_group()  # no stray pool process left behind
        child.process.wait()
    log.info("stopped")


def all_in_one_children(with_simulator: str | None) -> list[Child]:
    children = []
    if with_simulator:
        children.append(Child("accrual-simulator", _python("accrual_sim", "-a", with_simulator, "--demo")))
    children += [
        Child("beat", _python("gophermart", "beat")),
        Child("worker", _python("gophermart", "worker")),
        Child("web", _python("gophermart", "web", "--skip-migrations")),
    ]
    return children
