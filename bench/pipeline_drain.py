"""Pipeline benchmark: how fast handed-in orders reach a final status.

Starts the real processes (gophermart web, worker and beat; the bundled accrual
simulator) against PostgreSQL and Redis, hands N orders in (all at once from 8 clients,
or --pace per second), each registered at the simulator just before, watches
`GET /api/user/orders` from the start, and reports:

- limited: the drain rate (orders finalised per second) as a share of the simulator's
  allowed requests per second, the accrual requests spent per order, the 429s, the
  pauses and the requests sent into an announced pause (from the workers' logs);
- unlimited: orders finalised per second and the median upload-to-PROCESSED time minus
  the simulator's calculation time;
- every run: the service's CPU per order from the first hand-in until every order is final
  (user + system time of the web, worker and beat process trees, from their own accounting).

    .venv/bin/python bench/pipeline_drain.py --orders 1000 --limit 300 --window 30
    .venv/bin/python bench/pipeline_drain.py --orders 1000 --limit 0 --pace 50

PostgreSQL and Redis are reached as in the test suite (BENCH_DATABASE_ADMIN_URI,
BENCH_REDIS_URL); the benchmark makes and drops a database of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import GOPHERMART, connected, fresh_database, luhn, machine, migrate, service_env, started

from tests.support.processes import free_port

HERE = Path(__file__).resolve().parent
DB_NAME = os.environ.get("BENCH_PIPELINE_DATABASE", "gophermart_bench")
ROLES = ("web", "worker", "beat")  # the service's processes; the simulator is the outside world
FLOOR_ROLES = {"floor_server.py": "web", "pipeline_floor.py": "worker"}  # the floor's (--floor)
FINAL = "SELECT number FROM orders WHERE status IN ('PROCESSED', 'INVALID')"


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    # children_*: pool processes that exited and were waited for still count.
    return times.user + times.system + times.children_user + times.children_system


def _role_of(command: list[str]) -> str | None:
    """The service's role a process of the benchmark plays ([python, -m, gophermart, role, …]),
    or the floor's process standing for it; None for the simulator."""
    if command[1:3] == ["-m", "gophermart"] and len(command) > 3:
        return command[3] if command[3] in ROLES else None
    return FLOOR_ROLES.get(Path(command[1]).name) if len(command) > 1 else None


def service_cpu() -> dict[str, dict[str, float]]:
    """CPU seconds so far of each role's process tree, split into its first process and the
    processes it started (gunicorn's workers, Celery's pool)."""
    found: dict[str, dict[str, float]] = {}
    for child in psutil.Process().children():
        try:
            role = _role_of(child.cmdline())
            if role is None:
                continue
            found[role] = {
                "main": _cpu_seconds(child),
                "children": sum(_cpu_seconds(p) for p in child.children(recursive=True)),
            }
        except psutil.Error:
            continue
    return found


def cpu_spent(before: dict, after: dict) -> dict[str, dict[str, float]]:
    return {
        role: {part: round(after[role][part] - before.get(role, {}).get(part, 0.0), 3) for part in after[role]}
        for role in after
    }


def _simulator(port: int, calc: float, limit: int, window: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "accrual_sim",
        "-a",
        f"127.0.0.1:{port}",
        "--calc-time",
        str(calc),
        "--rate-limit",
        str(limit),
        "--rate-window",
        str(window),
        "--log-level",
        "WARNING",
    ]


def _migrated(logs: Path, sim_port: int, **settings: str) -> tuple[str, dict[str, str]]:
    """A fresh database with the service's schema, and the environment on it and the simulator."""
    database = fresh_database(DB_NAME)
    env = service_env(database, logs, ACCRUAL_SYSTEM_ADDRESS=f"http://127.0.0.1:{sim_port}", **settings)
    migrate(env)
    return database, env


@contextmanager
def running_stack(calc: float, limit: int, window: float, workers: int, logs: Path, **settings: str):
    """The service's web, worker and beat and the simulator: (API, simulator, database, a
    bearer header of the benchmark's user)."""
    sim_port, web_port = free_port(), free_port()
    database, env = _migrated(logs, sim_port, WORKER_CONCURRENCY=str(workers), PASSWORD_HASH_COST="low", **settings)
    commands = {
        "simulator": _simulator(sim_port, calc, limit, window),
        # BENCH_PROFILE_DIR: the worker runs under cProfile, its profiles written there.
        "worker": [sys.executable, str(HERE / "profile_worker.py"), "worker"]
        if os.environ.get("BENCH_PROFILE_DIR")
        else [*GOPHERMART, "worker"],
        "beat": [*GOPHERMART, "beat"],
        "web": [*GOPHERMART, "web", "--skip-migrations", "-a", f"127.0.0.1:{web_port}"],
    }
    with started(commands, env, logs, ports={"simulator": sim_port, "web": web_port}):
        time.sleep(2)  # let the worker connect
        api = f"http://127.0.0.1:{web_port}"
        token = requests.post(f"{api}/api/user/register", json={"login": "bench", "password": "pw"}, timeout=30)
        yield api, f"http://127.0.0.1:{sim_port}", database, token.headers["Authorization"]


