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
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential_jitter

from gophermart.accrual.client import (
    AccrualClient,
    ContractViolation,
    Final,
    NotRegistered,
    Outcome,
    Pending,
    RateLimited,
    Unavailable,
)
from gophermart.accrual.gate import AccrualGate
from gophermart.database import end_alone, first_alone
from gophermart.extensions import db
from gophermart.models import (
    FINAL_STATUSES,
    ORDERS,
    QUEUED_CHECK_GRACE_SECONDS,
    Order,
    OrderStatus,
    bound_statuses,
    orders_table,
    utcnow,
)
from gophermart.services import ledger

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
# takes it over only if it has not started QUEUED_CHECK_GRACE_SECONDS after it was due.
MAX_DIRECT_RECHECK_DELAY = 10.0
PENDING = (OrderStatus.NEW, OrderStatus.PROCESSING)


@dataclass(frozen=True)
class Deferred:
    """The gate said wait: nothing was sent."""

    wait: float


def first_check_age(calc_estimate: float) -> float:
    """How old an order should be at its first check: when its calculation is likely done,
    but soon in any case, since the accrual system may have calculated it long ago."""
    return min(calc_estimate, MAX_FIRST_CHECK_DELAY)


def order_status_for(outcome: Outcome | Deferred, current: OrderStatus) -> OrderStatus:
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
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
    )


