"""Reward mechanics, goods and the accrual arithmetic.

Money is never a binary float here: every amount is a :class:`~decimal.Decimal`,
the rewards of an order are added up exactly and only the total is rounded,
half-up, to the cent.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

REWARD_PERCENT = "%"
REWARD_POINTS = "pt"
REWARD_TYPES = (REWARD_PERCENT, REWARD_POINTS)

CENT = Decimal("0.01")
HUNDRED = Decimal(100)

# Enough digits for any product and sum of the amounts the payload rules admit
# (each below 10**15), so the exact sum is never rounded before the final cent.
_EXACT = decimal.Context(prec=120, rounding=ROUND_HALF_UP, Emax=999999, Emin=-999999)


@dataclass(frozen=True)
class Mechanic:
    """A reward rule: goods whose description contains ``match`` earn ``reward``."""

    match: str
    reward: Decimal
    reward_type: str

    def reward_for(self, good: Good) -> Decimal:
        """The exact (unrounded) reward this mechanic gives ``good``; 0 if it does not match."""
        if self.match not in good.description:
            return Decimal(0)
        if self.reward_type == REWARD_PERCENT:
            return _EXACT.divide(_EXACT.multiply(good.price, self.reward), HUNDRED)
        return self.reward


@dataclass(frozen=True)
class Good:
    description: str
    price: Decimal


def accrual_for(goods: Iterable[Good], mechanics: Iterable[Mechanic]) -> Decimal:
    """Total reward for ``goods``, rounded half-up to the cent.

    Every mechanic whose ``match`` is a case-sensitive substring of a good's
    description counts, so one good may earn several rewards.
    """
    mechanics = tuple(mechanics)
    total = Decimal(0)
    for good in goods:
        for mechanic in mechanics:
            total = _EXACT.add(total, mechanic.reward_for(good))
    return total.quantize(CENT, context=_EXACT)


def json_amount(amount: Decimal) -> Decimal:
    """``amount`` rounded to the cent and shaped to print as a plain JSON number.

    ``Decimal("500.00")`` becomes ``Decimal("500")`` (never ``5E+2``) and
    ``Decimal("27.50")`` becomes ``Decimal("27.5")``.
    """
    rounded = amount.quantize(CENT, context=_EXACT)
    if rounded == 0:
        return Decimal(0)
    normal = rounded.normalize(context=_EXACT)
    if int(normal.as_tuple().exponent) > 0:
        normal = normal.quantize(Decimal(1), context=_EXACT)
    return normal
