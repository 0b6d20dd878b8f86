"""Run the benchmarks and write docs/BENCHMARKS.md with charts in docs/bench/.

    .venv/bin/python bench/run.py                 # everything, about eight minutes
    .venv/bin/python bench/run.py --quick         # short runs: a smoke check of the tooling
    .venv/bin/python bench/run.py --only api      # or: --only pipeline; --only report rewrites the report
    .venv/bin/python bench/run.py --only data     # the same figures on a small and a 2 million order database

The API benchmark drives every endpoint with wrk at several concurrencies against
`gophermart web` and against a trivial Flask endpoint under the same gunicorn settings
(the ceiling a Python service on this machine can reach), and measures each hot path's
cost in-process. The pipeline benchmarks start the whole stack (web, worker, beat, the
bundled accrual simulator) and measure how fast handed-in orders become final, against a
rate-limited and an unlimited simulator. Needs PostgreSQL and Redis as for the tests
(BENCH_DATABASE_ADMIN_URI, BENCH_REDIS_URL), wrk, and matplotlib (`pip install -e '.[bench]'`).

With --only, the part not run keeps its figures from the previous report (read back from
the raw results saved next to the charts), so the report always shows both parts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import api_load  # noqa: E402
import data_scale  # noqa: E402
import pipeline_drain  # noqa: E402
import profile_paths  # noqa: E402
from api_load import (  # noqa: E402
    BALANCE,
    FLOOR,
    FLOOR_ORDERS_10,
    FLOOR_POST_ORDERS,
    ORDERS_10,
    ORDERS_1000,
    POST_ORDERS,
    STACK_FLOOR,
    STACK_FLOOR_ORDERS_10,
    STACK_FLOOR_POST_ORDERS,
    TRIVIAL,
    WITHDRAW,
)

# Each throughput target's floors, measured in the same run: (reference floor, stack floor).
FLOORS = {
    BALANCE: (FLOOR, STACK_FLOOR),
    ORDERS_10: (FLOOR_ORDERS_10, STACK_FLOOR_ORDERS_10),
    POST_ORDERS: (FLOOR_POST_ORDERS, STACK_FLOOR_POST_ORDERS),
}
from common import machine  # noqa: E402

DOC = ROOT / "docs" / "BENCHMARKS.md"
CHARTS = ROOT / "docs" / "bench"
RAW = CHARTS / "results.json"
FINDINGS = HERE / "FINDINGS.md"

TARGET_CONNECTIONS = 32

FULL = {
    "concurrencies": (1, 8, 32, 64),
    "seconds": 4,
    "repeats": 3,
    "orders": 1000,
    "limit": 300,
    "window": 30.0,
    "calc": 1.0,
    "pace": 50.0,
    # The burst's CPU and wait swing from run to run on a shared machine: its targets are
    # judged on the median of this many runs.
    "burst_runs": 3,
    "profile_count": 200,
    "profile_rounds": 5,
}
# What the report keeps of every burst run (the all-at-once hand-in, unlimited simulator).
BURST_FIGURES = ("cpu_ms_per_order", "requests_per_order", "median_latency_minus_calc", "hand_in_seconds", "seconds")


# A smoke run: the same parts, shorter and smaller.
QUICK = {
    **FULL,
    "seconds": 2,
    "repeats": 1,
    "orders": 150,
    "limit": 50,
    "window": 10.0,
    "profile_count": 30,
    "profile_rounds": 2,
    "burst_runs": 1,
}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def service_settings() -> dict:
    """The service's settings in force for the benchmark (its defaults unless the
    environment overrides them)."""
    from config import load_settings

    settings = load_settings(argv=[])
    return {
        "web_workers": settings.web_workers,
        "web_threads": settings.web_threads,
        "web_worker_class": settings.web_worker_class,
        "db_pool_size": settings.db_pool_size,
        "worker_concurrency": settings.worker_concurrency,
    }


def run_api(plan: dict) -> dict:
    started = time.monotonic()
    progress("API: in-process cost of each hot path (Flask test client, no HTTP server)")
    in_process = profile_paths.measure(plan["profile_count"], plan["profile_rounds"], progress=progress)
    progress(
        f"API: wrk, {plan['repeats']} × {plan['seconds']} s per endpoint at concurrency {list(plan['concurrencies'])}"
    )
    rows = api_load.measure(plan["concurrencies"], plan["seconds"], progress=progress, repeats=plan["repeats"])
    progress(f"API: done in {time.monotonic() - started:.0f} s")
    return {
        "settings": service_settings(),
        "seconds": plan["seconds"],
        "repeats": plan["repeats"],
        "in_process": in_process,
        "endpoints": rows,
    }


def run_data(plan: dict) -> dict:
    started = time.monotonic()
    progress("Data: the same figures on a small and a large database")
    data = data_scale.measure(plan is QUICK, progress)
    progress(f"Data: done in {time.monotonic() - started:.0f} s")
    return data


def run_pipeline(plan: dict) -> dict:
    started = time.monotonic()
    workers = service_settings()["worker_concurrency"]
    progress(
        f"Pipeline: {plan['orders']} orders, simulator limited to {plan['limit']} per {plan['window']:g} s,"
        f" calculation {plan['calc']:g} s"
    )
    limited = pipeline_drain.drain(plan["orders"], plan["calc"], plan["limit"], plan["window"], workers)
    progress(f"  {json.dumps(limited)}")
    bursts: dict[bool, list[dict]] = {False: [], True: []}  # the service's runs, the floor's
    for run in range(plan["burst_runs"]):
        # The service and its floor take turns, each going first every other run.
        for floor in (False, True) if run % 2 == 0 else (True, False):
            progress(
                f"Pipeline{' floor' if floor else ''}: {plan['orders']} orders, unlimited simulator,"
                f" calculation {plan['calc']:g} s (run {run + 1} of {plan['burst_runs']})"
            )
            bursts[floor].append(
                pipeline_drain.drain(plan["orders"], plan["calc"], 0, plan["window"], workers, floor=floor)
            )
            progress(f"  {json.dumps(bursts[floor][-1])}")
    # The tables show the run of median CPU; the targets take each figure's median over all.
    unlimited, floor_unlimited = (
        sorted(runs, key=lambda burst: burst["cpu_ms_per_order"])[len(runs) // 2] for runs in bursts.values()
    )
    progress(f"Pipeline: {plan['orders']} orders handed in at {plan['pace']:g} per second, unlimited simulator")
    paced = pipeline_drain.drain(plan["orders"], plan["calc"], 0, plan["window"], workers, pace=plan["pace"])
    progress(f"  {json.dumps(paced)}")
    progress(f"Pipeline: done in {time.monotonic() - started:.0f} s")
    return {
        **{"limited": limited, "unlimited": unlimited, "paced": paced, "floor_unlimited": floor_unlimited},
        "bursts": [{key: burst[key] for key in BURST_FIGURES} for burst in bursts[False]],
        "floor_bursts": [{key: burst[key] for key in BURST_FIGURES} for burst in bursts[True]],
        **{"worker_concurrency": workers, "worker_pool": "threads"},
    }


# ---------------------------------------------------------------------------- report


def _row(rows: list[dict], connections: int) -> dict | None:
    return next((row for row in rows if row["connections"] == connections), None)


def share(endpoints: dict, name: str, connections: int) -> float | None:
    row, ceiling = _row(endpoints.get(name, []), connections), _row(endpoints.get(TRIVIAL, []), connections)
    if not row or not ceiling or not ceiling["rps"]:
        return None
    return row["rps"] / ceiling["rps"]


def share_target(endpoints: dict, name: str, label: str, least: float, c: int) -> tuple[str, str, bool | None]:
    """A throughput target as a share of the bare endpoint, its floors' shares beside it."""
    measured = share(endpoints, name, c)
    reference, stack = (share(endpoints, floor, c) for floor in FLOORS[name])
    beside = [
        f"{kind} {value:.2f}" for kind, value in (("floor", reference), ("stack floor", stack)) if value is not None
    ]
    return (
        f"{label} ≥ {least:g} of the bare endpoint's throughput at {c} connections",
        (f"{measured:.2f}" + (f" ({', '.join(beside)})" if beside else "")) if measured is not None else "not measured",
        None if measured is None else measured >= least,
    )


