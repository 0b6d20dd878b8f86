"""How domain objects look on the wire: amounts as plain numbers, RFC 3339 timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Response, current_app
from sqlalchemy.engine import Row

from gophermart.models import Withdrawal
from gophermart.money import for_json

_NO_OFFSET = timedelta(0)


def timestamp(moment: datetime) -> str:
    # PostgreSQL hands back its session time zone (often Etc/UTC, a zone object, not
    # timezone.utc); a moment already at offset zero prints the same without converting.
    if moment.utcoffset() != _NO_OFFSET:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="seconds")


def order(row: Row) -> dict:
    """A row of services.orders.list_orders (lists run to thousands: a row is unpacked,
    far cheaper than reading its fields by name)."""
    number, status, accrual, uploaded_at = row
    body = {"number": number, "status": status.value}
    if accrual:
        body["accrual"] = for_json(accrual)
    body["uploaded_at"] = timestamp(uploaded_at)
    return body


def order_list(rows) -> str | None:
    """Rows of services.orders.list_orders as a JSON array, or None when there are none.
    (On PostgreSQL the database builds the same text: services.orders.list_orders_json.)"""
    return current_app.json.dumps([order(row) for row in rows]) if rows else None


def json_text(body: str) -> Response:
    """A JSON body already encoded, answered as jsonify answers."""
    return current_app.response_class(f"{body}\n", mimetype="application/json")


def withdrawal(item: Withdrawal) -> dict:
    return {"order": item.order_number, "sum": for_json(item.sum), "processed_at": timestamp(item.processed_at)}


def empty(status: int) -> Response:
    """A bodiless answer (200/202 to a POST, 204): no Content-Type to mislead clients."""
    response = Response(status=status)
    del response.headers["Content-Type"]
    return response
