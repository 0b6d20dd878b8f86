"""Reading and checking request bodies (and seed-file entries).

JSON is read with every number as a :class:`~decimal.Decimal`; ``NaN`` and
``Infinity`` are refused. Each checker returns a typed value or raises
:class:`PayloadError` with a message fit for a ``400`` answer.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .calculation import REWARD_TYPES, Good, Mechanic

# Amounts at or above this are refused: no real price or reward comes near it,
# and it keeps the exact arithmetic small.
MAX_AMOUNT = Decimal(10) ** 15


class PayloadError(ValueError):
    """A request body (or seed entry) that does not follow the contract."""


def _refuse_constant(name: str) -> Any:
    raise PayloadError(f"{name} is not a valid JSON number")


def parse_json(raw: bytes | str) -> Any:
    """Decode a UTF-8 JSON document with exact decimal numbers."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PayloadError("body is not UTF-8 text") from exc
    if not raw.strip():
        raise PayloadError("body is empty")
    try:
        return json.loads(
            raw,
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=_refuse_constant,
        )
    except PayloadError:
        raise
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from exc


def luhn_valid(number: str) -> bool:
    """True when ``number`` is a non-empty ASCII digit string passing the Luhn check."""
    if not number or not number.isascii() or not number.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = ord(char) - 48
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _object(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise PayloadError(f"{what} must be a JSON object")
    return value


def _amount(container: dict, key: str, what: str) -> Decimal:
    if key not in container:
        raise PayloadError(f"{what}: `{key}` is missing")
    value = container[key]
    if not isinstance(value, Decimal):
        raise PayloadError(f"{what}: `{key}` must be a number")
    if value < 0:
        raise PayloadError(f"{what}: `{key}` must not be negative")
    if value >= MAX_AMOUNT:
        raise PayloadError(f"{what}: `{key}` is too large")
    return value


def mechanic_from(value: Any, what: str = "body") -> Mechanic:
    """A reward mechanic from ``{"match": ..., "reward": ..., "reward_type": ...}``."""
    body = _object(value, what)
    match = body.get("match")
    if not isinstance(match, str) or not match.strip():
        raise PayloadError(f"{what}: `match` must be a non-empty string")
    reward = _amount(body, "reward", what)
    reward_type = body.get("reward_type")
    if reward_type not in REWARD_TYPES:
        raise PayloadError(f'{what}: `reward_type` must be "%" or "pt"')
    return Mechanic(match=match, reward=reward, reward_type=reward_type)


def good_from(value: Any, what: str) -> Good:
    body = _object(value, what)
    description = body.get("description")
    if not isinstance(description, str):
        raise PayloadError(f"{what}: `description` must be a string")
    return Good(description=description, price=_amount(body, "price", what))


def order_from(value: Any, what: str = "body") -> tuple[str, tuple[Good, ...]]:
    """``(number, goods)`` from ``{"order": "<digits>", "goods": [...]}``."""
    body = _object(value, what)
    number = body.get("order")
    if not isinstance(number, str):
        raise PayloadError(f"{what}: `order` must be a string of digits")
    if not luhn_valid(number):
        raise PayloadError(f"{what}: `order` is not a Luhn-valid string of digits")
    goods = body.get("goods")
    if not isinstance(goods, list):
        raise PayloadError(f"{what}: `goods` must be a list")
    parsed = tuple(good_from(item, f"{what}: goods[{index}]") for index, item in enumerate(goods))
    return number, parsed
