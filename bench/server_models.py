"""gunicorn's worker models and sizes side by side: the service, the floor and the bare
endpoint under each, all up at once, the runs interleaved round by round.

    .venv/bin/python bench/server_models.py                      # the default set of models
    .venv/bin/python bench/server_models.py sync:4 gthread:4x4   # or the ones named
    .venv/bin/python bench/server_models.py --rounds 5 --seconds 4
    .venv/bin/python bench/server_models.py gthread:4x4 gthread:4x4+LOG_LEVEL=WARNING  # settings after +
    .venv/bin/python bench/server_models.py gthread:4x4 gthread:4x4@../base  # another checkout's service

Prints requests a second and p99 of each (model, endpoint), the median over the rounds,
and each as a share of the bare endpoint of the same model.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from api_load import servers_for, wrk
from common import fresh_database, migrate, prepare_users, service_env

from tests.support.processes import signed_up

DB_NAME = "bench_floor_models"
MODELS = ("sync:4", "sync:6", "gthread:4x4", "gthread:4x1", "gthread:2x4")


def model_settings(model: str) -> dict:
    """`kind:workers[xthreads]`, then any other settings as `+NAME=VALUE`, then `@PATH` for the
    service of another checkout (servers_for's `checkout`)."""
    model, _, checkout = model.partition("@")
    model, *others = model.split("+")
    kind, _, size = model.partition(":")
    workers, _, threads = size.partition("x")
    settings = {
        "WEB_WORKER_CLASS": kind,
        "WEB_WORKERS": workers,
        "WEB_THREADS": threads or "1",
        **dict(other.split("=", 1) for other in others),
    }
    return {**settings, "checkout": Path(checkout)} if checkout else settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "models",
        nargs="*",
        default=MODELS,
        help="kind:workers[xthreads][+NAME=VALUE...][@CHECKOUT], e.g. sync:4 gthread:4x4",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="gophermart-bench-models-"))
    database = fresh_database(DB_NAME)
    migrate(service_env(database, logs))
    results: dict[tuple[str, str], list[dict]] = {}
    with ExitStack() as stack:
        urls = {}
        for model in args.models:
            folder = logs / re.sub(r"[^\w.-]", "-", model)
            folder.mkdir()
            urls[model] = stack.enter_context(servers_for(database, folder, stack_floor=False, **model_settings(model)))
        first = urls[args.models[0]]
        tokens = prepare_users(lambda login, pw: signed_up(first["api"], login, pw).headers["Authorization"], database)
        floor_tokens = {m: requests.get(f"{u['floor']}/token/rich", timeout=10).text for m, u in urls.items()}
        for round_ in range(args.rounds):
            for model, url in urls.items():
                scenarios = {
                    "bare": (url["trivial"] + "/", "get.lua", {}),
                    "floor": (url["floor"] + "/api/user/balance", "get.lua", {"TOKEN": floor_tokens[model]}),
                    "balance": (url["api"] + "/api/user/balance", "get.lua", {"TOKEN": tokens["rich"]}),
                    "orders10": (url["api"] + "/api/user/orders", "get.lua", {"TOKEN": tokens["ten"]}),
                    "post": (
                        url["api"] + "/api/user/orders",
                        "post_number.lua",
                        {"TOKEN": tokens["uploader"], "KIND": "order"},
                    ),
                }
                for name, (target, script, env) in scenarios.items():
                    if round_ == 0:
                        wrk(target, args.connections, 1, script, **env)
                    row = wrk(target, args.connections, args.seconds, script, **env)
                    results.setdefault((model, name), []).append(row)
                    print(
                        f"round {round_ + 1} {model:30s} {name:9s} {row['rps']:7.0f} rps p99 {row['p99_ms']:6.1f} ms"
                        f" errors {row['errors']} {row['socket_errors'] or ''}"
                    )
    print(f"\nmedian of {args.rounds} rounds, {args.connections} connections; share of the same model's bare endpoint")
    for model in args.models:
        bare = statistics.median(r["rps"] for r in results[(model, "bare")])
        cells = []
        for name in ("bare", "floor", "balance", "orders10", "post"):
            rows = results[(model, name)]
            rps = statistics.median(r["rps"] for r in rows)
            p99 = statistics.median(r["p99_ms"] for r in rows)
            cells.append(f"{name} {rps:,.0f} ({rps / bare:.2f}, p99 {p99:.0f})")
        print(f"{model:30s} " + " | ".join(cells))


if __name__ == "__main__":
    main()
