"""What the benchmarks share: ports, a fresh database, order numbers, the machine's facts."""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import contextmanager, suppress
from decimal import Decimal
from pathlib import Path

import psycopg
import redis

from gophermart.luhn import with_check_digit as luhn

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URI = os.environ.get("BENCH_DATABASE_ADMIN_URI", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
GOPHERMART = [sys.executable, "-m", "gophermart"]


def service_env(database: str, logs: Path, **settings: str) -> dict[str, str]:
    """The environment the service's processes run with: this one's, on the benchmark's
    database and Redis, JSON logs at INFO, plus `settings`. Never this process's metrics
    folder (the in-process profile sets one): each service process makes its own."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        DATABASE_URI=database,
        REDIS_URL=REDIS_URL,
        INSTANCE_DIR=str(logs / "instance"),
        LOG_LEVEL="INFO",
        LOG_FORMAT="json",
        **settings,
    )
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run([*GOPHERMART, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} not open")


def fresh_database(name: str) -> str:
    """Drop and create `name`; returns its URI. Redis' benchmark database is emptied too."""
    with psycopg.connect(ADMIN_URI, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    redis.Redis.from_url(REDIS_URL).flushdb()
    return ADMIN_URI.rsplit("/", 1)[0] + f"/{name}"


BENCH_USERS = ("ten", "thousand", "rich", "uploader")
BENCH_PASSWORD = "bench-pw"


def fill_benchmark_data(database: str) -> None:
    """The data the API benchmarks read, once BENCH_USERS are registered: 'ten' and
    'thousand' get that many processed orders, 'rich' a balance to withdraw from all run
    long ('uploader' hands in new orders)."""
    with psycopg.connect(database) as conn:
        users = dict(conn.execute("SELECT login, id FROM users").fetchall())
        for login, count in (("ten", 10), ("thousand", 1000)):
            conn.cursor().executemany(
                "INSERT INTO orders (number, user_id, status, accrual, uploaded_at, updated_at, next_check_at)"
                " VALUES (%s, %s, 'PROCESSED', 12.5, now() - %s * interval '1 second', now(), now())",
                [(luhn(f"{users[login]}{i:06d}"), users[login], i) for i in range(count)],
            )
        conn.execute("UPDATE users SET current = %s WHERE login = 'rich'", (Decimal("9999999999"),))
        conn.execute("ANALYZE")


@contextmanager
def started(commands: dict[str, list[str]], env: dict, logs: Path, ports: Sequence[int] = ()):
    """The commands running (each in a session of its own, its output in logs/<name>.log),
    once `ports` answer; all stopped on leaving, whatever happened."""
    processes = []
    try:
        for name, command in commands.items():
            with open(logs / f"{name}.log", "wb") as out:  # the child keeps its own copy
                processes.append(
                    subprocess.Popen(
                        command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
        for port in ports:
            wait_port(port)
        yield
    finally:
        stop(processes)


def stop(processes) -> None:
    for process in processes:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def machine() -> dict:
    with psycopg.connect(ADMIN_URI) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "postgresql": pg.split()[0],
        "redis": redis.Redis.from_url(REDIS_URL).info()["redis_version"],
        "os": f"{platform.system()} {platform.release()}",
    }
