"""What the benchmarks share: the service's environment, a fresh database, the users and
their data, processes started and stopped (the tests' helpers), the machine's facts."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Callable, Mapping
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' support package
from gophermart.luhn import with_check_digit as luhn
from tests.support.database import connected, recreate_database
from tests.support.processes import gophermart_command, serving

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URI = os.environ.get("BENCH_DATABASE_ADMIN_URI", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
GOPHERMART = gophermart_command()


def service_env(database: str, logs: Path, **settings: str) -> dict[str, str]:
    """The environment the service's processes run with: this one's, on the benchmark's
    database and Redis, JSON logs at INFO, then `settings` over all that. Never this process's metrics
    folder (the in-process profile sets one): each service process makes its own."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        DATABASE_URI=database,
        REDIS_URL=REDIS_URL,
        INSTANCE_DIR=str(logs / "instance"),
        LOG_LEVEL="INFO",
        LOG_FORMAT="json",
    )
    env.update(settings)  # the log settings too, for a side by side of them
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run([*GOPHERMART, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)


def fresh_database(name: str) -> str:
    """Drop and create `name`; returns its URI. Redis' benchmark database is emptied too."""
    uri = recreate_database(name, ADMIN_URI)
    redis.Redis.from_url(REDIS_URL).flushdb()
    return uri


BENCH_USERS = ("ten", "thousand", "rich", "uploader")
BENCH_PASSWORD = "bench-pw"


def prepare_users(register: Callable[[str, str], str], database: str) -> dict[str, str]:
    """BENCH_USERS registered through `register(login, password)`, which returns the user's
    bearer header, then the data they read filled in; {login: bearer header}."""
    tokens = {login: register(login, BENCH_PASSWORD) for login in BENCH_USERS}
    fill_benchmark_data(database)
    return tokens


def fill_benchmark_data(database: str) -> None:
    """The data the API benchmarks read, once BENCH_USERS are registered: 'ten' and
    'thousand' get that many processed orders, 'rich' a balance to withdraw from all run
    long ('uploader' hands in new orders)."""
    with connected(database) as conn, conn.cursor() as cur:
        cur.execute("SELECT login, id FROM users")
        users = dict(cur.fetchall())
        for login, count in (("ten", 10), ("thousand", 1000)):
            cur.executemany(
                "INSERT INTO orders (number, user_id, status, accrual, uploaded_at, updated_at, next_check_at)"
                " VALUES (%s, %s, 'PROCESSED', 12.5, now() - %s * interval '1 second', now(), now())",
                [(luhn(f"{users[login]}{i:06d}"), users[login], i) for i in range(count)],
            )
        cur.execute("UPDATE users SET current = %s WHERE login = 'rich'", (Decimal("9999999999"),))
        cur.execute("ANALYZE")


@contextmanager
def started(commands: dict[str, list[str]], env: dict, logs: Path, ports: Mapping[str, int] | None = None):
    """The commands running (each in a session of its own, its output in logs/<name>.log),
    each one named in `ports` once its port answers; all stopped on leaving, the last
    started first, whatever happened."""
    with ExitStack() as running:
        for name, command in commands.items():
            with open(logs / f"{name}.log", "wb") as out:  # the child keeps its own copy
                running.enter_context(
                    serving(
                        command,
                        env,
                        (ports or {}).get(name),
                        timeout=30,
                        cwd=ROOT,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        yield


def machine() -> dict:
    with connected(ADMIN_URI) as conn, conn.cursor() as cur:
        cur.execute("SHOW server_version")
        pg = cur.fetchone()[0]
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
