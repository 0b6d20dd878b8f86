"""Pipeline benchmark: how fast handed-in orders reach a final status.

Starts the real processes (gophermart web, worker and beat; the bundled accrual
simulator) against PostgreSQL and Redis, registers N orders at the simulator, hands them
all in, and reports:

- limited: the drain rate (orders finalised per second) as a share of the simulator's
  allowed requests per second, the accrual requests spent per order, the 429s, and the
  requests that arrived inside an announced pause;
- unlimited: orders finalised per second and the median upload-to-PROCESSED time minus
  the simulator's calculation time.

    .venv/bin/python bench/pipeline_drain.py --orders 1000 --limit 300 --window 30

PostgreSQL and Redis are reached as in the test suite (BENCH_DATABASE_ADMIN_URI,
BENCH_REDIS_URL); the benchmark makes and drops a database of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REDIS_URL, free_port, fresh_database, luhn, machine, stop, wait_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "gophermart_bench"


@contextmanager
def running_stack(calc: float, limit: int, window: float, workers: int, logs: Path):
    database = fresh_database(DB_NAME)
    sim_port, web_port = free_port(), free_port()
    env = dict(
        os.environ, DATABASE_URI=database, REDIS_URL=REDIS_URL, INSTANCE_DIR=str(logs / "instance"),
        ACCRUAL_SYSTEM_ADDRESS=f"http://127.0.0.1:{sim_port}", LOG_LEVEL="INFO", LOG_FORMAT="json",
        WORKER_CONCURRENCY=str(workers), PASSWORD_HASH_COST="low",
    )
    commands = {
        "simulator": [sys.executable, "-m", "accrual_sim", "-a", f"127.0.0.1:{sim_port}", "--calc-time", str(calc),
                      "--rate-limit", str(limit), "--rate-window", str(window), "--log-level", "WARNING"],
        "migrate": [sys.executable, "-m", "gophermart", "migrate"],
    }
    subprocess.run(commands["migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    processes = {}
    try:
        for role, command in [("simulator", commands["simulator"]),
                              ("worker", [sys.executable, "-m", "gophermart", "worker"]),
                              ("beat", [sys.executable, "-m", "gophermart", "beat"]),
                              ("web", [sys.executable, "-m", "gophermart", "web", "--skip-migrations",
                                       "-a", f"127.0.0.1:{web_port}"])]:
            out = open(logs / f"{role}.log", "wb")
            processes[role] = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                               start_new_session=True, cwd=ROOT)
        wait_port(sim_port)
        wait_port(web_port)
        time.sleep(2)  # let the worker connect
        yield f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{sim_port}"
    finally:
        stop(processes.values())


def drain(orders: int, calc: float, limit: int, window: float, workers: int) -> dict:
    logs = Path(tempfile.mkdtemp(prefix="gophermart-bench-"))
    with running_stack(calc, limit, window, workers, logs) as (api, sim):
        http = requests.Session()
        http.post(f"{sim}/api/goods", json={"match": "Bork", "reward": 10, "reward_type": "%"})
        numbers = [luhn(f"{7_000_000 + i}") for i in range(orders)]
        for number in numbers:
            http.post(f"{sim}/api/orders", json={"order": number, "goods": [{"description": "Bork", "price": 100}]})
        token = http.post(f"{api}/api/user/register", json={"login": "bench", "password": "pw"}).headers["Authorization"]
        http.post(f"{sim}/admin/reset")
        headers = {"Authorization": token}
        uploaded: dict[str, float] = {}
        started = time.monotonic()

        def hand_in(number):
            code = requests.post(f"{api}/api/user/orders", data=number, headers=headers).status_code
            uploaded[number] = time.monotonic()
            return code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(hand_in, numbers)) == {202}
        finished: dict[str, float] = {}
        last_report = 0.0
        while len(finished) < orders:
            body = http.get(f"{api}/api/user/orders", headers=headers).json()
            now = time.monotonic()
            for order in body:
                if order["status"] in ("PROCESSED", "INVALID") and order["number"] not in finished:
                    finished[order["number"]] = now
            if now - last_report > 5:
                print(f"  {len(finished)}/{orders} final after {now - started:.0f} s", file=sys.stderr)
                last_report = now
            if now - started > 1800:
                raise TimeoutError("orders not final after 30 minutes")
            time.sleep(0.1)
        elapsed = max(finished.values()) - started
        stats = http.get(f"{sim}/admin/stats").json()
    allowed = limit / window if limit else None
    latencies = [finished[n] - uploaded[n] for n in numbers]
    result = {
        "orders": orders,
        "calc_seconds": calc,
        "limit": f"{limit} per {window:g} s" if limit else "none",
        "seconds": round(elapsed, 1),
        "orders_per_second": round(orders / elapsed, 2),
        "requests_per_order": round(stats["order_gets"]["total"] / orders, 2),
        "responses_429": stats["rate_limited"],
        "requests_during_pause": stats["during_pause"],
        "median_latency_minus_calc": round(statistics.median(latencies) - calc, 2),
    }
    if allowed:
        result["drain_share_of_allowed_rate"] = round(orders / elapsed / allowed, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=300, help="simulator requests per window (0 = unlimited)")
    parser.add_argument("--window", type=float, default=30)
    parser.add_argument("--calc", type=float, default=1.0, help="simulator calculation time, seconds")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    result = drain(args.orders, args.calc, args.limit, args.window, args.workers)
    print(json.dumps({"machine": machine(), "result": result}, indent=2))


if __name__ == "__main__":
    main()