def targets(api: dict | None, pipeline: dict | None) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each target; met is None when not measured."""
    out: list[tuple[str, str, bool | None]] = []
    c = TARGET_CONNECTIONS
    endpoints = api["endpoints"] if api else {}
    for name, label, least in ((BALANCE, "GET balance", 0.45), (ORDERS_10, "GET orders (10 orders)", 0.35)):
        out.append(share_target(endpoints, name, label, least, c))
    balance, floor = _row(endpoints.get(BALANCE, []), c), _row(endpoints.get(FLOOR, []), c)
    out.append(
        (
            f"GET balance p99 < 50 ms at {c} connections",
            (f"{balance['p99_ms']:.1f} ms" + (f" (floor {floor['p99_ms']:.1f} ms)" if floor else ""))
            if balance
            else "not measured",
            None if not balance else balance["p99_ms"] < 50,
        )
    )
    out.append(share_target(endpoints, POST_ORDERS, "POST orders", 0.25, c))
    lists = endpoints.get(ORDERS_1000, [])
    for row in lists:
        out.append(
            (
                f"GET orders (1000 orders) p50 < 50 ms at {row['connections']} connection"
                f"{'s' if row['connections'] > 1 else ''}",
                f"{row['p50_ms']:.1f} ms",
                row["p50_ms"] < 50,
            )
        )
    if not lists:
        out.append(("GET orders (1000 orders) p50 < 50 ms", "not measured", None))
    limited = pipeline["limited"] if pipeline else None
    out.append(
        (
            "Pipeline drain ≥ 0.9 of the allowed rate (rate-limited simulator)",
            f"{limited['drain_share_of_allowed_rate']:.2f}" if limited else "not measured",
            None if not limited else limited["drain_share_of_allowed_rate"] >= 0.9,
        )
    )
    out.append(
        (
            "At most one 429 per pause (rate-limited simulator)",
            f"{limited['responses_429']} × 429 in {limited['pauses']} pause{'s' if limited['pauses'] != 1 else ''},"
            f" at most {limited['most_429s_in_one_pause']} in one; {limited['requests_sent_into_announced_pause']}"
            " requests sent into an announced pause"
            if limited
            else "not measured",
            None if not limited else limited["most_429s_in_one_pause"] <= 1,
        )
    )
    out.append(
        _burst_target(
            pipeline,
            "Unlimited simulator, orders all handed in at once: the service's CPU (web, worker, beat)"
            " ≤ 7 ms per order from hand-in to final",
            "cpu_ms_per_order",
            "{:.2f} ms",
            most=7.0,
        )
    )
    out.append(
        _burst_target(
            pipeline,
            "Unlimited simulator, orders all handed in at once: one accrual request per order",
            "requests_per_order",
            "{:g}",
            most=1.0,
        )
    )
    # Latency is judged where the stack keeps up with the hand-ins; the burst of all orders
    # at once is reported too: its median includes waiting in line behind the burst.
    paced = pipeline.get("paced") if pipeline else None
    out.append(
        (
            "Unlimited simulator, orders handed in at a steady pace: median upload-to-PROCESSED within 1 s"
            " of the calculation time",
            f"calculation + {paced['median_latency_minus_calc']:.2f} s" if paced else "not measured",
            None if not paced else paced["median_latency_minus_calc"] <= 1.0,
        )
    )
    out.append(
        _burst_target(
            pipeline,
            "Unlimited simulator, orders all handed in at once: median upload-to-PROCESSED within 1 s of the"
            " calculation time",
            "median_latency_minus_calc",
            "calculation + {:.2f} s",
            most=1.0,
        )
    )
    return out


def _burst_values(pipeline: dict | None, key: str, runs: str = "bursts") -> list[float]:
    """A figure of each burst run: the service's (`bursts`) or the floor's (`floor_bursts`)."""
    if not pipeline:
        return []
    bursts = pipeline.get(runs) or ([pipeline["unlimited"]] if runs == "bursts" and "unlimited" in pipeline else [])
    return [burst[key] for burst in bursts]


def _burst_target(pipeline: dict | None, target: str, key: str, fmt: str, most: float) -> tuple:
    """A target on a figure of the burst runs: met when their median is at most `most`. The
    floor's figure follows the service's, when it was measured."""
    value = _burst_median(pipeline, key)
    text = _burst_text(pipeline, key, fmt)
    if _burst_values(pipeline, key, "floor_bursts"):
        text += "; floor " + _burst_text(pipeline, key, fmt, "floor_bursts")
    return target, text, None if value is None else value <= most


def _burst_median(pipeline: dict | None, key: str) -> float | None:
    values = _burst_values(pipeline, key)
    return statistics.median(values) if values else None


def _burst_text(pipeline: dict | None, key: str, fmt: str, runs: str = "bursts") -> str:
    """The median over the burst runs, with every run's figure when there were several."""
    values = _burst_values(pipeline, key, runs)
    if not values:
        return "not measured"
    text = fmt.format(statistics.median(values))
    if len(values) > 1:
        text += f" (median of {len(values)} runs: " + ", ".join(f"{value:.2f}" for value in values) + ")"
    return text


