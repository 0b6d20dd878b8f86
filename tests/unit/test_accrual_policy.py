"""Status mapping, Retry-After parsing, back-off and the quick-retry policy."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest

from gophermart.accrual.checks import (
    BACKOFF_CAP,
    QUICK_RETRIES,
    Deferred,
    ask,
    backoff,
    next_check_delay,
    order_status_for,
)
from gophermart.accrual.client import (
    DEFAULT_RETRY_AFTER,
    MAX_RETRY_AFTER,
    Final,
    NotRegistered,
    Pending,
    RateLimited,
    Unavailable,
    _parse_answer,
    parse_limit,
    parse_retry_after,
)
from gophermart.models import OrderStatus


@pytest.mark.parametrize(
    "outcome,current,expected",
    [
        (Pending("REGISTERED"), OrderStatus.NEW, OrderStatus.PROCESSING),
        (Pending("PROCESSING"), OrderStatus.NEW, OrderStatus.PROCESSING),
        (Final("INVALID"), OrderStatus.PROCESSING, OrderStatus.INVALID),
        (Final("PROCESSED", Decimal("5")), OrderStatus.NEW, OrderStatus.PROCESSED),
        (NotRegistered(), OrderStatus.NEW, OrderStatus.NEW),
        (RateLimited(5, 10), OrderStatus.PROCESSING, OrderStatus.PROCESSING),
        (Unavailable("HTTP 500"), OrderStatus.NEW, OrderStatus.NEW),
    ],
)
def test_status_mapping(outcome, current, expected):
    assert order_status_for(outcome, current) is expected


@pytest.mark.parametrize(
    "body,expected",
    [
        (b'{"order": "1", "status": "REGISTERED"}', Pending("REGISTERED")),
        (b'{"order": "1", "status": "PROCESSING"}', Pending("PROCESSING")),
        (b'{"order": "1", "status": "INVALID"}', Final("INVALID")),
        (b'{"order": "1", "status": "PROCESSED", "accrual": 729.98}', Final("PROCESSED", Decimal("729.98"))),
        (b'{"order": "1", "status": "PROCESSED"}', Final("PROCESSED", None)),
        (b'{"order": "1", "status": "PROCESSED", "accrual": 0}', Final("PROCESSED", Decimal(0))),
    ],
)
def test_answers_map_to_outcomes_with_exact_decimals(body, expected):
    outcome = _parse_answer(body)
    assert outcome == expected
    if isinstance(outcome, Final) and outcome.accrual is not None:
        assert isinstance(outcome.accrual, Decimal)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"status": "WHAT"}',
        b'{"order": "1"}',
        b'{"status": "PROCESSED", "accrual": -1}',
        b'{"status": "PROCESSED", "accrual": "x"}',
    ],
)
def test_unreadable_answers_are_transient(body):
    assert isinstance(_parse_answer(body), Unavailable)


def test_retry_after_in_seconds_date_missing_or_garbage():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0
    assert parse_retry_after(None) == DEFAULT_RETRY_AFTER
    assert parse_retry_after("soon") == DEFAULT_RETRY_AFTER
    assert parse_retry_after("-5") == DEFAULT_RETRY_AFTER
    assert parse_retry_after("999999") == MAX_RETRY_AFTER


def test_limit_is_read_from_the_429_text():
    assert parse_limit("No more than 600 requests per minute allowed") == 600
    assert parse_limit("slow down") is None
    assert parse_limit("No more than 0 requests per minute allowed") is None


def test_backoff_starts_short_and_is_capped():
    assert 1.0 <= backoff(1) <= 1.1
    assert 2.0 <= backoff(3) <= 2.2
    assert backoff(50) <= BACKOFF_CAP * 1.1
    assert all(backoff(n) <= backoff(n + 1) * 1.1 for n in range(1, 20))


def test_next_check_waits_for_the_learned_calculation_time():
    assert next_check_delay(Pending("REGISTERED"), 1, age=0.5, calc_estimate=2.0) == pytest.approx(1.5)
    assert next_check_delay(Pending("PROCESSING"), 2, age=2.5, calc_estimate=2.0) <= 1.1
    assert 30 <= next_check_delay(RateLimited(30, None), 1, 0, 1) <= 31
    assert next_check_delay(Deferred(0.25), 1, 0, 1) == 0.25


class FakeGate:
    def __init__(self, waits=()):
        self.waits = list(waits)
        self.pauses = []

    def acquire(self):
        return self.waits.pop(0) if self.waits else 0.0

    def pause(self, seconds):
        self.pauses.append(seconds)
        return seconds

    def set_limit(self, per_minute):
        pass

    def count_call(self, outcome):
        pass


class FakeClient:
    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    def fetch(self, number):
        self.calls += 1
        return self.outcomes.pop(0)


def test_transient_faults_are_retried_a_few_times_then_given_back():
    client = FakeClient([Unavailable("HTTP 500")] * 10)
    outcome, sent = ask("1", client, FakeGate())
    assert isinstance(outcome, Unavailable) and sent == client.calls == QUICK_RETRIES


def test_a_retry_that_succeeds_returns_the_answer():
    client = FakeClient([Unavailable("ConnectTimeout"), Final("INVALID")])
    assert ask("1", client, FakeGate()) == (Final("INVALID"), 2)


@pytest.mark.parametrize("outcome", [Pending("REGISTERED"), NotRegistered(), RateLimited(5, None), Final("INVALID")])
def test_non_transient_answers_are_not_retried(outcome):
    client = FakeClient([outcome, Final("INVALID")])
    assert ask("1", client, FakeGate()) == (outcome, 1)


def test_every_attempt_passes_the_gate():
    client = FakeClient([Unavailable("HTTP 503"), Final("INVALID")])
    outcome, sent = ask("1", client, FakeGate([0.0, 12.0]))
    assert outcome == Deferred(12.0) and sent == 1


def test_a_near_paced_slot_is_waited_for_a_far_one_deferred():
    client = FakeClient([Final("INVALID")])
    assert ask("1", client, FakeGate([0.05, 0.05, 0.0])) == (Final("INVALID"), 1)
    assert ask("1", FakeClient([]), FakeGate([0.05, 5.0])) == (Deferred(5.0), 0)
