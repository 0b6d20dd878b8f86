"""Celery tasks: thin, taking ids, with the logic in gophermart.accrual.checks.

Developers can trigger them by hand in `flask shell`: `check_order.delay(order_id)`.
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from gophermart.accrual import checks
from gophermart.accrual.connections import accrual_client, accrual_gate
from gophermart.accrual.queueing import CHECK_TASK, queue_check

log = logging.getLogger(__name__)

SWEEP_BATCH = 500  # most orders one sweep claims when requests are not scarce


@shared_task(name=CHECK_TASK)
def check_order(order_id: int) -> str:
    """Ask the accrual system about one order and record the answer."""
    return checks.run_check(order_id, accrual_client(), accrual_gate(), queue_recheck=queue_check).value


@shared_task(name="gophermart.sweep")
def sweep() -> int:
    """Queue a check for every overdue order the accrual system's budget allows."""
    interval = current_app.config["SETTINGS"].sweep_interval_seconds
    budget = accrual_gate().state().budget(horizon=interval, unlimited=SWEEP_BATCH)
    order_ids = checks.claim_due_orders(min(budget, SWEEP_BATCH))
    for order_id in order_ids:
        queue_check(order_id, 0)
    if order_ids:
        log.info("sweep queued checks", extra={"orders": len(order_ids), "budget": budget})
    return len(order_ids)
