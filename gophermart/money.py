"""Money: exact decimals with two places, parsed strictly and rendered as plain JSON numbers."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
# NUMERIC(14, 2): twelve digits before the point, far beyond any real balance.
MAX_AMOUNT = Decimal("999999999999.99")


def to_amount(value: object) -> Decimal:
    """A JSON-decoded number as an exact amount; raises ValueError for anything else.

    The amount must be a number (not a bool or a string), finite, positive and with at
    most two decimals in value: `5.000` is fine, `5.001` is not.
    """
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValueError("must be a number")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError("must be a finite number")
    if amount <= 0:
        raise ValueError("must be positive")
    if decimal_places(amount) > 2:
        raise ValueError("must have at most two decimal places")
    return amount


def decimal_places(value: Decimal) -> int:
    """Decimal places that carry value, counted exactly (no context rounding)."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int), "only finite values have decimal places"
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing_zeros))


def round_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def for_json(value: Decimal) -> Decimal:
    """`500.00` → `500`, `500.50` → `500.5`: never an exponent like `5E+2`."""
    value = round_cents(value)
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()
