"""Keeping each order's status in step with the accrual system (SPEC section 4).

The orders table is the outbox and the schedule: `next_check_at` says when an order is
next due, the sweep claims due orders (oldest upload first, as many as the shared gate
lets through) and every check ends by writing the next due time. A check that never ends
(a killed worker, a lost message) leaves a lease behind that the sweep reclaims.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential_jitter

from gophermart.accrual import AccrualClient, Final, Outcome, Pending, RateLimited, Unavailable
from gophermart.accrual_gate import AccrualGate
from gophermart.extensions import db
from gophermart.models import FINAL_STATUSES, ORDERS, Order, OrderStatus, utcnow
from gophermart.services import ledger
from gophermart.services.sql import run_alone

log = logging.getLogger(__name__)

# A check not finished by then (a killed worker, a lost message) is taken over by the next.
LEASE_SECONDS = 30.0
MAX_FAILURES = 5  # checks of one order that may crash in a row before it is parked
BACKOFF_BASE, BACKOFF_CAP = 1.0, 30.0
QUICK_RETRIES = 3  # attempts per check for transient faults; longer outages re-schedule
MAX_FIRST_CHECK_DELAY = 3.0  # seconds after upload, whatever the learned calculation time
MIN_RECHECK_DELAY = 0.1
MAX_INLINE_WAIT = 1.0  # a check waits this long at most for its paced slot, else re-schedules
# While requests are plentiful, a re-check due within this many seconds is queued at once
# with a countdown (the sweep runs once a second and would add up to a second); the sweep
# takes it over only if it has not started DIRECT_RECHECK_GRACE seconds after it was due.
MAX_DIRECT_RECHECK_DELAY = 10.0
DIRECT_RECHECK_GRACE = 10.0
PENDING = (OrderStatus.NEW, OrderStatus.PROCESSING)


@dataclass(frozen=True)
class Deferred:
    """The gate said wait: nothing was sent."""

    wait: float


def first_check_age(calc_estimate: float) -> float:
    """How old an order should be at its first check: when its calculation is likely done,
    but soon in any case, since the accrual system may have calculated it long ago."""
    return min(calc_estimate, MAX_FIRST_CHECK_DELAY)


def order_status_for(outcome: Outcome, current: OrderStatus) -> OrderStatus:
    """SPEC 4's table: the order's status after an answer."""
    if isinstance(outcome, Final):
        return OrderStatus(outcome.status)
    if isinstance(outcome, Pending):
        return OrderStatus.PROCESSING
    return current  # 204 keeps NEW; 429, faults and deferrals change nothing


def backoff(attempts: int) -> float:
    """Delay before re-asking about a non-final order: 1 s, 1 s, 2 s, 4 s … up to 30 s."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 2)) * random.uniform(1.0, 1.1)


def next_check_delay(outcome: Outcome | Deferred, attempts: int, age: float, calc_estimate: float) -> float:
    if isinstance(outcome, Deferred):
        return outcome.wait
    if isinstance(outcome, RateLimited):
        return outcome.retry_after + random.uniform(0.0, 1.0)
    if isinstance(outcome, Pending) and attempts <= 1:
        # Pending at the first request: ask again when the calculation is likely done.
        return max(calc_estimate - age, MIN_RECHECK_DELAY)
    return backoff(attempts)


def quick_retrying() -> Retrying:
    """Transient faults (5xx, timeouts, connection errors) are retried a few times, briefly."""
    return Retrying(
        retry=retry_if_result(lambda outcome: isinstance(outcome, Unavailable)),
        wait=wait_exponential_jitter(multiplier=0.2, max=1.0),
        stop=stop_after_attempt(QUICK_RETRIES),
        retry_error_callback=lambda state: state.outcome.result(),
    )


def ask(number: str, client: AccrualClient, gate: AccrualGate) -> tuple[Outcome | Deferred, int]:
    """One check: every attempt passes the gate first. Returns the outcome and requests sent."""
    sent = 0

    def attempt() -> Outcome | Deferred:
        nonlocal sent
        wait = gate.acquire()
        while 0 < wait <= MAX_INLINE_WAIT:
            # The next paced slot is near: waiting for it beats a round trip through the
            # sweep, and holds the worker for under a second.
            time.sleep(wait)
            wait = gate.acquire()
        if wait > 0:
            return Deferred(wait)
        sent += 1
        started = time.monotonic()
        outcome = client.fetch(number)
        # Logged first: the line's time is when the answer came, so it minus the duration
        # is when the request went out.
        log.info(
            "accrual call",
            extra={"order_number": number, "outcome": type(outcome).__name__,
                   "answer": getattr(outcome, "status", None) or getattr(outcome, "reason", None),
                   "duration_ms": round((time.monotonic() - started) * 1000, 1)},
        )
        gate.count_call(type(outcome).__name__)
        return outcome

    return quick_retrying()(attempt), sent


Requeue = Callable[[int, float], None]  # queue a check of this order in so many seconds


