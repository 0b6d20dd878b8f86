"""Celery tasks: thin, taking ids, with the logic in gophermart.accrual.checks.

Developers can trigger them by hand in `flask shell`: `check_order.delay(order_id)`.
"""

from __future__ import annotations

import logging

from celery import shared_task, signals
from flask import current_app

from gophermart.accrual import checks
from gophermart.accrual.connections import accrual_client, accrual_gate
from gophermart.accrual.queueing import CHECK_TASK, queue_check
from gophermart.accrual.sweep_schedule import SWEEP_TASK, marker_for

log = logging.getLogger(__name__)

SWEEP_BATCH = 500  # most orders one sweep claims when requests are not scarce


@shared_task(name=CHECK_TASK)
def check_order(order_id: int, token: int | None = None) -> str:
    """Ask the accrual system about one order and record the answer, if `token` (the
    order's schedule token when this message was queued) is still current. None: a
    message queued before tokens existed, or by hand, is not held to one."""
    return checks.run_check(order_id, accrual_client(), accrual_gate(), queue_recheck=queue_check, token=token).value


@shared_task(name=SWEEP_TASK)
def sweep() -> int:
    """Queue a check for every overdue order the accrual system's budget allows."""
    _sweep_taken(current_app.extensions["celery"])
    interval = current_app.config["SETTINGS"].sweep_interval_seconds
    budget = accrual_gate().state().budget(horizon=interval, unlimited=SWEEP_BATCH)
    order_ids = checks.claim_due_checks(min(budget, SWEEP_BATCH))
    for order_id, token in order_ids:
        queue_check(order_id, 0, token)
    if order_ids:
        log.info("sweep queued checks", extra={"orders": len(order_ids), "budget": budget})
    return len(order_ids)


def _sweep_taken(celery) -> None:
    """Beat may queue the next sweep (see sweep_schedule)."""
    try:
        marker_for(celery).clear()
    except Exception:  # the marker goes stale by itself; the sweep must run regardless
        log.warning("could not clear the sweep marker", exc_info=True)


@signals.task_revoked.connect
def _expired_sweep_taken(sender=None, **_kwargs) -> None:
    # An expired sweep is discarded by the worker without running: it was taken all the same.
    if getattr(sender, "name", None) == SWEEP_TASK:
        _sweep_taken(sender.app)
