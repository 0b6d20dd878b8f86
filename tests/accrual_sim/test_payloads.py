from decimal import Decimal

import pytest

from accrual_sim.payloads import (
    PayloadError,
    luhn_valid,
    mechanic_from,
    order_from,
    parse_json,
)


@pytest.mark.parametrize("number", ["0", "18", "79927398713", "12345678903", "9278923470", "00000000"])
def test_luhn_valid_numbers(number):
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["", "1", "79927398710", "12345678900", " 18", "18 ", "1-8", "١٨", "+18"])
def test_luhn_invalid_numbers(number):
    assert not luhn_valid(number)


def test_numbers_are_read_as_decimals():
    assert parse_json(b'{"a": 147.5, "b": 7000, "c": 1e2}') == {
        "a": Decimal("147.5"),
        "b": Decimal("7000"),
        "c": Decimal("1E+2"),
    }


@pytest.mark.parametrize("raw", [b"", b"  ", b"{", b"\xff\xfe", b"NaN", b'{"a": Infinity}', b'{"a": -Infinity}'])
def test_bad_json_is_refused(raw):
    with pytest.raises(PayloadError):
        parse_json(raw)


def test_mechanic():
    mechanic = mechanic_from(parse_json('{"match": "Bork", "reward": 10, "reward_type": "%"}'))
    assert (mechanic.match, mechanic.reward, mechanic.reward_type) == ("Bork", Decimal(10), "%")
    assert mechanic_from(parse_json('{"match": "X", "reward": 0, "reward_type": "pt"}')).reward == 0


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        '"Bork"',
        '{"reward": 10, "reward_type": "%"}',
        '{"match": "", "reward": 10, "reward_type": "%"}',
        '{"match": "  ", "reward": 10, "reward_type": "%"}',
        '{"match": 5, "reward": 10, "reward_type": "%"}',
        '{"match": "Bork", "reward_type": "%"}',
        '{"match": "Bork", "reward": "10", "reward_type": "%"}',
        '{"match": "Bork", "reward": true, "reward_type": "%"}',
        '{"match": "Bork", "reward": null, "reward_type": "%"}',
        '{"match": "Bork", "reward": -1, "reward_type": "%"}',
        '{"match": "Bork", "reward": 1e15, "reward_type": "%"}',
        '{"match": "Bork", "reward": 10}',
        '{"match": "Bork", "reward": 10, "reward_type": "percent"}',
        '{"match": "Bork", "reward": 10, "reward_type": "PT"}',
    ],
)
def test_bad_mechanic(body):
    with pytest.raises(PayloadError):
        mechanic_from(parse_json(body))


def test_order():
    number, goods = order_from(
        parse_json('{"order": "12345678903", "goods": [{"description": "Чайник Bork", "price": 7000}]}')
    )
    assert number == "12345678903"
    assert goods[0].description == "Чайник Bork"
    assert goods[0].price == Decimal(7000)
    assert order_from(parse_json('{"order": "18", "goods": []}')) == ("18", ())


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        '{"goods": []}',
        '{"order": 18, "goods": []}',
        '{"order": "", "goods": []}',
        '{"order": "19", "goods": []}',
        '{"order": "1a8", "goods": []}',
        '{"order": " 18", "goods": []}',
        '{"order": "18"}',
        '{"order": "18", "goods": {}}',
        '{"order": "18", "goods": [1]}',
        '{"order": "18", "goods": [{"price": 1}]}',
        '{"order": "18", "goods": [{"description": 1, "price": 1}]}',
        '{"order": "18", "goods": [{"description": "x"}]}',
        '{"order": "18", "goods": [{"description": "x", "price": "1"}]}',
        '{"order": "18", "goods": [{"description": "x", "price": -0.01}]}',
    ],
)
def test_bad_order(body):
    with pytest.raises(PayloadError):
        order_from(parse_json(body))
