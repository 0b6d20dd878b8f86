"""The simulator's in-memory state and decisions, free of HTTP.

One lock guards everything: mechanics, orders, the rate-limit window, the fault
generator and the counters. Time comes from an injectable monotonic clock, so
every rule can be tested without sleeping.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .calculation import Good, Mechanic, accrual_for, json_amount
from .settings import SimConfig

ENDPOINT_GOODS = "POST /api/goods"
ENDPOINT_ORDERS = "POST /api/orders"
ENDPOINT_ORDER_STATUS = "GET /api/orders/{number}"
ENDPOINTS = (ENDPOINT_GOODS, ENDPOINT_ORDERS, ENDPOINT_ORDER_STATUS)

REGISTERED = "REGISTERED"
PROCESSING = "PROCESSING"
PROCESSED = "PROCESSED"
INVALID = "INVALID"
STATUSES = (REGISTERED, PROCESSING, PROCESSED, INVALID)


@dataclass
class _MechanicEntry:
    mechanic: Mechanic
    registered_at: float


@dataclass
class _Order:
    number: str
    goods: tuple[Good, ...]
    registered_at: float
    calc_seconds: float
    final_status: str | None = None
    accrual: Decimal | None = None

    @property
    def ready_at(self) -> float:
        return self.registered_at + self.calc_seconds


@dataclass(frozen=True)
class PollResult:
    """What ``GET /api/orders/{number}`` answers, decided at the request's arrival."""

    code: int
    body: dict[str, Any] | None = None
    retry_after: int | None = None
    limit_message: str | None = None
    delay_seconds: float = 0.0


@dataclass
class _Counters:
    requests: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    gets_by_order: Counter = field(default_factory=Counter)
    rate_limited: int = 0
    during_pause: int = 0
    faults: int = 0
    in_flight_max: int = 0


def per_minute(rate_limit: int, rate_window: float) -> int:
    """``rate_limit`` per ``rate_window`` seconds as a whole number per minute (half-up, at least 1)."""
    value = (Decimal(rate_limit) * 60 / Decimal(repr(rate_window))).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return max(1, int(value))


