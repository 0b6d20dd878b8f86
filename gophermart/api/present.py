"""How domain objects look on the wire: amounts as plain numbers, RFC 3339 timestamps."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Response

from gophermart.models import Order, Withdrawal
from gophermart.money import for_json


def timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def order(item: Order) -> dict:
    body = {"number": item.number, "status": item.status.value}
    if item.accrual:
        body["accrual"] = for_json(item.accrual)
    body["uploaded_at"] = timestamp(item.uploaded_at)
    return body


def withdrawal(item: Withdrawal) -> dict:
    return {"order": item.order_number, "sum": for_json(item.sum), "processed_at": timestamp(item.processed_at)}


def empty(status: int) -> Response:
    """A bodiless answer (200/202 to a POST, 204): no Content-Type to mislead clients."""
    response = Response(status=status)
    del response.headers["Content-Type"]
    return response