def _fmt_rps(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _runs(api: dict) -> str:
    repeats = api.get("repeats", 1)
    if repeats == 1:
        return f"one {api['seconds']} s run"
    return (
        f"{repeats} runs of {api['seconds']} s, the endpoints taking turns run by run (the tables show the"
        " median rate and latencies of each)"
    )


def _server_model(settings: dict) -> str:
    if settings.get("web_worker_class", "gthread") == "sync":
        return f"{settings['web_workers']} gunicorn sync workers"
    return f"{settings['web_workers']} gunicorn workers × {settings['web_threads']} threads (gthread)"


def api_section(api: dict) -> list[str]:
    endpoints = api["endpoints"]
    concurrencies = [row["connections"] for row in endpoints[TRIVIAL]]
    settings = api["settings"]
    header = "| endpoint | " + " | ".join(f"c = {c}" for c in concurrencies) + " |"
    rule = "|---|" + "---:|" * len(concurrencies)
    lines = [
        "## API: throughput and latency",
        "",
        f"wrk (2 threads, keep-alive), {_runs(api)} per endpoint and concurrency after a 1 s warm-up,"
        " concurrency by concurrency. `gophermart web` runs with its"
        f" defaults: {_server_model(settings)},"
        f" {settings['db_pool_size']} database connections per process, JSON request logs at INFO (to a file),"
        " Prometheus metrics in multi-process mode; PostgreSQL and Redis on the same machine. The trivial"
        " endpoint is a bare Flask app returning a constant JSON object under exactly the same gunicorn"
        " settings: no extensions, no database. The floors are the endpoints with nothing of the service"
        " in them (`bench/floor_server.py`, the same gunicorn settings, at 32 connections, where the"
        " targets are judged; the floor of GET balance at every concurrency). The floor: a bare Flask app"
        " that checks a signed bearer token and runs the endpoint's statements through psycopg2 (the"
        " user's row by primary key; the user's ten orders; an insert and a message pushed to a Redis"
        " list). The stack floor: the same endpoints on the extensions the stack is chosen for, used as"
        " their documentation shows (Flask-Login's request loader, Flask-SQLAlchemy's session, a Celery"
        " app on the Redis broker). Users, orders and balances are prepared before the runs:"
        " GET balance reads a user with a large balance, the order lists belong to users with 10 and 1000"
        " orders, POST orders hands in a new Luhn-valid number every time, and so does the withdrawal"
        " (0.01 each); login checks an argon2id hash at the production cost.",
        "",
        "### Throughput, requests per second (share of the trivial endpoint at the same concurrency)",
        "",
        header,
        rule,
    ]
    for name, rows in endpoints.items():
        cells = []
        for c in concurrencies:
            row = _row(rows, c)
            if row is None:
                cells.append("–")
            elif name == TRIVIAL:
                cells.append(_fmt_rps(row["rps"]))
            else:
                cells.append(f"{_fmt_rps(row['rps'])} ({share(endpoints, name, c):.2f})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "### Latency, p50 / p99 in milliseconds", "", header, rule]
    for name, rows in endpoints.items():
        cells = [
            f"{_fmt_ms(row['p50_ms'])} / {_fmt_ms(row['p99_ms'])}" if (row := _row(rows, c)) else "–"
            for c in concurrencies
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    errors = [
        (name, row) for name, rows in endpoints.items() for row in rows if row["errors"] or row.get("socket_errors")
    ]
    lines.append("")
    if errors:
        lines.append(
            "Errors: "
            + "; ".join(
                f"{name} at c = {row['connections']}: {row['errors']} non-2xx"
                + (f", socket errors {row['socket_errors']}" if row.get("socket_errors") else "")
                for name, row in errors
            )
        )
    else:
        lines.append("No request failed: no non-2xx answers and no socket errors in any run.")
    loads = [row["load_average"] for rows in endpoints.values() for row in rows if "load_average" in row]
    if loads:
        lines.append(
            f"The machine's 1-minute load average after the runs ranged from {min(loads):.1f} to"
            f" {max(loads):.1f} (wrk, the servers, PostgreSQL and any other work on the machine)."
        )
    lines += [
        "",
        "![Throughput against concurrency](bench/throughput.png)",
        "",
        "![p50 and p99 latency against concurrency](bench/latency.png)",
        "",
        "### Cost per request in-process",
        "",
        "The same paths through the Flask test client against the same kind of data: no HTTP server, no"
        " load generator, one request at a time. Wall-clock time and this process's CPU time per request,"
        " the fastest of several rounds (other work on the machine slows rounds down, never speeds them up)."
        " `healthz` is the Flask stack and the service's extensions (request log, metrics, security headers)"
        " with no authentication and no database.",
        "",
        "| path | wall ms / request | CPU ms / request |",
        "|---|---:|---:|",
    ]
    labels = {
        "healthz": "GET /healthz",
        "balance": BALANCE,
        "orders10": ORDERS_10,
        "orders1000": ORDERS_1000,
        "post_order": POST_ORDERS,
        "withdraw": WITHDRAW,
    }
    for key, value in api["in_process"].items():
        lines.append(f"| {labels.get(key, key)} | {value['wall_ms']:.2f} | {value['cpu_ms']:.2f} |")
    return lines + [""]


def pipeline_section(pipeline: dict) -> list[str]:
    limited, unlimited = pipeline["limited"], pipeline["unlimited"]
    return [
        "## Pipeline: from hand-in to a final status",
        "",
        "The whole stack runs as deployed: `gophermart web`, `worker`"
        f" ({pipeline['worker_concurrency']} {pipeline.get('worker_pool', 'processes')}) and `beat`, against the"
        " bundled accrual simulator, on"
        " PostgreSQL and Redis. Each order is registered at the simulator (10 % accrual) just before it is"
        " handed in, so its calculation starts at the upload; orders are handed in by 8 parallel clients,"
        " all at once or at a steady pace, while the benchmark polls the orders' statuses every 0.1 s"
        " from the start until all are final (an order's time is from its `202` to the first poll that"
        " shows it final; the poll reads the database, as `GET /api/user/orders` would).",
        "",
        "| run | orders | handed in | simulator limit | calculation | seconds | orders final / s"
        " | share of allowed rate | accrual requests / order | 429s | pauses | requests sent into an announced pause"
        " | median upload→PROCESSED − calculation | service CPU / order (web + worker + beat) |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        _pipeline_row("rate-limited", limited),
        _pipeline_row("unlimited", unlimited),
        *([_pipeline_row("unlimited, paced hand-in", pipeline["paced"])] if "paced" in pipeline else []),
        "",
        "Rate-limited: the simulator answers 429 with `Retry-After` to the first request past its window;"
        " every worker then waits out the announced pause and the gate paces the rest to the announced"
        " rate, so the allowed rate bounds the drain. The pauses and the requests sent into one come from"
        " the workers' log lines: a request counts as sent into a pause when it left after the pause was"
        " announced (its 429 had come back) and before the pause ended; a 429 for a request that left"
        " before that was already on its way. The simulator itself counted"
        f" {limited['requests_during_pause']} request(s) arriving while its pause was on."
        " Unlimited: how quickly an order is final once its calculation is done (the first check is timed"
        " by the learned calculation time)." + _bursts_note(pipeline),
        "",
        "The service's CPU per order is the user and system time of the `web`, `worker` and `beat` process"
        " trees (each process and the processes it started), from their own accounting, between the first"
        " hand-in and the moment every order was final, divided by the orders: the hand-ins, the checks, the"
        " sweeps, everything the service did meanwhile. The benchmark watches the orders in the database"
        " (what `GET /api/user/orders` shows), so its watching costs the service nothing; the simulator,"
        " PostgreSQL and Redis are not counted." + _floor_note(pipeline),
        "",
        "| run | web | worker | beat | total |",
        "|---|---:|---:|---:|---:|",
        *(_cpu_row(label, pipeline[key]) for key, label in _RUNS if "cpu_seconds" in pipeline.get(key, {})),
        "",
    ]


def _floor_note(pipeline: dict) -> str:
    if "floor_unlimited" not in pipeline:
        return ""
    return (
        " The floor, run beside every burst and counted the same way, is the pipeline with nothing of the"
        " service in it: the stack floor's web (`bench/floor_server.py stack`: Flask-Login, Flask-SQLAlchemy,"
        " the check handed to Celery with a countdown of the calculation time) and a Celery worker on the"
        " same broker settings and thread pool (`bench/pipeline_floor.py`) whose task reads the order,"
        " asks the simulator through `requests` and writes the final answer with its credit in one"
        " statement, or retries in half a second. No gate, no claim, no learned calculation time, no log"
        " lines, no metrics."
    )


def _bursts_note(pipeline: dict) -> str:
    runs = len(pipeline.get("bursts", ()))
    if runs < 2:
        return ""
    return (
        f" The unlimited run with all orders handed in at once ran {runs} times: the tables show the run"
        " of median CPU per order, and its targets take the median of each figure over the runs."
    )


_RUNS = (
    ("limited", "rate-limited"),
    ("unlimited", "unlimited"),
    ("paced", "unlimited, paced hand-in"),
    ("floor_unlimited", "floor: unlimited"),
)


def _cpu_row(label: str, result: dict) -> str:
    per_order = {role: sum(parts.values()) * 1000 / result["orders"] for role, parts in result["cpu_seconds"].items()}
    cells = " | ".join(f"{per_order.get(role, 0.0):.2f} ms" for role in ("web", "worker", "beat"))
    return f"| {label} | {cells} | {result['cpu_ms_per_order']:.2f} ms |"


def _pipeline_row(label: str, result: dict) -> str:
    allowed = result.get("drain_share_of_allowed_rate")
    cpu = f"{result['cpu_ms_per_order']:.2f} ms" if "cpu_ms_per_order" in result else "–"
    handed = (
        f"{result.get('hand_in', 'all at once')} ({result['hand_in_seconds']:g} s)"
        if "hand_in_seconds" in result
        else result.get("hand_in", "all at once")
    )
    return (
        f"| {label} | {result['orders']} | {handed} | {result['limit']} | {result['calc_seconds']:g} s | {result['seconds']:g}"
        f" | {result['orders_per_second']:g} | {f'{allowed:.2f}' if allowed is not None else '–'}"
        f" | {result['requests_per_order']:g} | {result['responses_429']} | {result['pauses']}"
        f" | {result['requests_sent_into_announced_pause']} | {result['median_latency_minus_calc']:+.2f} s"
        f" | {cpu} |"
    )


def _when(part: dict | None) -> str:
    if not part:
        return "– (not run)"
    return part["date"] + (
        " (a `--quick` run: short runs for a smoke check, not figures to quote)" if part.get("quick") else ""
    )


def report(results: dict) -> str:
    facts = results["machine"]
    api, pipeline = results.get("api"), results.get("pipeline")
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`.venv/bin/python bench/run.py`; `--quick` for a smoke check,"
        " `--only api` or `--only pipeline` for one part, `--only report` to write this file again from the saved figures). Charts are in `docs/bench/`, the raw figures in"
        " `docs/bench/results.json`. `bench/profile_paths.py --profile balance` (with pyinstrument installed"
        " in the virtualenv) shows where one path's time goes.",
        "",
        "## Machine",
        "",
        f"- {facts['cores']} cores, {facts['cpu']}, shared: other work may run at the same time, so absolute"
        " figures vary from run to run; the shares of the trivial endpoint measured alongside are the steadier"
        " figure.",
        f"- Python {facts['python']}, PostgreSQL {facts['postgresql']}, Redis {facts['redis']},"
        f" {facts.get('os', '')}".rstrip(", "),
        f"- API figures from {_when(api)}, pipeline figures from {_when(pipeline)}",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for target, measured, met in targets(api, pipeline):
        lines.append(f"| {target} | {measured} | {'–' if met is None else ('met' if met else 'not met')} |")
    lines.append("")
    lines += [
        "Why the targets that are not met are out of reach, and what would move them, is in the last section.",
        "",
    ]
    if api:
        lines += api_section(api)
    if pipeline:
        lines += pipeline_section(pipeline)
    if results.get("data"):
        lines += data_scale.section(results["data"], _when(results["data"]))
    if FINDINGS.exists():
        lines += [FINDINGS.read_text().rstrip(), ""]
    return "\n".join(lines)


def charts(api: dict) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    CHARTS.mkdir(parents=True, exist_ok=True)
    endpoints = api["endpoints"]
    styles = {TRIVIAL: dict(color="black", linestyle="--")}

    def lines(ax, key):
        for name, rows in endpoints.items():
            xs = [row["connections"] for row in rows if row[key] is not None]
            ys = [row[key] for row in rows if row[key] is not None]
            ax.plot(xs, ys, marker="o", label=name, **styles.get(name, {}))
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_yscale("log")
        ax.set_xlabel("concurrent connections (wrk)")
        ax.grid(True, which="both", alpha=0.3)

    written = []
    fig, ax = plt.subplots(figsize=(10, 6))
    lines(ax, "rps")
    ax.set_ylabel("requests per second (log scale)")
    ax.set_title("Throughput against concurrency")
    ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    written.append(CHARTS / "throughput.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(14, 6), sharey=True)
    for ax, key, title in ((axes[0], "p50_ms", "p50 latency"), (axes[1], "p99_ms", "p99 latency")):
        lines(ax, key)
        ax.set_title(f"{title} against concurrency")
    axes[0].set_ylabel("milliseconds (log scale)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=9, loc="lower center", ncol=4)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    written.append(CHARTS / "latency.png")
    fig.savefig(written[-1], dpi=110)
    plt.close(fig)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Run the API and pipeline benchmarks; write docs/BENCHMARKS.md and charts in docs/bench/."
    )
    parser.add_argument("--quick", action="store_true", help="short runs: a smoke check of the tooling, not figures")
    parser.add_argument(
        "--only",
        choices=["api", "pipeline", "data", "report"],
        help="run one part, the other keeps its last figures; `report` runs nothing and only"
        " writes the report again from the last figures (after editing bench/FINDINGS.md)",
    )
    parser.add_argument("--no-write", action="store_true", help="print the report instead of writing it")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        parser.error("matplotlib is missing: pip install -e '.[bench]'")
    if args.only in (None, "api") and not shutil.which("wrk"):
        parser.error("wrk is missing (apt-get install wrk)")

    if args.only == "report" and not RAW.exists():
        parser.error(f"no figures to report yet: {RAW.relative_to(ROOT)} is missing")
    previous = json.loads(RAW.read_text()) if RAW.exists() and args.only else {}
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    results = {"machine": previous["machine"] if args.only == "report" else machine()}
    started = time.monotonic()
    for part, run in (("api", run_api), ("pipeline", run_pipeline), ("data", run_data)):
        if args.only in (None, part):
            results[part] = {**run(plan), "date": now, "quick": args.quick}
        elif part in previous:
            results[part] = previous[part]

    text = report(results)
    if args.no_write:
        print(text)
    else:
        if results.get("api"):
            for path in charts(results["api"]):
                progress(f"wrote {path.relative_to(ROOT)}")
        RAW.parent.mkdir(parents=True, exist_ok=True)
        RAW.write_text(json.dumps(results, indent=1) + "\n")
        DOC.write_text(text)
        progress(f"wrote {DOC.relative_to(ROOT)} and {RAW.relative_to(ROOT)}")
    for target, measured, met in targets(results.get("api"), results.get("pipeline")):
        progress(f"  {'–' if met is None else ('met    ' if met else 'NOT met')}  {target}: {measured}")
    progress(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
