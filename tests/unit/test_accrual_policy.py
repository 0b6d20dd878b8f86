"""Status mapping, Retry-After parsing, back-off and the quick-retry policy."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import cast

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
    MIN_RETRY_AFTER,
    AccrualClient,
    ContractViolation,
    Final,
    NotRegistered,
    Pending,
    RateLimited,
    Unavailable,
    _parse_answer,
    parse_limit,
    parse_retry_after,
)
from gophermart.accrual.gate import AccrualGate
from gophermart.models import OrderStatus
from gophermart.money import MAX_AMOUNT


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
        (b'{"order": "1", "status": "PROCESSED", "accrual": 0.004}', Final("PROCESSED", Decimal("0.004"))),
        (b'{"order": "1", "status": "PROCESSED", "accrual": 999999999999.99}', Final("PROCESSED", MAX_AMOUNT)),
    ],
)
def test_answers_map_to_outcomes_with_exact_decimals(body, expected):
    outcome = _parse_answer(body, "1")
    assert outcome == expected
    if isinstance(outcome, Final) and outcome.accrual is not None:
        assert isinstance(outcome.accrual, Decimal)


@pytest.mark.parametrize(
    "body,problem",
    [
        (b"", "the body is not JSON"),
        (b"not json", "the body is not JSON"),
        (b'{"order": "1", "status": "PROCESSED", "accrual": NaN}', "the body is not JSON"),
        (
            b'{"order": "1", "status": "PROCESSED", "accrual": 1E+9999999999999999999}',
            "a number in the body is out of range",
        ),
        (
            b'{"order": "1", "status": "PROCESSED", "accrual": 1E-9999999999999999999}',
            "a number in the body is out of range",
        ),
        (b"[]", "the body is not a JSON object: []"),
        (b'{"order": "1", "status": "WHAT"}', "unknown status 'WHAT'"),
        (b'{"order": "1"}', "unknown status None"),
        (b'{"status": "INVALID"}', "the answer is about another order: None"),
        (b'{"order": "2", "status": "PROCESSED", "accrual": 5}', "the answer is about another order: '2'"),
        (b'{"order": 1, "status": "PROCESSED", "accrual": 5}', "the answer is about another order: 1"),
        (b'{"order": "1", "status": "PROCESSED", "accrual": -1}', "the accrual is negative: Decimal('-1')"),
        (b'{"order": "1", "status": "PROCESSED", "accrual": "500"}', "the accrual is not a JSON number: '500'"),
        (b'{"order": "1", "status": "PROCESSED", "accrual": true}', "the accrual is not a JSON number: True"),
        (b'{"order": "1", "status": "PROCESSED", "accrual": {}}', "the accrual is not a JSON number: {}"),
        (
            b'{"order": "1", "status": "PROCESSED", "accrual": 1000000000000}',
            "the accrual is beyond any balance: Decimal('1000000000000')",
        ),
        (
            b'{"order": "1", "status": "PROCESSED", "accrual": 999999999999.995}',
            "the accrual is beyond any balance: Decimal('999999999999.995')",
        ),
    ],
)
def test_answers_off_the_contract_are_the_accrual_systems_fault(body, problem):
    assert _parse_answer(body, "1") == ContractViolation(problem)


def test_a_long_offending_value_is_cut_short_in_the_problem():
    outcome = _parse_answer(b'{"order": "1", "status": "' + b"X" * 5000 + b'"}', "1")
    assert isinstance(outcome, ContractViolation) and len(outcome.reason) < 120


def test_retry_after_in_seconds_date_missing_or_garbage():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30
    assert parse_retry_after(None) == DEFAULT_RETRY_AFTER
    assert parse_retry_after("soon") == DEFAULT_RETRY_AFTER
    assert parse_retry_after("-5") == DEFAULT_RETRY_AFTER
    assert parse_retry_after("999999") == MAX_RETRY_AFTER


@pytest.mark.parametrize(
    "value,expected",
    [
        # Nothing to wait, says the accrual system: still a short stop, never full speed.
        ("0", MIN_RETRY_AFTER),
        ("000", MIN_RETRY_AFTER),
        ("past date", MIN_RETRY_AFTER),
        # Beyond any sensible pause, or any float: the longest one, and no crash.
        ("9" * 5000, MAX_RETRY_AFTER),
        ("99999999999999999999", MAX_RETRY_AFTER),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
        # Only ASCII digits are seconds: other Unicode digits are unreadable (60 s).
        ("\u0663", DEFAULT_RETRY_AFTER),  # ARABIC-INDIC DIGIT THREE
        ("\u00b2", DEFAULT_RETRY_AFTER),  # SUPERSCRIPT TWO: isdigit() says yes, float() raises
        ("\uff15", DEFAULT_RETRY_AFTER),  # FULLWIDTH DIGIT FIVE
        ("1\u00b9", DEFAULT_RETRY_AFTER),
    ],
)
def test_retry_after_out_of_range_or_not_ascii(value, expected):
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    if value == "past date":
        value = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(value, now=now) == expected


def test_limit_is_read_from_the_429_text():
    assert parse_limit("No more than 600 requests per minute allowed") == 600
    assert parse_limit("slow down") is None
    assert parse_limit("No more than 0 requests per minute allowed") is None


@pytest.mark.parametrize(
    "digits",
    [
        "\u0666\u0660\u0660",  # ARABIC-INDIC 600: \\d would take it
        "\uff16\uff10\uff10",  # FULLWIDTH 600
        "6\u00b2",
        "9" * 5000,  # int() refuses more than 4300 digits
        "9999999999",  # ten digits: no limit anyone publishes
    ],
)
def test_a_limit_is_read_from_ascii_digits_only(digits):
    assert parse_limit(f"No more than {digits} requests per minute allowed") is None


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


def ask_fakes(client, gate):
    """`ask` with the stand-ins below for the accrual client and the gate."""
    return ask("1", cast(AccrualClient, client), cast(AccrualGate, gate))


class FakeGate:
    def __init__(self, waits=()):
        self.waits = list(waits)
        self.pauses = []
        self.events = []

    def acquire(self):
        self.events.append("acquire")
        return self.waits.pop(0) if self.waits else 0.0

    def pause(self, seconds):
        self.events.append(f"pause {seconds}")
        self.pauses.append(seconds)
        return seconds

    def set_limit(self, per_minute):
        self.events.append(f"limit {per_minute}")

    def count_call(self, outcome):
        self.events.append(f"count {outcome}")


def test_a_429_pauses_the_gate_before_the_call_is_counted():
    gate = FakeGate()
    assert ask_fakes(FakeClient([RateLimited(5, 60)]), gate) == (RateLimited(5, 60), 1)
    assert gate.events == ["acquire", "pause 5", "limit 60", "count RateLimited"]


class FakeClient:
    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    def fetch(self, number):
        self.calls += 1
        return self.outcomes.pop(0)


def test_transient_faults_are_retried_a_few_times_then_given_back():
    client = FakeClient([Unavailable("HTTP 500")] * 10)
    outcome, sent = ask_fakes(client, FakeGate())
    assert isinstance(outcome, Unavailable) and sent == client.calls == QUICK_RETRIES


def test_a_retry_that_succeeds_returns_the_answer():
    client = FakeClient([Unavailable("ConnectTimeout"), Final("INVALID")])
    assert ask_fakes(client, FakeGate()) == (Final("INVALID"), 2)


@pytest.mark.parametrize(
    "outcome",
    [Pending("REGISTERED"), NotRegistered(), RateLimited(5, None), Final("INVALID"), ContractViolation("garbage")],
)
def test_non_transient_answers_are_not_retried(outcome):
    client = FakeClient([outcome, Final("INVALID")])
    assert ask_fakes(client, FakeGate()) == (outcome, 1)


def test_every_attempt_passes_the_gate():
    client = FakeClient([Unavailable("HTTP 503"), Final("INVALID")])
    outcome, sent = ask_fakes(client, FakeGate([0.0, 12.0]))
    assert outcome == Deferred(12.0) and sent == 1


def test_a_near_paced_slot_is_waited_for_a_far_one_deferred():
    client = FakeClient([Final("INVALID")])
    assert ask_fakes(client, FakeGate([0.05, 0.05, 0.0])) == (Final("INVALID"), 1)
    assert ask_fakes(FakeClient([]), FakeGate([0.05, 5.0])) == (Deferred(5.0), 0)