class Engine:
    def __init__(
        self,
        config: SimConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._config = config or SimConfig()
        self._rng = rng or random.Random(self._config.random_seed)
        self._window_start: float | None = None
        self._window_count = 0
        self._pause_until: float | None = None
        self._started_at = clock()
        self._mechanics: dict[str, _MechanicEntry] = {}
        self._orders: dict[str, _Order] = {}
        self._counters = _Counters()
        self._in_flight = 0
        self._reset_traffic()

    # ------------------------------------------------------------------ config

    @property
    def config(self) -> SimConfig:
        with self._lock:
            return self._config

    def configure(self, changes: Mapping[str, Any]) -> SimConfig:
        """Apply knob changes (raw values, validated); raises SettingError on a bad one.

        A changed rate limit or window starts a fresh window; a given
        ``random_seed`` reseeds the fault generator. A changed calculation time
        applies to orders registered from now on.
        """
        with self._lock:
            new = self._config.updated(changes)
            if (new.rate_limit, new.rate_window) != (self._config.rate_limit, self._config.rate_window):
                self._window_start = None
                self._window_count = 0
            if "random_seed" in changes:
                self._rng.seed(new.random_seed)
            self._config = new
            return new

    # ------------------------------------------------------------------ counters

    def _reset_traffic(self) -> None:
        self._window_start = None
        self._window_count = 0
        self._pause_until = None

    def record(self, endpoint: str, code: int) -> None:
        """Count an answer decided outside the engine (e.g. a 400 for a bad body)."""
        with self._lock:
            self._counters.requests[endpoint][str(code)] += 1

    def reset(self, state: bool = False) -> None:
        """Clear counters, the rate-limit window and the announced pause; with ``state`` also mechanics and orders."""
        with self._lock:
            self._counters = _Counters()
            self._counters.in_flight_max = self._in_flight
            self._reset_traffic()
            if state:
                self._mechanics.clear()
                self._orders.clear()

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        """Track concurrent ``GET /api/orders/{number}`` requests (current and peak)."""
        with self._lock:
            self._in_flight += 1
            self._counters.in_flight_max = max(self._counters.in_flight_max, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            counters = self._counters
            statuses = Counter({status: 0 for status in STATUSES})
            for order in self._orders.values():
                statuses[self._status_of(order, now)[0]] += 1
            pause_left = 0.0
            if self._pause_until is not None and now < self._pause_until:
                pause_left = self._pause_until - now
            return {
                "uptime_seconds": round(now - self._started_at, 3),
                "requests": {endpoint: dict(sorted(counters.requests[endpoint].items())) for endpoint in ENDPOINTS},
                "order_gets": {
                    "total": sum(counters.gets_by_order.values()),
                    "distinct_orders": len(counters.gets_by_order),
                    "by_order": dict(counters.gets_by_order),
                },
                "rate_limited": counters.rate_limited,
                "during_pause": counters.during_pause,
                "pause_remaining_seconds": round(pause_left, 3),
                "faults": counters.faults,
                "in_flight": {"current": self._in_flight, "max": counters.in_flight_max},
                "mechanics": len(self._mechanics),
                "orders": {"total": len(self._orders), **statuses},
                "config": self._config.to_json(),
            }

    # ------------------------------------------------------------------ public API

    def add_mechanic(self, mechanic: Mechanic, *, count: bool = True) -> int:
        """200 registered, 409 when its ``match`` is already registered."""
        with self._lock:
            if mechanic.match in self._mechanics:
                code = 409
            else:
                self._mechanics[mechanic.match] = _MechanicEntry(mechanic, self._clock())
                code = 200
            if count:
                self._counters.requests[ENDPOINT_GOODS][str(code)] += 1
            return code

    def add_order(self, number: str, goods: tuple[Good, ...], *, count: bool = True) -> int:
        """202 accepted, 409 when the number is already registered."""
        with self._lock:
            if number in self._orders:
                code = 409
            else:
                self._orders[number] = _Order(
                    number=number,
                    goods=tuple(goods),
                    registered_at=self._clock(),
                    calc_seconds=self._config.calc_seconds,
                )
                code = 202
            if count:
                self._counters.requests[ENDPOINT_ORDERS][str(code)] += 1
            return code

    def poll(self, number: str) -> PollResult:
        """Answer ``GET /api/orders/{number}``: pause accounting, rate limit, fault, then the order."""
        with self._lock:
            now = self._clock()
            config = self._config
            delay = config.latency_ms / 1000.0
            counters = self._counters
            counters.gets_by_order[number] += 1
            if self._pause_until is not None and now < self._pause_until:
                counters.during_pause += 1

            result = self._rate_limit(now, config, delay)
            if result is None and config.fault_rate > 0 and self._rng.random() < config.fault_rate:
                counters.faults += 1
                result = PollResult(code=500, delay_seconds=delay)
            if result is None:
                order = self._orders.get(number)
                if order is None:
                    result = PollResult(code=204, delay_seconds=delay)
                else:
                    status, accrual = self._status_of(order, now)
                    body: dict[str, Any] = {"order": number, "status": status}
                    if accrual is not None:
                        body["accrual"] = json_amount(accrual)
                    result = PollResult(code=200, body=body, delay_seconds=delay)
            counters.requests[ENDPOINT_ORDER_STATUS][str(result.code)] += 1
            return result

    # ------------------------------------------------------------------ rules

    def _rate_limit(self, now: float, config: SimConfig, delay: float) -> PollResult | None:
        """Fixed window: it opens with the first request after the previous one closed."""
        if config.rate_limit <= 0:
            return None
        window_start = self._window_start
        if window_start is None or now >= window_start + config.rate_window:
            window_start = self._window_start = now
            self._window_count = 0
        if self._window_count < config.rate_limit:
            self._window_count += 1
            return None
        retry_after = max(1, math.ceil(window_start + config.rate_window - now))
        pause_until = now + retry_after
        if self._pause_until is None or pause_until > self._pause_until:
            self._pause_until = pause_until
        self._counters.rate_limited += 1
        return PollResult(
            code=429,
            retry_after=retry_after,
            limit_message=(
                f"No more than {per_minute(config.rate_limit, config.rate_window)} requests per minute allowed"
            ),
            delay_seconds=delay,
        )

    def _status_of(self, order: _Order, now: float) -> tuple[str, Decimal | None]:
        """Status (and accrual, if any) of ``order`` at ``now``.

        ``REGISTERED`` for the first third of the calculation time, ``PROCESSING``
        until it ends, then final. The reward uses the mechanics registered by the
        end of the calculation time; it is computed once and kept.
        """
        if order.final_status is not None:
            return order.final_status, order.accrual
        elapsed = now - order.registered_at
        if elapsed < order.calc_seconds:
            return (REGISTERED if elapsed < order.calc_seconds / 3 else PROCESSING), None
        if not order.goods:
            order.final_status = INVALID
            return INVALID, None
        mechanics = [entry.mechanic for entry in self._mechanics.values() if entry.registered_at <= order.ready_at]
        total = accrual_for(order.goods, mechanics)
        order.final_status = PROCESSED
        order.accrual = total if total > 0 else None
        return order.final_status, order.accrual
