from decimal import Decimal

import pytest
import simplejson

from accrual_sim.calculation import Good, Mechanic, accrual_for, json_amount

D = Decimal


def dumps(amount: Decimal) -> str:
    return simplejson.dumps({"accrual": json_amount(amount)}, use_decimal=True)


def test_spec_example_with_percent_and_points():
    mechanics = [Mechanic("Pringles", D("10"), "%"), Mechanic("Coca-Cola", D("12.5"), "pt")]
    goods = [
        Good("Tefal kettle", D("7000")),
        Good("Pringles bacon", D("147.5")),
        Good("Coca-Cola Zero", D("55")),
    ]
    assert accrual_for(goods, mechanics) == D("27.25")
    assert dumps(accrual_for(goods, mechanics)) == '{"accrual": 27.25}'


def test_spec_example_rounds_half_up_to_the_cent():
    total = accrual_for([Good("TV Acme", D("14599.50"))], [Mechanic("Acme", D("5"), "%")])
    assert total == D("729.98")
    assert dumps(total) == '{"accrual": 729.98}'


def test_every_matching_mechanic_counts_and_matching_is_case_sensitive():
    mechanics = [
        Mechanic("Bork", D("10"), "%"),
        Mechanic("kettle", D("1"), "pt"),
        Mechanic("KETTLE", D("1000"), "pt"),
    ]
    assert accrual_for([Good("Bork kettle", D("100"))], mechanics) == D("11.00")


def test_only_the_total_is_rounded():
    # 3 x 0.005 = 0.015 -> 0.02 (rounding each good first would give 3 x 0.01 = 0.03)
    goods = [Good("Gum", D("0.1"))] * 3
    assert accrual_for(goods, [Mechanic("Gum", D("5"), "%")]) == D("0.02")


def test_no_match_is_zero():
    assert accrual_for([Good("Tefal kettle", D("7000"))], [Mechanic("Bork", D("10"), "%")]) == 0


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (D("500.00"), "500"),
        (D("5E+2"), "500"),
        (D("500"), "500"),
        (D("10"), "10"),
        (D("27.250"), "27.25"),
        (D("500.5"), "500.5"),
        (D("729.975"), "729.98"),
        (D("0.005"), "0.01"),
        (D("0.004"), "0"),
        (D("1E+14"), "100000000000000"),
    ],
)
def test_json_amount_is_a_plain_number(amount, text):
    assert dumps(amount) == '{"accrual": ' + text + "}"
