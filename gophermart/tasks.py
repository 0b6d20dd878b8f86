"""Celery tasks: thin, taking ids, with the logic in gophermart.services.accrual_checks.

Developers can trigger them by hand in `flask shell`: `check_order.delay(order_id)`.
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from gophermart.connections import accrual_client, accrual_gate
from gophermart.services import accrual_checks

log = logging.getLogger(__name__)

SWEEP_BATCH = 500  # most orders one sweep claims when requests are not scarce


@shared_task(name="gophermart.check_order")
def check_order(order_id: int) -> str:
    """Ask the accrual system about one order and record the answer."""
    return accrual_checks.check_order(order_id, accrual_client(), accrual_gate(), requeue=queue_check)


@shared_task(name="gophermart.sweep")
def sweep() -> int:
    """Queue a check for every overdue order the accrual system's budget allows."""
    interval = current_app.config["SETTINGS"].sweep_interval_seconds
    budget = accrual_gate().state().budget(horizon=interval, unlimited=SWEEP_BATCH)
    order_ids = accrual_checks.claim_due_orders(min(budget, SWEEP_BATCH))
    for order_id in order_ids:
        queue_check(order_id, 0)
    if order_ids:
        log.info("sweep queued checks", extra={"orders": len(order_ids), "budget": budget})
    return len(order_ids)


def queue_check(order_id: int, delay: float) -> None:
    """Queue a check of the order in `delay` seconds (a countdown of seconds, far below the
    broker's visibility timeout)."""
    # The task as bound to this Flask app's own Celery app (its broker), not to whichever
    # Celery app the process made last.
    current_app.extensions["celery"].tasks[check_order.name].apply_async((order_id,), countdown=delay)


def enqueue_check(order_id: int) -> None:
    """Queue the order's first check right after its commit, timed for when its calculation
    is likely done. The sweep covers a failed publish."""
    try:
        queue_check(order_id, accrual_checks.first_check_age(accrual_gate().state().calc_estimate))
    except Exception:  # the broker is down: never fail the request for it
        log.warning("could not queue the order's check; the sweep will", extra={"order_id": order_id}, exc_info=True)
