"""The accrual system client: one pooled HTTP session, explicit timeouts, typed outcomes.

One call is one request; retries and pacing live in the service that calls it
(gophermart.accrual.checks), so there is exactly one retry layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime

import requests
import simplejson
from requests.adapters import HTTPAdapter

DEFAULT_RETRY_AFTER = 60.0
MAX_RETRY_AFTER = 600.0
_LIMIT_TEXT = re.compile(r"No more than (\d+) requests per minute", re.IGNORECASE)


@dataclass(frozen=True)
class Final:
    """INVALID, or PROCESSED with the points earned (None or 0: nothing to credit)."""

    status: str
    accrual: Decimal | None = None


@dataclass(frozen=True)
class Pending:
    """REGISTERED or PROCESSING: the accrual system is still calculating."""

    status: str


@dataclass(frozen=True)
class NotRegistered:
    """204: the accrual system does not know the order yet; it may any time."""


@dataclass(frozen=True)
class RateLimited:
    retry_after: float
    per_minute: int | None


@dataclass(frozen=True)
class Unavailable:
    """5xx, a timeout, a connection error or an unreadable answer: worth retrying."""

    reason: str


Outcome = Final | Pending | NotRegistered | RateLimited | Unavailable


def parse_retry_after(value: str | None, now: datetime | None = None) -> float:
    """Seconds to wait: `Retry-After` as seconds or an HTTP date, capped; 60 s if unreadable."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return DEFAULT_RETRY_AFTER
    if moment is None:
        return DEFAULT_RETRY_AFTER
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def parse_limit(body: str) -> int | None:
    match = _LIMIT_TEXT.search(body or "")
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None


class AccrualClient:
    def __init__(self, base_url: str, connect_timeout: float = 2.0, read_timeout: float = 5.0, pool_size: int = 16):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def fetch(self, number: str) -> Outcome:
        """GET /api/orders/{number}, mapped to an outcome; never raises for network trouble."""
        try:
            response = self.session.get(f"{self.base_url}/api/orders/{number}", timeout=self.timeout)
        except requests.RequestException as exc:
            return Unavailable(type(exc).__name__)
        if response.status_code == 204:
            return NotRegistered()
        if response.status_code == 429:
            return RateLimited(parse_retry_after(response.headers.get("Retry-After")), parse_limit(response.text))
        if response.status_code != 200:
            return Unavailable(f"HTTP {response.status_code}")
        return _parse_answer(response.content)


def _parse_answer(content: bytes) -> Outcome:
    try:
        body = simplejson.loads(content, use_decimal=True)
        status = body["status"]
        accrual = body.get("accrual")
        accrual = None if accrual is None else Decimal(accrual)
    except (ValueError, KeyError, TypeError, InvalidOperation, AttributeError):
        return Unavailable("unreadable answer")
    if status in ("REGISTERED", "PROCESSING"):
        return Pending(status)
    if status == "INVALID":
        return Final("INVALID")
    if status == "PROCESSED" and (accrual is None or (accrual.is_finite() and accrual >= 0)):
        return Final("PROCESSED", accrual)
    return Unavailable(f"unexpected answer {status!r}")
