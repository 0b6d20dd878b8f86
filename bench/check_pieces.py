"""What one check of an order costs the worker, and each of its pieces: the CPU time of the
calling thread per check, for checks that end with a final answer (the common case).

    .venv/bin/python bench/check_pieces.py                 # 1500 orders, one check each
    .venv/bin/python bench/check_pieces.py --orders 3000

The check runs as a task runs it (`checks.run_check` in an app context) against PostgreSQL,
the Redis gate and a local HTTP server standing in for the accrual system (it answers
PROCESSED with 5 points at once, from another process: its CPU is not counted). Only the
calling thread's CPU is counted, so waiting on a socket costs nothing; Celery's own work per
task (the message, the acknowledgement) is not in it: the pipeline benchmark has the whole.
The first fifth of the checks warms up and is left out; p25 / p50 in milliseconds.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_PROFILE_DATABASE", "gophermart_bench_checks")
import profile_paths

PORT = 18_999


class _Processed(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kept alive, as the accrual client's session expects

    def do_GET(self) -> None:
        body = json.dumps({"order": self.path.rsplit("/", 1)[-1], "status": "PROCESSED", "accrual": 5}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


def serve_accrual(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), _Processed).serve_forever()


def quartiles(samples_ns: list[int]) -> str:
    p25, p50, _ = statistics.quantiles(samples_ns, n=4)
    return f"{p25 / 1e6:.3f} / {p50 / 1e6:.3f}"


def measure(orders: int) -> dict[str, list[int]]:
    import sqlalchemy as sa

    from gophermart.accrual import checks
    from gophermart.accrual.client import AccrualClient
    from gophermart.accrual.connections import accrual_gate
    from gophermart.extensions import db
    from gophermart.luhn import with_check_digit
    from gophermart.models import Order, utcnow
    from gophermart.services import ledger
    from gophermart.services.orders import submit_order
    from gophermart.services.users import register_user

    app, _database = profile_paths.make_app()
    with app.app_context():
        user_id = register_user("checker", "bench-pw").id
        for seed in range(orders):
            submit_order(user_id, with_check_digit(str(10_000_000 + seed)))
        # Old enough to be asked at once: no check is "too young".
        db.session.execute(sa.update(Order).values(uploaded_at=utcnow() - timedelta(seconds=30)))
        db.session.commit()
        order_ids = list(db.session.execute(sa.select(Order.id).order_by(Order.id)).scalars())
        gate = accrual_gate()
    client = AccrualClient(f"http://127.0.0.1:{PORT}", read_timeout=5)

    pieces = {  # as a check runs them
        "claim (UPDATE … RETURNING)": (checks, "_claim"),
        "the gate's state (Redis)": (type(gate), "state"),
        "asking, with its log line and count": (checks, "ask"),
        "  the accrual request": (AccrualClient, "fetch"),
        "  counting the call (Redis)": (type(gate), "count_call"),
        "final status and credit": (ledger, "apply_final_status"),
        "learning the calculation time (Redis)": (type(gate), "observe_calculation"),
    }
    samples: dict[str, list[int]] = {"the whole check": [], **{name: [] for name in pieces}}

    def timed(name: str, owner, attribute: str) -> None:
        original = getattr(owner, attribute)

        @functools.wraps(original)
        def wrapper(*args, **kwargs):
            started = time.thread_time_ns()
            try:
                return original(*args, **kwargs)
            finally:
                samples[name].append(time.thread_time_ns() - started)

        setattr(owner, attribute, wrapper)

    for name, (owner, attribute) in pieces.items():
        timed(name, owner, attribute)
    for order_id in order_ids:
        started = time.thread_time_ns()
        with app.app_context():
            checked = checks.run_check(order_id, client, gate)
        samples["the whole check"].append(time.thread_time_ns() - started)
        assert checked is checks.Checked.PROCESSED, checked
    with app.app_context():
        db.engine.dispose()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1500)
    args = parser.parse_args()
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r});"
            f" import check_pieces; check_pieces.serve_accrual({PORT})",
        ]
    )
    try:
        time.sleep(0.5)
        samples = measure(args.orders)
    finally:
        server.kill()
    warm_up = args.orders // 5
    print(f"CPU per check, ms (p25 / p50), {args.orders} checks:")
    for name, values in samples.items():
        print(f"  {name:40s} {quartiles(values[warm_up:])}")


if __name__ == "__main__":
    main()
