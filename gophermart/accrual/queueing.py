"""Sending checks to the workers: the queue's name, queueing one check, and what the
broker holds. Entry points (the hand-in's view, a check's task, the sweep) queue after
their use case returned; the use cases themselves never touch the broker."""

from __future__ import annotations

import logging
from pathlib import Path
from time import monotonic

from flask import current_app

from gophermart.accrual.checks import first_check_age
from gophermart.accrual.connections import accrual_gate, redis_client
from gophermart.logging import request_id
from gophermart.models import NEW_ORDER_TOKEN

log = logging.getLogger(__name__)

QUEUE = "accrual"
CHECK_TASK = "gophermart.check_order"
# The message header carrying the request id of the hand-in a check descends from, so the
# task's log lines (and the re-checks it queues) link up with the request's.
REQUEST_ID_HEADER = "gophermart_request_id"
# A hand-in times its first check by the learned calculation time, which moves over many
# answers, not within a second: each process reads it from the gate at most this often,
# not on every hand-in (a Redis round trip each: bench/FINDINGS.md).
ESTIMATE_READ_INTERVAL = 1.0
RECENT_ESTIMATE = "recent_calc_estimate"  # where a process keeps its read: app.extensions


def file_broker_dir(instance_dir: str) -> Path:
    """Where the file-based broker (the run without Redis) keeps its folders."""
    return Path(instance_dir) / "broker"


def queue_check(order_id: int, delay: float, token: int | None = None) -> None:
    """Queue a check of the order in `delay` seconds (a countdown of seconds, far below the
    broker's visibility timeout), carrying the order's schedule token (see checks._START)."""
    # The task as bound to this Flask app's own Celery app (its broker), not to whichever
    # Celery app the process made last.
    story = request_id.get()
    headers = {REQUEST_ID_HEADER: story} if story else None
    args = (order_id,) if token is None else (order_id, token)
    # What flower shows of the arguments, written here: they are ints, and Celery's safe
    # repr of arbitrary arguments is some 3 % of a hand-in's CPU (bench/FINDINGS.md).
    current_app.extensions["celery"].tasks[CHECK_TASK].apply_async(
        args, countdown=delay, headers=headers, argsrepr=repr(args), kwargsrepr="{}"
    )


def queue_first_check(order_id: int) -> None:
    """Queue a new order's first check, timed for when its calculation is likely done.
    Never fails the caller: with the broker down the sweep takes the order over."""
    try:
        queue_check(order_id, first_check_age(recent_calc_estimate()), NEW_ORDER_TOKEN)
    except Exception:  # the broker is down: never fail the request for it
        log.warning("could not queue the order's check; the sweep will", extra={"order_id": order_id}, exc_info=True)


def recent_calc_estimate() -> float:
    """The gate's calculation estimate as this process read it within the last
    ESTIMATE_READ_INTERVAL seconds (read afresh when older)."""
    ext = current_app.extensions
    now = monotonic()
    read_at, estimate = ext.get(RECENT_ESTIMATE, (None, 0.0))
    if read_at is None or now - read_at >= ESTIMATE_READ_INTERVAL:
        estimate = accrual_gate().state().calc_estimate
        ext[RECENT_ESTIMATE] = (now, estimate)
    return estimate


def queue_depth() -> int | None:
    """Messages waiting in the accrual queue (Redis broker only)."""
    client = redis_client()
    return None if client is None else int(client.llen(QUEUE))


def broker_reachable() -> bool:
    client = redis_client()
    if client is None:  # the file-based broker: its folder must be there
        return (file_broker_dir(current_app.config["SETTINGS"].instance_dir) / "queue").is_dir()
    try:
        return bool(client.ping())
    except Exception:
        return False
