from decimal import Decimal as D

import pytest
import simplejson

from gophermart.money import decimal_places, for_json, round_cents, to_amount


@pytest.mark.parametrize("value", [D("751"), 751, D("5.000"), D("0.01"), D("729.98"), D("1E+400")])
def test_accepts_positive_amounts_with_at_most_two_decimals(value):
    assert to_amount(value) == D(value)


@pytest.mark.parametrize(
    "value", [D("5.001"), D("0.001"), 0, D("-1"), D("-0.00"), D("NaN"), D("Infinity"), True, "5", None, [], {}]
)
def test_rejects_other_values(value):
    with pytest.raises(ValueError):
        to_amount(value)


def test_decimal_places_are_counted_exactly_beyond_context_precision():
    assert decimal_places(D("123456789012345678901234567.891")) == 3
    assert decimal_places(D("1.500")) == 1
    assert decimal_places(D("1E+5")) == 0


@pytest.mark.parametrize(
    "value,text",
    [
        (D("500"), "500"),
        (D("500.00"), "500"),
        (D("500.50"), "500.5"),
        (D("729.98"), "729.98"),
        (D("1E+2"), "100"),
        (D("0"), "0"),
        (D("0.10"), "0.1"),
        (D("999999999999.99"), "999999999999.99"),
    ],
)
def test_json_rendering_is_a_plain_literal(value, text):
    assert simplejson.dumps(for_json(value), use_decimal=True) == text


def test_rounding_is_half_up_to_the_cent():
    assert round_cents(D("729.975")) == D("729.98")
    assert round_cents(D("0.005")) == D("0.01")
    assert round_cents(D("0.004")) == D("0.00")