def check_order(order_id: int, client: AccrualClient, gate: AccrualGate, requeue: Requeue | None = None) -> str:
    """Ask the accrual system about one order and record the answer. Returns what happened.

    With `requeue`, a re-check due soon is queued directly rather than left to the sweep."""
    claimed = _start_check(order_id)
    if claimed is None:
        return "not due"  # final, parked, or another check of it is running
    number, uploaded_at, status, attempts, failures = claimed
    if failures > MAX_FAILURES:
        _park(order_id, number, failures)
        return "parked"
    age = (utcnow() - uploaded_at).total_seconds()
    state = gate.state()
    direct = requeue if not state.constrained else None  # scarce requests: the sweep paces them
    due_age = first_check_age(state.calc_estimate)
    if age < due_age - 0.05:
        # Asking before the calculation is likely done wastes a request.
        _reschedule(order_id, status, status, due_age - age, 0, direct)
        return "too young"
    outcome, sent = ask(number, client, gate)
    if isinstance(outcome, RateLimited):
        until = gate.pause(outcome.retry_after)
        if outcome.per_minute:
            gate.set_limit(outcome.per_minute)
        log.warning(
            "accrual system rate limit: pausing every worker",
            extra={"pause_seconds": outcome.retry_after, "pause_until": until, "per_minute": outcome.per_minute},
        )
    new_status = order_status_for(outcome, status)
    estimate = state.calc_estimate
    if isinstance(outcome, Pending) and attempts == 0:
        # Only an order's first answer: an order that stays pending for long would drag the
        # estimate, and every first check with it, up.
        estimate = gate.observe_calculation(age, pending=True, probe=False)
    if new_status in FINAL_STATUSES:
        accrual = outcome.accrual if isinstance(outcome, Final) else None
        applied = ledger.apply_final_status(order_id, new_status, accrual, requests=sent)
        if applied:
            # Probe for earlier checks only while they run on time: under a rate limit
            # orders wait in line anyway, and requests are scarce.
            gate.observe_calculation(age, pending=False, probe=not state.constrained)
        return new_status.value
    delay = next_check_delay(outcome, attempts + sent, age, estimate)
    # A deferral or a 429 means requests are scarce right now: the sweep paces those.
    paced = isinstance(outcome, (Deferred, RateLimited))
    _reschedule(order_id, status, new_status, delay, sent, None if paced else direct)
    return type(outcome).__name__


# The statements every check runs, made once and run with parameters: built for each check
# and run through the ORM's UPDATE handling, they cost a worker more CPU than the
# accrual request.
_START = (
    sa.update(Order.__table__)
    .where(
        ORDERS.id == sa.bindparam("order_id"),
        ORDERS.status.in_(PENDING),
        ORDERS.parked_at.is_(None),
        sa.or_(ORDERS.check_started_at.is_(None), ORDERS.check_started_at < sa.bindparam("lease_expired")),
    )
    .values(failures=ORDERS.failures + 1, check_started_at=sa.bindparam("now"), next_check_at=sa.bindparam("lease_end"))
    .returning(ORDERS.number, ORDERS.uploaded_at, ORDERS.status, ORDERS.attempts, ORDERS.failures)
)
_RESCHEDULE = (
    sa.update(Order.__table__)
    .where(ORDERS.id == sa.bindparam("order_id"), ORDERS.status.in_(PENDING))
    .values(status=sa.bindparam("status"), attempts=ORDERS.attempts + sa.bindparam("sent"), failures=0,
            updated_at=sa.bindparam("now"), check_started_at=None, next_check_at=sa.bindparam("due_at"))
)


def _start_check(order_id: int):
    """Mark the check as running and count it as started; None if someone else runs it."""
    now = utcnow()
    lease = timedelta(seconds=LEASE_SECONDS)
    row = run_alone(
        _START, {"order_id": order_id, "now": now, "lease_expired": now - lease, "lease_end": now + lease}
    ).one_or_none()
    db.session.commit()
    return row


def _reschedule(order_id: int, old: OrderStatus, new: OrderStatus, delay: float, sent: int,
                requeue: Requeue | None = None) -> None:
    direct = requeue is not None and delay <= MAX_DIRECT_RECHECK_DELAY
    due = delay + (DIRECT_RECHECK_GRACE if direct else 0.0)
    now = utcnow()
    run_alone(
        _RESCHEDULE, {"order_id": order_id, "status": new, "sent": sent, "now": now, "due_at": now + timedelta(seconds=due)}
    )
    db.session.commit()
    if new is not old:
        log.info("order status changed", extra={"order_id": order_id, "from": old.value, "status": new.value})
    if direct:
        try:
            requeue(order_id, delay)
        except Exception:  # the broker is down: the sweep takes the check over after the grace
            log.warning("could not queue the order's re-check; the sweep will", extra={"order_id": order_id}, exc_info=True)


def _park(order_id: int, number: str, failures: int) -> None:
    db.session.execute(sa.update(Order).where(Order.id == order_id).values(parked_at=utcnow(), check_started_at=None))
    db.session.commit()
    log.error(
        "order parked: its check failed too often; re-queue it with `flask requeue`",
        extra={"order_id": order_id, "order_number": number, "failures": failures - 1},
    )


def claim_due_orders(limit: int) -> list[int]:
    """The sweep: lease up to `limit` overdue orders, oldest upload first, safe to run twice."""
    if limit <= 0:
        return []
    ids = list(
        db.session.execute(
            sa.select(Order.id)
            .where(Order.status.in_(PENDING), Order.parked_at.is_(None), Order.next_check_at <= utcnow())
            .order_by(Order.uploaded_at, Order.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if ids:
        db.session.execute(
            sa.update(Order).where(Order.id.in_(ids)).values(next_check_at=utcnow() + timedelta(seconds=LEASE_SECONDS))
        )
    db.session.commit()
    return ids


def requeue(statuses: list[OrderStatus]) -> int:
    """Make orders of these statuses due now (parked ones too); returns how many."""
    count = db.session.execute(
        sa.update(Order)
        .where(Order.status.in_(statuses), Order.status.in_(PENDING))
        .values(next_check_at=utcnow(), parked_at=None, failures=0, check_started_at=None)
    ).rowcount
    db.session.commit()
    return count
