"""The service's real processes in tests: a free port, their environment and command, waiting
for them to listen, stopping them with their children, and a user signed up over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import requests


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(database_uri: str, instance_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ACCRUAL_SYSTEM_ADDRESS", "SECRET_KEY")}
    env.update(
        DATABASE_URI=database_uri,
        INSTANCE_DIR=str(instance_dir),
        PASSWORD_HASH_COST="low",
        LOG_FORMAT="text",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def gophermart_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gophermart", *args]


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 20.0) -> None:
    """Until something listens on `port`; an error as soon as `process`, if given, exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {port} within {timeout} s")


def stop_tree(process: subprocess.Popen, grace: float = 30.0) -> None:
    """TERM a process; SIGKILL it, and whatever it started, if still up `grace` seconds
    later (its children are found first: the all-in-one run's live in sessions of their
    own and would outlive it)."""
    try:
        family = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for leftover in psutil.wait_procs(family, timeout=5)[1]:
        leftover.kill()


@contextmanager
def serving(
    command: list[str], env: dict[str, str], port: int | None, *, timeout: float = 20.0, **popen
) -> Iterator[subprocess.Popen]:
    """A service process, started and listening on `port` (None: one that listens nowhere,
    a worker); afterwards stopped (stop_tree) if the test has not stopped it."""
    process = subprocess.Popen(command, env=env, **popen)
    try:
        if port is not None:
            wait_for_port(port, process, timeout)
        yield process
    finally:
        if process.poll() is None:
            stop_tree(process)


def signed_up(base: str, login: str, password: str = "pw") -> requests.Session:
    """A user registered on a live server: a session sending their bearer token, no cookie."""
    session = requests.Session()
    response = session.post(f"{base}/api/user/register", json={"login": login, "password": password}, timeout=10)
    assert response.status_code == 200, response.text
    session.headers["Authorization"] = response.headers["Authorization"]
    session.cookies.clear()
    return session


@contextmanager
def live_web_server(database_uri: str, instance_dir: Path, **settings: str) -> Iterator[str]:
    """The real `gophermart web` on a free port, serving this database; yields its base URL."""
    port = free_port()
    with serving(
        gophermart_command("web", "-a", f"127.0.0.1:{port}"), service_env(database_uri, instance_dir, **settings), port
    ):
        yield f"http://127.0.0.1:{port}"
