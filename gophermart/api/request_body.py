"""Strict parsing of request bodies: anything malformed becomes a 400, never a 500."""

from __future__ import annotations

import json
from decimal import Decimal

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from gophermart.errors import BadRequest, Unprocessable
from gophermart.luhn import is_valid_order_number


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number")


def raw_body() -> bytes:
    """The body, refused with 413 past MAX_BODY_BYTES (Werkzeug checks a Content-Length).
    A chunked body has no length to check: its stream just stops at the cap, so a chunked
    body that fills the cap is taken as too large."""
    raw = request.get_data(cache=False)
    if request.content_length is None and len(raw) >= current_app.config["MAX_CONTENT_LENGTH"]:
        raise RequestEntityTooLarge()
    return raw


def json_object() -> dict:
    """The body as a JSON object; every number comes as an exact Decimal."""
    raw = raw_body()
    try:
        # Whole numbers as Decimals too: int() refuses more than 4300 digits, which would make
        # a too-large sum a malformed body instead of a sum larger than any balance.
        body = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError, ArithmeticError):  # a number Decimal cannot hold
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    return body


def plain_text() -> str:
    """The body as text with surrounding whitespace removed; empty or binary is a 400."""
    raw = raw_body()
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise BadRequest("The body is not text.") from None
    if not text:
        raise BadRequest("The body is empty.")
    return text


def credentials() -> tuple[str, str]:
    body = json_object()
    login, password = body.get("login"), body.get("password")
    if not isinstance(login, str) or not login or not isinstance(password, str) or not password:
        raise BadRequest("Send a JSON object with non-empty string fields login and password.")
    if len(login) > 255 or not login.isprintable():
        raise BadRequest("The login must be at most 255 printable characters.")
    return login, _checked_password(password)


def password_change() -> tuple[str, str]:
    body = json_object()
    old, new = body.get("password"), body.get("new_password")
    if not isinstance(old, str) or not old or not isinstance(new, str) or not new:
        raise BadRequest("Send a JSON object with non-empty string fields password and new_password.")
    return _checked_password(old), _checked_password(new)


def _checked_password(password: str) -> str:
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape
        raise BadRequest("The password is not valid Unicode text.") from None
    return password


def order_number(text: str) -> str:
    """An order number as sent: up to 255 ASCII digits passing the Luhn check, else a 422."""
    if not is_valid_order_number(text):
        raise Unprocessable("The order number must be up to 255 digits and pass the Luhn check.")
    return text