@contextmanager
def running_floor(calc: float, limit: int, window: float, workers: int, logs: Path, **settings: str):
    """The pipeline's floor in the service's place (bench/floor_server.py `stack` and
    bench/pipeline_floor.py), on the service's schema, with the simulator: as running_stack."""
    sim_port, web_port = free_port(), free_port()
    database, env = _migrated(logs, sim_port, FLOOR_FIRST_CHECK_SECONDS=str(calc), **settings)
    with connected(database, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users (login, password_hash, created_at) VALUES ('bench', '-', now())")
    commands = {
        "simulator": _simulator(sim_port, calc, limit, window),
        "worker": [sys.executable, str(HERE / "pipeline_floor.py"), str(workers)],
        "web": [sys.executable, str(HERE / "floor_server.py"), "stack", "-a", f"127.0.0.1:{web_port}"],
    }
    with started(commands, env, logs, ports={"simulator": sim_port, "web": web_port}):
        time.sleep(2)  # let the worker connect
        api = f"http://127.0.0.1:{web_port}"
        yield api, f"http://127.0.0.1:{sim_port}", database, requests.get(f"{api}/token/bench", timeout=30).text


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def pauses_from_logs(worker_log: Path) -> dict:
    """What the workers did around each 429, from their JSON log lines.

    Every 429 a worker receives logs "pausing every worker" with the pause's end; the
    announcements that come while a pause is on belong to it (one episode). Every accrual
    call logs its outcome and duration when it returns, so it was sent `duration_ms`
    earlier. A request sent after an episode was announced and before it ended was sent
    into an announced pause (the service's fault); a 429 for a request sent before the
    announcement was already on its way when the first 429 came back.
    """
    calls, announcements = [], []
    for line in worker_log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == "accrual call":
            returned = _epoch(entry["ts"])
            calls.append((returned - entry["duration_ms"] / 1000, entry["outcome"]))
        elif entry.get("msg") == "accrual system rate limit: pausing every worker":
            announcements.append((_epoch(entry["ts"]), float(entry["pause_until"])))
    episodes: list[list[float]] = []  # [announced at, ends at]
    for announced, until in sorted(announcements):
        if episodes and announced < episodes[-1][1]:
            episodes[-1][1] = max(episodes[-1][1], until)
        else:
            episodes.append([announced, until])
    into_pause = sum(1 for sent, _ in calls if any(a <= sent < end for a, end in episodes))
    per_pause = [
        sum(
            1
            for sent, outcome in calls
            if outcome == "RateLimited" and (i == 0 or sent >= episodes[i - 1][1]) and sent < end
        )
        for i, (_, end) in enumerate(episodes)
    ]
    return {
        "pauses": len(episodes),
        "most_429s_in_one_pause": max(per_pause, default=0),
        "requests_sent_into_announced_pause": into_pause,
    }


def drain(
    orders: int,
    calc: float,
    limit: int,
    window: float,
    workers: int,
    pace: float | None = None,
    watch_api: bool = False,
    floor: bool = False,
    **settings: str,
) -> dict:
    """Hand in `orders` orders (all at once from 8 clients, or `pace` per second) and
    time them until every one is final; `settings`: more of the service's environment.
    `watch_api`: poll GET /api/user/orders instead of the database (its CPU then counts).
    `floor`: the pipeline's floor in the service's place (running_floor)."""
    logs = Path(tempfile.mkdtemp(prefix="gophermart-bench-"))
    stack = running_floor if floor else running_stack
    with stack(calc, limit, window, workers, logs, **settings) as (api, sim, database, token):
        http = requests.Session()
        http.post(f"{sim}/api/goods", json={"match": "Bork", "reward": 10, "reward_type": "%"})
        numbers = [luhn(f"{7_000_000 + i}") for i in range(orders)]
        http.post(f"{sim}/admin/reset")
        headers = {"Authorization": token}
        uploaded: dict[str, float] = {}
        # One keep-alive session per client thread, as a shop's app would hold: a new TCP
        # connection per request would cost the shared cores more than the requests do.
        clients = threading.local()

        def hand_in(indexed):
            # The purchase reaches the accrual system just before the order is handed in, so
            # its calculation starts at the upload: latency minus calculation time is then
            # the service's own share.
            index, number = indexed
            if pace:
                time.sleep(max(0.0, started + index / pace - time.monotonic()))
            if not hasattr(clients, "http"):
                clients.http = requests.Session()
            registered = clients.http.post(
                f"{sim}/api/orders", json={"order": number, "goods": [{"description": "Bork", "price": 100}]}
            )
            assert registered.status_code == 202, registered.text
            code = clients.http.post(f"{api}/api/user/orders", data=number, headers=headers).status_code
            uploaded[number] = time.monotonic()
            return code

        # The orders are watched from the start, so one final during the hand-in is seen then.
        # They are watched in the database (what GET /api/user/orders would show), so that the
        # service's CPU is the hand-ins' and the checks' alone, not the benchmark's polling.
        finished: dict[str, float] = {}
        last_report = 0.0
        cpu_before = service_cpu()
        started = time.monotonic()
        with connected(database, autocommit=True) as watch, watch.cursor() as cur, ThreadPoolExecutor(8) as hand_ins:
            futures = [hand_ins.submit(hand_in, indexed) for indexed in enumerate(numbers)]
            while len(finished) < orders:
                for future in futures:  # a failed hand-in would never be final: fail now
                    if future.done() and (future.exception() or future.result() != 202):
                        raise RuntimeError(f"hand-in failed: {future.exception() or future.result()}")
                if watch_api:
                    response = http.get(f"{api}/api/user/orders", headers=headers)
                    now = time.monotonic()
                    final = [o["number"] for o in response.json() if o["status"] in ("PROCESSED", "INVALID")]
                else:
                    cur.execute(FINAL)
                    now = time.monotonic()
                    final = [number for (number,) in cur.fetchall()]
                for number in final:
                    finished.setdefault(number, now)
                if now - last_report > 5:
                    print(
                        f"  {len(uploaded)} handed in, {len(finished)}/{orders} final after {now - started:.0f} s",
                        file=sys.stderr,
                    )
                    last_report = now
                if now - started > 1800:
                    raise TimeoutError("orders not final after 30 minutes")
                time.sleep(0.1)
        cpu = cpu_spent(cpu_before, service_cpu())
        handed_in = max(uploaded.values()) - started
        elapsed = max(finished.values()) - started
        stats = http.get(f"{sim}/admin/stats").json()
    allowed = limit / window if limit else None
    latencies = [finished[n] - uploaded[n] for n in numbers]
    total_cpu = sum(sum(parts.values()) for parts in cpu.values())
    result = {
        "orders": orders,
        "calc_seconds": calc,
        "limit": f"{limit} per {window:g} s" if limit else "none",
        "hand_in": f"{pace:g} per second" if pace else "all at once",
        "hand_in_seconds": round(handed_in, 1),
        "seconds": round(elapsed, 1),
        "orders_per_second": round(orders / elapsed, 2),
        "requests_per_order": round(stats["order_gets"]["total"] / orders, 2),
        "responses_429": stats["rate_limited"],
        "requests_during_pause": stats["during_pause"],
        "median_latency_minus_calc": round(statistics.median(latencies) - calc, 2),
        "cpu_ms_per_order": round(total_cpu * 1000 / orders, 2),
        "cpu_seconds": cpu,
    }
    if allowed:
        result["drain_share_of_allowed_rate"] = round(orders / elapsed / allowed, 2)
    result.update(pauses_from_logs(logs / "worker.log"))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=300, help="simulator requests per window (0 = unlimited)")
    parser.add_argument("--window", type=float, default=30)
    parser.add_argument("--calc", type=float, default=1.0, help="simulator calculation time, seconds")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--pace", type=float, help="hand orders in at this many per second (default: all at once)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a setting of the service's environment"
    )
    parser.add_argument("--watch-api", action="store_true", help="poll the API for final orders, not the database")
    parser.add_argument("--floor", action="store_true", help="the pipeline's floor (bench/pipeline_floor.py) instead")
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.set)
    result = drain(
        args.orders, args.calc, args.limit, args.window, args.workers, args.pace, args.watch_api, args.floor, **settings
    )
    print(json.dumps({"machine": machine(), "result": result}, indent=2))


if __name__ == "__main__":
    main()
