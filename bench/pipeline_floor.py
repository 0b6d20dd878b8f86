"""The floor of the pipeline on this stack: an order's check with nothing of the service in
it, to measure beside the service's CPU per order in the same run (bench/pipeline_drain.py
`--floor`).

The hand-ins go to the stack floor's web (bench/floor_server.py `stack`: Flask-Login,
Flask-SQLAlchemy, the check handed to Celery with a countdown of the calculation time). This
is its worker: a Celery app on the Redis broker with the settings the design asks for (late
acknowledgement, re-queued when the worker is lost, one message reserved per thread, the
threads pool), whose one task reads the order's number, asks the accrual system through a
`requests` session, and either records the final answer with its credit in one statement or
asks Celery to retry soon. No gate, no learned calculation time, no claim, no log lines of
its own, no metrics: the service's own work is what the difference is.

    REDIS_URL=… DATABASE_URI=… ACCRUAL_SYSTEM_ADDRESS=http://… python bench/pipeline_floor.py
"""

from __future__ import annotations

import os
import sys
import threading
from decimal import Decimal

import psycopg2
import requests
from celery import Celery

QUEUE = "floor"  # bench/floor_server.py hands the checks in here
RECHECK_SECONDS = 0.5
_READ = "SELECT number FROM orders WHERE id = %s"
_FINALISE_AND_CREDIT = """
WITH finalised AS (
    UPDATE orders SET status = %(status)s, accrual = %(accrual)s, updated_at = now()
    WHERE id = %(order_id)s AND status NOT IN ('PROCESSED', 'INVALID')
    RETURNING user_id
)
UPDATE users SET current = current + %(accrual)s FROM finalised
WHERE users.id = finalised.user_id AND %(accrual)s IS NOT NULL
"""

app = Celery("floor", broker=os.environ.get("REDIS_URL"), set_as_current=False)
app.conf.update(
    task_ignore_result=True,
    task_default_queue=QUEUE,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)
_local = threading.local()  # one database connection and one HTTP session per pool thread


def _connection():
    if not hasattr(_local, "db"):
        _local.db = psycopg2.connect(os.environ["DATABASE_URI"].replace("postgresql+psycopg2://", "postgresql://", 1))
        _local.http = requests.Session()
    return _local.db, _local.http


def forget_connections() -> None:
    """This thread's connection closed (a test calling the task directly)."""
    if hasattr(_local, "db"):
        _local.db.close()
        _local.http.close()
        del _local.db, _local.http


@app.task(name="floor.check", bind=True, max_retries=None)
def check(self, order_id: int) -> None:
    db, http = _connection()
    with db, db.cursor() as cur:
        cur.execute(_READ, (order_id,))
        (number,) = cur.fetchone()
    answer = http.get(f"{os.environ['ACCRUAL_SYSTEM_ADDRESS']}/api/orders/{number}", timeout=5)
    body = answer.json() if answer.status_code == 200 else {}
    if body.get("status") not in ("PROCESSED", "INVALID"):
        raise self.retry(countdown=RECHECK_SECONDS)
    accrual = Decimal(str(body["accrual"])) if body.get("accrual") is not None else None
    with db, db.cursor() as cur:
        cur.execute(_FINALISE_AND_CREDIT, {"status": body["status"], "accrual": accrual, "order_id": order_id})


if __name__ == "__main__":
    concurrency = sys.argv[1] if len(sys.argv) > 1 else "4"
    app.worker_main(
        [
            "worker",
            "-Q",
            QUEUE,
            "-P",
            "threads",
            "-c",
            concurrency,
            "-l",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ]
    )
