"""Order numbers: ASCII digit strings of at most 255 digits passing the Luhn check."""

import re

MAX_DIGITS = 255
_DIGITS = re.compile(r"[0-9]+")


def luhn_valid(number: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = ord(char) - 48
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def is_valid_order_number(number: object) -> bool:
    return (
        isinstance(number, str)
        and len(number) <= MAX_DIGITS
        and _DIGITS.fullmatch(number) is not None
        and luhn_valid(number)
    )


def with_check_digit(prefix: str) -> str:
    """`prefix` followed by the digit that makes it pass the Luhn check."""
    return next(f"{prefix}{check}" for check in range(10) if luhn_valid(f"{prefix}{check}"))
