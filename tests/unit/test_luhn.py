import pytest

from gophermart.luhn import is_valid_order_number, luhn_valid


@pytest.mark.parametrize("number", ["12345678903", "9278923470", "346436439", "2377225624", "0", "00", "79927398713"])
def test_valid_numbers(number):
    assert is_valid_order_number(number)


@pytest.mark.parametrize("number", ["12345678900", "1", "79927398710", "2377225625"])
def test_luhn_failures(number):
    assert not luhn_valid(number)
    assert not is_valid_order_number(number)


@pytest.mark.parametrize("number", ["", "12a45", " 12345678903", "１２３", "٣", "-0", "+0", 12345678903, None])
def test_not_a_digit_string(number):
    assert not is_valid_order_number(number)


def test_length_limit_is_255_digits():
    body = "0" * 254
    # Leading zeros count and do not change the checksum.
    assert is_valid_order_number(body + "0")
    assert not is_valid_order_number(body + "00")


def test_matches_reference_implementation():
    def reference(number: str) -> bool:
        digits = [int(c) for c in number]
        odd = digits[-1::-2]
        even = [sum(divmod(2 * d, 10)) for d in digits[-2::-2]]
        return (sum(odd) + sum(even)) % 10 == 0

    for n in range(0, 20000, 7):
        assert luhn_valid(str(n)) == reference(str(n)), n