def ask(number: str, client: AccrualClient, gate: AccrualGate, clear: bool = False) -> tuple[Outcome | Deferred, int]:
    """One check: every attempt passes the gate first. Returns the outcome and requests sent.
    `clear`: the gate's state, read just before, showed neither a pause nor a pace, so the
    first attempt's pass is that reading (acquiring would change nothing, at a round trip)."""
    sent = 0
    passed = clear

    def attempt() -> Outcome | Deferred:
        nonlocal sent, passed
        wait, passed = (0.0 if passed else gate.acquire()), False
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
        if isinstance(outcome, RateLimited):
            _pause_every_worker(gate, outcome)  # first: other workers learn it a round trip sooner
        # Logged before counting: the line's time is when the answer came, so it minus the
        # duration is when the request went out.
        log.info(
            "accrual call",
            extra={
                "order_number": number,
                "outcome": type(outcome).__name__,
                "answer": getattr(outcome, "status", None) or getattr(outcome, "reason", None),
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        gate.count_call(type(outcome).__name__)
        return outcome

    return quick_retrying()(attempt), sent


def _pause_every_worker(gate: AccrualGate, outcome: RateLimited) -> None:
    """A 429: nobody asks until Retry-After has passed, then everyone paces at the limit."""
    until = gate.pause(outcome.retry_after)
    if outcome.per_minute:
        gate.set_limit(outcome.per_minute)
    log.warning(
        "accrual system rate limit: pausing every worker",
        extra={"pause_seconds": outcome.retry_after, "pause_until": until, "per_minute": outcome.per_minute},
    )


class Checked(StrEnum):
    """What one check did."""

    NOT_DUE = "not due"  # final, parked, or another check of it is running
    PARKED = "parked"  # its checks crashed too often
    TOO_YOUNG = "too young"  # its calculation is likely not done: re-scheduled, nothing sent
    INVALID = "INVALID"  # final answers, recorded
    PROCESSED = "PROCESSED"
    PENDING = "Pending"  # the other answers, each re-scheduled
    NOT_REGISTERED = "NotRegistered"
    RATE_LIMITED = "RateLimited"
    UNAVAILABLE = "Unavailable"
    DEFERRED = "Deferred"
    CONTRACT_VIOLATION = "ContractViolation"  # an answer off the contract: re-asked with back-off
    CREDIT_REFUSED = "CreditRefused"  # the balance cannot hold the credit: re-asked with back-off


# Queue a check of this order in so many seconds, carrying the order's schedule token.
QueueRecheck = Callable[[int, float, int], None]


@dataclass(frozen=True)
class Claim:
    """An order whose check this worker has started (and holds the lease of)."""

    order_id: int
    number: str
    uploaded_at: datetime
    status: OrderStatus
    attempts: int  # accrual requests made for it so far
    failures: int  # checks started and not finished, this one included

    @property
    def age(self) -> float:
        return (utcnow() - self.uploaded_at).total_seconds()


def run_check(
    order_id: int,
    client: AccrualClient,
    gate: AccrualGate,
    queue_recheck: QueueRecheck | None = None,
    token: int | None = None,
) -> Checked:
    """Ask the accrual system about one order and record the answer.

    With `queue_recheck`, a re-check due soon is queued directly rather than left to the
    sweep (only while requests are plentiful: scarce ones the sweep paces)."""
    claim = _claim(order_id, token)
    if claim is None:
        return Checked.NOT_DUE
    if claim.failures > MAX_FAILURES:
        _park(claim)
        return Checked.PARKED
    state = gate.state()
    direct = queue_recheck if not state.constrained else None
    age = claim.age
    due_age = first_check_age(state.calc_estimate)
    if age < due_age - 0.05:
        # Asking before the calculation is likely done wastes a request.
        _reschedule(claim, claim.status, due_age - age, 0, direct)
        return Checked.TOO_YOUNG
    outcome, sent = ask(claim.number, client, gate, clear=not state.constrained)
    estimate = _learn_calculation_time(gate, claim, age, outcome, state.calc_estimate)
    new_status = order_status_for(outcome, claim.status)
    if new_status in FINAL_STATUSES:
        accrual = outcome.accrual if isinstance(outcome, Final) else None
        try:
            finalised = ledger.apply_final_status(order_id, new_status, accrual, requests=sent)
        except ledger.CreditRefused as refused:
            # Nothing was written: the order waits, as for a bad answer, until it fits.
            delay = backoff(claim.attempts + sent)
            _reschedule(claim, claim.status, delay, sent, direct, answer=_Answer(bad=str(refused)))
            return Checked.CREDIT_REFUSED
        if finalised:
            # Probe for earlier checks only while they run on time: under a rate limit
            # orders wait in line anyway, and requests are scarce.
            gate.observe_calculation(age, pending=False, probe=not state.constrained)
        return Checked(new_status.value)
    delay = next_check_delay(outcome, claim.attempts + sent, age, estimate)
    # A deferral or a 429 means requests are scarce right now: the sweep paces those.
    paced = isinstance(outcome, (Deferred, RateLimited))
    _reschedule(claim, new_status, delay, sent, None if paced else direct, answer=_answer_of(outcome))
    return _RESCHEDULED_AFTER[type(outcome)]


# What a check did when the answer was not final, by the kind of answer.
_RESCHEDULED_AFTER: dict[type, Checked] = {
    Pending: Checked.PENDING,
    NotRegistered: Checked.NOT_REGISTERED,
    RateLimited: Checked.RATE_LIMITED,
    Unavailable: Checked.UNAVAILABLE,
    Deferred: Checked.DEFERRED,
    ContractViolation: Checked.CONTRACT_VIOLATION,
}


@dataclass(frozen=True)
class _Answer:
    """What an answer says about the accrual system's sanity, for the order's `bad_answer`."""

    sane: bool = False  # a sane answer clears it
    bad: str | None = None  # a bad one sets it, and is logged only if it was clear


def _answer_of(outcome: Outcome | Deferred) -> _Answer:
    if isinstance(outcome, ContractViolation):
        return _Answer(bad=outcome.reason)
    if isinstance(outcome, (Pending, NotRegistered)):
        return _Answer(sane=True)
    return _Answer()  # no answer at all (a fault, a 429, a deferral): tells nothing


def _learn_calculation_time(
    gate: AccrualGate, claim: Claim, age: float, outcome: Outcome | Deferred, estimate: float
) -> float:
    """Raise the learned calculation time when an order's first answer is still pending."""
    if isinstance(outcome, Pending) and claim.attempts == 0:
        # Only an order's first answer: an order that stays pending for long would drag the
        # estimate, and every first check with it, up.
        return gate.observe_calculation(age, pending=True, probe=False)
    return estimate


# The statements every check runs, made once and run with parameters on the driver's
# cursor (database.first_alone): built for each check and run through the ORM's UPDATE
# handling, they cost a worker more CPU than the accrual request.
_START_ANY = (
    sa.update(orders_table)
    .where(
        ORDERS.id == sa.bindparam("order_id"),
        ORDERS.status.in_(bound_statuses(*PENDING)),
        ORDERS.parked_at.is_(None),
        sa.or_(ORDERS.check_started_at.is_(None), ORDERS.check_started_at < sa.bindparam("lease_expired")),
    )
    .values(
        failures=ORDERS.failures + 1,
        check_started_at=sa.bindparam("now"),
        next_check_at=sa.bindparam("lease_end"),
        updated_at=sa.bindparam("now"),  # named, not left to its onupdate: see _made_per_run
    )
    .returning(ORDERS.number, ORDERS.uploaded_at, ORDERS.status, ORDERS.attempts, ORDERS.failures)
)
# A message carrying the order's schedule token starts only while that token is current:
# a claim or a re-schedule since (the check it stands for ran, or was handed to another
# message) makes it a duplicate, which must not ask ahead of the back-off.
_START = _START_ANY.where(ORDERS.check_token == sa.bindparam("token"))
_RESCHEDULE = (
    sa.update(orders_table)
    .where(ORDERS.id == sa.bindparam("order_id"), ORDERS.status.in_(bound_statuses(*PENDING)))
    .values(
        status=sa.bindparam("status"),
        attempts=ORDERS.attempts + sa.bindparam("sent"),
        failures=0,
        updated_at=sa.bindparam("now"),
        check_started_at=None,
        next_check_at=sa.bindparam("due_at"),
        check_token=ORDERS.check_token + 1,
        bad_answer=sa.case((sa.bindparam("sane", type_=sa.Boolean()), sa.null()), else_=ORDERS.bad_answer),
    )
    .returning(ORDERS.check_token)
)
# Marks the order's first bad answer in a row: only then is it logged as an error.
_FIRST_BAD_ANSWER = (
    sa.update(orders_table)
    .where(ORDERS.id == sa.bindparam("order_id"), ORDERS.bad_answer.is_(None))
    .values(bad_answer=sa.bindparam("bad"))
    .returning(ORDERS.id)
)


def _claim(order_id: int, token: int | None = None) -> Claim | None:
    """Mark the check as running and count it as started; None if someone else runs it, or
    if `token` (the message's) is no longer the order's: the message is a duplicate. A
    message without one (queued by an older release, or by hand) is not held to it."""
    now = utcnow()
    lease = timedelta(seconds=LEASE_SECONDS)
    params = {"order_id": order_id, "now": now, "lease_expired": now - lease, "lease_end": now + lease}
    if token is None:
        row = first_alone(_START_ANY, params, on_session=True)
    else:
        row = first_alone(_START, {**params, "token": token}, on_session=True)
    end_alone()  # committed by itself: the check's next statements keep the connection
    if row is None:
        return None
    number, uploaded_at, status, attempts, failures = row
    return Claim(order_id, number, uploaded_at, OrderStatus(status), attempts, failures)


def _reschedule(
    claim: Claim,
    new: OrderStatus,
    delay: float,
    sent: int,
    queue_recheck: QueueRecheck | None = None,
    answer: _Answer = _Answer(),
) -> None:
    direct = queue_recheck is not None and delay <= MAX_DIRECT_RECHECK_DELAY
    due = delay + (QUEUED_CHECK_GRACE_SECONDS if direct else 0.0)
    now = utcnow()
    # In one transaction with the re-schedule (session.execute opens it, and the re-schedule
    # then runs in it): marked means logged.
    first_bad = answer.bad is not None and (
        db.session.execute(_FIRST_BAD_ANSWER, {"order_id": claim.order_id, "bad": answer.bad[:255]}).one_or_none()
        is not None
    )
    row = first_alone(
        _RESCHEDULE,
        {
            "order_id": claim.order_id,
            "status": new,
            "sent": sent,
            "now": now,
            "due_at": now + timedelta(seconds=due),
            "sane": answer.sane,
        },
        on_session=True,
    )
    end_alone()
    token = None if row is None else row[0]  # the order's new schedule token; None if final meanwhile
    if first_bad:
        log.error(
            "accrual answer refused: nothing recorded, asking again with back-off",
            extra={"order_id": claim.order_id, "order_number": claim.number, "problem": answer.bad},
        )
    if new is not claim.status:
        log.info(
            "order status changed", extra={"order_id": claim.order_id, "from": claim.status.value, "status": new.value}
        )
    if direct and queue_recheck is not None and token is not None:
        try:
            queue_recheck(claim.order_id, delay, token)
        except Exception:  # the broker is down: the sweep takes the check over after the grace
            log.warning(
                "could not queue the order's re-check; the sweep will",
                extra={"order_id": claim.order_id},
                exc_info=True,
            )


def _park(claim: Claim) -> None:
    db.session.execute(
        sa.update(Order).where(Order.id == claim.order_id).values(parked_at=utcnow(), check_started_at=None)
    )
    db.session.commit()
    log.error(
        "order parked: its check failed too often; re-queue it with `flask requeue`",
        extra={"order_id": claim.order_id, "order_number": claim.number, "failures": claim.failures - 1},
    )


def due_orders_query(limit: int) -> sa.Select:
    """The sweep's pick: overdue orders, oldest upload first; ix_orders_due_claim matches its
    filter and order, so it reads `limit` rows of the index however long the backlog is."""
    return (
        sa.select(Order.id)
        .where(Order.status.in_(PENDING), Order.parked_at.is_(None), Order.next_check_at <= utcnow())
        .order_by(Order.uploaded_at, Order.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def claim_due_checks(limit: int) -> list[tuple[int, int]]:
    """The sweep: lease up to `limit` overdue orders, oldest upload first, safe to run twice.
    Returns (order id, schedule token) pairs: the claim bumps each order's token, so a check
    message queued for it before (one that waited past its lease) no longer starts."""
    if limit <= 0:
        return []
    ids = list(db.session.execute(due_orders_query(limit)).scalars())
    claimed: list[tuple[int, int]] = []
    if ids:
        rows = db.session.execute(
            sa.update(orders_table)
            .where(ORDERS.id.in_(ids))
            .values(next_check_at=utcnow() + timedelta(seconds=LEASE_SECONDS), check_token=ORDERS.check_token + 1)
            .returning(ORDERS.id, ORDERS.check_token)
        ).all()
        order = {order_id: position for position, order_id in enumerate(ids)}
        claimed = sorted(((row[0], row[1]) for row in rows), key=lambda pair: order[pair[0]])
    db.session.commit()
    return claimed


def make_due_now(statuses: list[OrderStatus]) -> int:
    """Make orders of these statuses due now (parked ones too); returns how many."""
    count: int = db.session.execute(  # type: ignore[attr-defined]  # an UPDATE's CursorResult
        sa.update(Order)
        .where(Order.status.in_(statuses), Order.status.in_(PENDING))
        .values(next_check_at=utcnow(), parked_at=None, failures=0, check_started_at=None)
    ).rowcount
    db.session.commit()
    return count
