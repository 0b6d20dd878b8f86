"""API benchmark: throughput and p50/p99 latency against concurrency, with wrk.

Starts `gophermart web` (gunicorn, the production settings) on PostgreSQL and Redis, and
the same gunicorn settings serving a trivial Flask endpoint (the ceiling) and the floor of
GET balance (bench/floor_server.py), prepares users and data, then drives every endpoint
with wrk from a separate process, the endpoints taking turns.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import (
    BENCH_PASSWORD,
    GOPHERMART,
    ROOT,
    fresh_database,
    migrate,
    prepare_users,
    service_env,
    started,
)

from tests.support.processes import free_port, signed_up

WRK = Path(__file__).resolve().parent / "wrk"
DB_NAME = "gophermart_bench_api"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}

# The endpoints measured, as the report names them.
TRIVIAL = "trivial endpoint (ceiling)"
FLOOR = "floor: bare Flask, signed token, one psycopg2 read"
FLOOR_ORDERS_10 = "floor: GET orders (10 orders)"
FLOOR_POST_ORDERS = "floor: POST orders"
STACK_FLOOR = "stack floor: GET balance"
STACK_FLOOR_ORDERS_10 = "stack floor: GET orders (10 orders)"
STACK_FLOOR_POST_ORDERS = "stack floor: POST orders"
BALANCE = "GET /api/user/balance"
ORDERS_10 = "GET /api/user/orders (10 orders)"
ORDERS_1000 = "GET /api/user/orders (1000 orders)"
POST_ORDERS = "POST /api/user/orders"
WITHDRAW = "POST /api/user/balance/withdraw"
LOGIN = "POST /api/user/login"


@contextmanager
def servers(logs: Path):
    """The service, the bare endpoint and the two floors, all with the service's defaults
    (JSON request logs at INFO included, written to a file), on a fresh database."""
    database = fresh_database(DB_NAME)
    migrate(service_env(database, logs))
    with servers_for(database, logs) as urls:
        yield urls, database


@contextmanager
def servers_for(database: str, logs: Path, stack_floor: bool = True, checkout: Path | None = None, **settings: str):
    """`gophermart web`, the bare endpoint and the floors (bench/floor_server.py; the stack
    floor unless told not) on a migrated `database`, each under the same gunicorn settings
    (the service's defaults, or `settings`); {"api", "trivial", "floor", "stack_floor": base URL}.
    With `checkout`, the service is that checkout's code (another commit, to compare with)."""
    # One key for every server on the database: a token signed by one is good on the others.
    env = service_env(database, logs, ACCRUAL_SYSTEM_ADDRESS="http://127.0.0.1:9", SECRET_KEY="bench", **settings)
    env.pop("PASSWORD_HASH_COST", None)  # production cost for the login benchmark
    web = GOPHERMART
    if checkout is not None:
        # Its packages ahead of this one's; -P keeps the working directory off the path.
        env["PYTHONPATH"] = str(checkout.resolve())
        web = [sys.executable, "-P", *GOPHERMART[1:]]
    ports = {"web": free_port(), "trivial": free_port(), "floor": free_port(), "stack_floor": free_port()}
    floor = [sys.executable, str(ROOT / "bench" / "floor_server.py")]
    commands = {
        "web": [*web, "web", "--skip-migrations", "-a", f"127.0.0.1:{ports['web']}"],
        "trivial": [sys.executable, str(ROOT / "bench" / "trivial_server.py"), "-a", f"127.0.0.1:{ports['trivial']}"],
        "floor": [*floor, "reference", "-a", f"127.0.0.1:{ports['floor']}"],
        "stack_floor": [*floor, "stack", "-a", f"127.0.0.1:{ports['stack_floor']}"],
    }
    if not stack_floor:
        del ports["stack_floor"], commands["stack_floor"]
    with started(commands, env, logs, ports=ports):
        yield {"api" if name == "web" else name: f"http://127.0.0.1:{port}" for name, port in ports.items()}


def prepare(api: str, database: str) -> dict[str, str]:
    """The benchmark's users, registered through the API, and their data; their tokens."""
    return prepare_users(lambda login, password: signed_up(api, login, password).headers["Authorization"], database)


def wrk(url: str, connections: int, seconds: int, script: str, **env: str) -> dict:
    command = [
        "wrk",
        "-t",
        str(min(2, connections)),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--latency",
        "-s",
        str(WRK / script),
        url,
    ]
    out = subprocess.run(command, env=dict(os.environ, **env), capture_output=True, text=True, check=True).stdout
    latency = {p: float(v) * _UNITS[u] for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rate is not None, f"wrk printed no rate: {out}"
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "connections": connections,
        "rps": float(rate.group(1)),
        "p50_ms": latency.get("50"),
        "p99_ms": latency.get("99"),
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else None,
    }


def load_average() -> float:
    """The machine's 1-minute load average: how busy it was (other work included)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def measure(concurrencies=(1, 8, 32, 64), seconds: int = 8, progress=print, repeats: int = 1, floors_at=32) -> dict:
    """{endpoint: [row per concurrency]}. Concurrency by concurrency, and within it round by
    round every endpoint in turn, the bare endpoint and the floors among them, so each share
    compares runs made close together and other work on the machine hits all alike; each
    endpoint gets a one-second warm-up that is not counted, then `repeats` runs of `seconds`,
    whose medians are kept (rate, p50 and p99 each; all runs' rates in `runs_rps`). The
    floors of GET orders and POST orders, and the stack floor, run at `floors_at`
    connections only, where the targets are judged; the floor of GET balance at all."""
    logs = Path(tempfile.mkdtemp(prefix="gophermart-bench-api-"))
    with servers(logs) as (urls, database):
        api, floor, stack = urls["api"], urls["floor"], urls["stack_floor"]
        tokens = prepare(api, database)
        floor_tokens = {
            login: requests.get(f"{floor}/token/{login}", timeout=10).text for login in ("rich", "ten", "uploader")
        }
        # Both floors sign with the same key: a floor token is good on either.
        balance, orders, post = "/api/user/balance", "/api/user/orders", "post_number.lua"
        scenarios = {
            TRIVIAL: (urls["trivial"] + "/", "get.lua", {}),
            FLOOR: (floor + balance, "get.lua", {"TOKEN": floor_tokens["rich"]}),
            FLOOR_ORDERS_10: (floor + orders, "get.lua", {"TOKEN": floor_tokens["ten"]}),
            FLOOR_POST_ORDERS: (floor + orders, post, {"TOKEN": floor_tokens["uploader"], "KIND": "order"}),
            STACK_FLOOR: (stack + balance, "get.lua", {"TOKEN": floor_tokens["rich"]}),
            STACK_FLOOR_ORDERS_10: (stack + orders, "get.lua", {"TOKEN": floor_tokens["ten"]}),
            STACK_FLOOR_POST_ORDERS: (stack + orders, post, {"TOKEN": floor_tokens["uploader"], "KIND": "order"}),
            BALANCE: (api + balance, "get.lua", {"TOKEN": tokens["rich"]}),
            ORDERS_10: (api + orders, "get.lua", {"TOKEN": tokens["ten"]}),
            ORDERS_1000: (api + orders, "get.lua", {"TOKEN": tokens["thousand"]}),
            POST_ORDERS: (api + orders, post, {"TOKEN": tokens["uploader"], "KIND": "order"}),
            WITHDRAW: (api + "/api/user/balance/withdraw", post, {"TOKEN": tokens["rich"], "KIND": "withdraw"}),
            LOGIN: (f"{api}/api/user/login", "login.lua", {"LOGIN": "ten", "PASSWORD": BENCH_PASSWORD}),
        }
        at_target_only = {
            FLOOR_ORDERS_10,
            FLOOR_POST_ORDERS,
            STACK_FLOOR,
            STACK_FLOOR_ORDERS_10,
            STACK_FLOOR_POST_ORDERS,
        }
        results: dict[str, list[dict]] = {name: [] for name in scenarios}
        for connections in concurrencies:
            now = {n: v for n, v in scenarios.items() if connections == floors_at or n not in at_target_only}
            runs: dict[str, list[dict]] = {name: [] for name in now}
            for url, script, env in now.values():
                wrk(url, connections, 1, script, **env)  # warm-up: connections, caches
            for _ in range(repeats):
                for name, (url, script, env) in now.items():
                    runs[name].append(wrk(url, connections, seconds, script, **env))
                    runs[name][-1]["load_average"] = load_average()
                    time.sleep(0.5)
            for name in now:
                row = median_row(runs[name])
                progress(
                    f"  c={connections:<3d} {name:36s} {row['rps']:8.1f} req/s  p50 {row['p50_ms']:7.1f} ms"
                    f"  p99 {row['p99_ms']:7.1f} ms  errors {row['errors']}  (load {row['load_average']:.1f})"
                )
                results[name].append(row)
    return results


def median_row(runs: list[dict]) -> dict:
    """One row for several runs: the median of each figure; errors added up."""
    row = dict(runs[-1])
    for key in ("rps", "p50_ms", "p99_ms", "load_average"):
        row[key] = statistics.median(run[key] for run in runs)
    row["errors"] = sum(run["errors"] for run in runs)
    row["socket_errors"] = next((run["socket_errors"] for run in runs if run["socket_errors"]), None)
    row["runs_rps"] = [run["rps"] for run in runs]
    return row
