"""In-process cost of the hot paths: milliseconds per request through the Flask test client.

No HTTP server and no load generator in the way: what is left is the service's own work
per request (the Flask stack and its extensions, authentication, the queries, building
the answer). The app is made as `gophermart web` makes it (Prometheus multi-process mode,
JSON request logs at INFO, written to nowhere) against a fresh PostgreSQL database and
Redis, with the data of the API benchmark.

    .venv/bin/python bench/profile_paths.py                    # ms per request, each path
    .venv/bin/python bench/profile_paths.py --profile balance  # and a pyinstrument profile

`--profile` needs pyinstrument in the virtualenv (`pip install pyinstrument`); it is a
developer tool, not a dependency of the project.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import REDIS_URL, fresh_database, luhn, prepare_users

from tests.support.database import test_settings

DB_NAME = os.environ.get("BENCH_PROFILE_DATABASE", "gophermart_bench_profile")


def make_app():
    # As under gunicorn: prometheus_client reads this when first imported.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gophermart-prom-")
    from flask_migrate import upgrade

    from gophermart import create_app
    from gophermart.extensions import db
    from gophermart.logging import configure_logging

    database = fresh_database(DB_NAME)
    instance = Path(tempfile.mkdtemp(prefix="gophermart-instance-"))
    settings = test_settings(database, instance, redis_url=REDIS_URL, accrual_system_address="http://127.0.0.1:9")
    configure_logging("INFO", "json")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115  (open for the process's life: formatted, then dropped)
    app = create_app(settings)
    with app.app_context():
        upgrade()
        db.session.remove()
    return app, database


def prepare(app, database: str) -> dict[str, str]:
    """The benchmark's users, registered through the test client, and their data; their tokens."""
    client = app.test_client()

    def register(login: str, password: str) -> str:
        response = client.post("/api/user/register", json={"login": login, "password": password})
        assert response.status_code == 200, response.data
        return response.headers["Authorization"]

    return prepare_users(register, database)


def scenarios(tokens: dict[str, str]) -> dict:
    """name -> (method, path, token, body maker or None, expected status)."""
    counter = itertools.count()
    prefix = str(int(time.time()))[-8:]

    def new_number():
        return luhn(f"9{prefix}{next(counter):08d}")

    return {
        "healthz": ("GET", "/healthz", None, None, 200),
        "balance": ("GET", "/api/user/balance", tokens["rich"], None, 200),
        "orders10": ("GET", "/api/user/orders", tokens["ten"], None, 200),
        "orders1000": ("GET", "/api/user/orders", tokens["thousand"], None, 200),
        "post_order": ("POST", "/api/user/orders", tokens["uploader"], lambda: {"data": new_number()}, 202),
        "withdraw": (
            "POST",
            "/api/user/balance/withdraw",
            tokens["rich"],
            lambda: {"json": {"order": new_number(), "sum": 0.01}},
            200,
        ),
    }


def run(client, spec, count: int, rounds: int = 1) -> tuple[float, float]:
    """Seconds per request, wall-clock and this process's CPU time: the fastest of `rounds`
    rounds of `count` requests each (after a few to warm up). The fastest round is the one
    other load on the machine disturbed least; the CPU time leaves out the database's share
    and waiting, and is the steadier figure on a busy machine."""
    method, path, token, body, expected = spec
    headers = {"Authorization": token} if token else {}

    def once():
        response = client.open(path, method=method, headers=headers, **(body() if body else {}))
        assert response.status_code == expected, (path, response.status_code, response.data[:200])
        response.close()

    for _ in range(min(20, count)):
        once()
    wall = cpu = float("inf")
    for _ in range(rounds):
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(count):
            once()
        wall = min(wall, (time.perf_counter() - started) / count)
        cpu = min(cpu, (time.process_time() - cpu_started) / count)
    return wall, cpu


PATHS = ("healthz", "balance", "orders10", "orders1000", "post_order", "withdraw")


def count_for(name: str, count: int) -> int:
    """Requests per round: a tenth for the 1000-order list, which costs ten times as much."""
    return max(2, count // 10) if name == "orders1000" else count


def setup():
    """The app with the benchmark's data, its test client, and the paths to run."""
    app, database = make_app()
    return app.test_client(), scenarios(prepare(app, database))


def measure(count: int = 200, rounds: int = 5, progress=print) -> dict[str, dict[str, float]]:
    """Milliseconds per request of each path, in-process: {"wall_ms", "cpu_ms"} (the
    fastest of `rounds` rounds of `count` requests, see `count_for`)."""
    client, specs = setup()
    results = {}
    for name in PATHS:
        wall, cpu = run(client, specs[name], count_for(name, count), rounds)
        results[name] = {"wall_ms": round(wall * 1000, 3), "cpu_ms": round(cpu * 1000, 3)}
        progress(f"  in-process {name:12s} {wall * 1000:7.2f} ms/request wall, {cpu * 1000:6.2f} ms CPU")
    from gophermart.extensions import db

    with client.application.app_context():
        db.engine.dispose()  # its connections would stay open through the benchmarks that follow
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=PATHS, help="profile this path with pyinstrument and print the call tree")
    parser.add_argument("--count", type=int, default=200, help="requests per round and path (orders1000: a tenth)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per path; the fastest counts")
    args = parser.parse_args()
    if not args.profile:
        measure(args.count, args.rounds)
        return
    from pyinstrument import Profiler

    client, specs = setup()
    spec = specs[args.profile]
    profiler = Profiler(interval=0.0002)
    profiler.start()
    wall, _ = run(client, spec, count_for(args.profile, args.count))
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    print(f"{args.profile}: {wall * 1000:.2f} ms/request (under the profiler)")


if __name__ == "__main__":
    main()
