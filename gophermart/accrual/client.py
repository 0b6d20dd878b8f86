"""The accrual system client: one pooled HTTP session, explicit timeouts, typed outcomes.

One call is one request; retries and pacing live in the service that calls it
(gophermart.accrual.checks), so there is exactly one retry layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import requests
import simplejson
from requests.adapters import HTTPAdapter

from gophermart.money import MAX_AMOUNT

DEFAULT_RETRY_AFTER = 60.0
MAX_RETRY_AFTER = 600.0
# A zero, or a date already past: still a short stop, never a burst at full speed.
MIN_RETRY_AFTER = 1.0
# ASCII digits only (a str pattern's \d takes any Unicode digit); more than nine of them
# is no limit anyone publishes, and int() refuses a few thousand.
_LIMIT_TEXT = re.compile(r"No more than ([0-9]{1,9}) requests per minute", re.IGNORECASE)
_SECONDS = re.compile(r"[0-9]+")


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
    """5xx, a timeout or a connection error: worth retrying at once."""

    reason: str


@dataclass(frozen=True)
class ContractViolation:
    """A 200 that breaks the accrual system's contract: not JSON, an unknown status, another
    order's number, an accrual that is not a sane JSON number. Its fault, not ours: nothing
    is recorded, and the order is asked again with back-off."""

    reason: str


Outcome = Final | Pending | NotRegistered | RateLimited | Unavailable | ContractViolation


def parse_retry_after(value: str | None, now: datetime | None = None) -> float:
    """Seconds to wait: `Retry-After` as seconds or an HTTP date, kept between 1 s and 10
    minutes; 60 s if unreadable."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    if _SECONDS.fullmatch(value):
        # Past nine digits it is over the cap anyway: no float() of thousands of digits.
        seconds = float(value) if len(value) <= 9 else MAX_RETRY_AFTER
        return min(max(seconds, MIN_RETRY_AFTER), MAX_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return DEFAULT_RETRY_AFTER
    if moment is None:
        return DEFAULT_RETRY_AFTER
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, MIN_RETRY_AFTER), MAX_RETRY_AFTER)


def parse_limit(body: str) -> int | None:
    match = _LIMIT_TEXT.search(body or "")
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None


class AccrualClient:
    def __init__(self, base_url: str, connect_timeout: float = 2.0, read_timeout: float = 5.0, pool_size: int = 16):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.session = requests.Session()
        # The environment's proxy, .netrc and CA bundle settings are read once: requests would
        # read them again for every call, which cost a check more CPU than its request did.
        environment = self.session.merge_environment_settings(self.base_url, {}, None, None, None)
        self.session.proxies.update(environment["proxies"])
        self.session.verify = environment["verify"]
        self.session.auth = requests.utils.get_netrc_auth(self.base_url)
        self.session.trust_env = False
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # Every check's request is this one with another number: prepared once, with the
        # session's headers and credentials, instead of merging them into a new request on
        # every call (a quarter of a call's CPU: bench/FINDINGS.md).
        self._prepared = self.session.prepare_request(requests.Request("GET", f"{self.base_url}/api/orders/"))

    def _request_for(self, number: str) -> requests.PreparedRequest:
        # The number as one path segment, whatever it holds.
        url = f"{self._prepared.url}{quote(number, safe='')}"
        if self.session.cookies:  # the server set some: a request prepared afresh sends them back
            return self.session.prepare_request(requests.Request("GET", url))
        request = self._prepared.copy()
        request.url = url
        return request

    def fetch(self, number: str) -> Outcome:
        """GET /api/orders/{number}, mapped to an outcome; never raises for network trouble."""
        try:
            response = self.session.send(self._request_for(number), timeout=self.timeout)
        except requests.RequestException as exc:
            return Unavailable(type(exc).__name__)
        if response.status_code == 204:
            return NotRegistered()
        if response.status_code == 429:
            return RateLimited(parse_retry_after(response.headers.get("Retry-After")), parse_limit(response.text))
        if response.status_code != 200:
            return Unavailable(f"HTTP {response.status_code}")
        return _parse_answer(response.content, number)


def _parse_answer(content: bytes, number: str) -> Outcome:
    """The 200's body as an outcome; anything off the contract is a ContractViolation."""
    try:
        body = simplejson.loads(content, use_decimal=True, allow_nan=False)
    except (ValueError, RecursionError):
        return ContractViolation("the body is not JSON")
    except ArithmeticError:  # decimal.InvalidOperation: an exponent beyond what Decimal holds
        return ContractViolation("a number in the body is out of range")
    if not isinstance(body, dict):
        return ContractViolation(f"the body is not a JSON object: {_shown(body)}")
    if body.get("order") != number:
        return ContractViolation(f"the answer is about another order: {_shown(body.get('order'))}")
    status = body.get("status")
    if status in ("REGISTERED", "PROCESSING"):
        return Pending(status)
    if status == "INVALID":
        return Final("INVALID")
    if status != "PROCESSED":
        return ContractViolation(f"unknown status {_shown(status)}")
    accrual = body.get("accrual")
    if accrual is None:
        return Final("PROCESSED")
    # A bool is an int to Python, and "500" is no number to the contract.
    if isinstance(accrual, bool) or not isinstance(accrual, (int, Decimal)):
        return ContractViolation(f"the accrual is not a JSON number: {_shown(accrual)}")
    accrual = Decimal(accrual)
    if accrual < 0:
        return ContractViolation(f"the accrual is negative: {_shown(accrual)}")
    if accrual > MAX_AMOUNT:
        return ContractViolation(f"the accrual is beyond any balance: {_shown(accrual)}")
    return Final("PROCESSED", accrual)


def _shown(value: object) -> str:
    """The offending value for the log, cut short: it comes from outside."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
