"""GET /api/user/balance, POST /api/user/balance/withdraw, GET /api/user/withdrawals."""

from flask import Response, jsonify
from flask_login import current_user, login_required

from gophermart.api import api, present
from gophermart.api.request_body import json_object
from gophermart.errors import BadRequest, Unprocessable
from gophermart.luhn import is_valid_order_number
from gophermart.money import for_json, to_amount
from gophermart.services import ledger


@api.get("/balance")
@login_required
def balance() -> Response:
    current = ledger.get_balance(current_user)
    return jsonify({"current": for_json(current.current), "withdrawn": for_json(current.withdrawn)})


@api.post("/balance/withdraw")
@login_required
def withdraw() -> Response:
    body = json_object()
    order_number = body.get("order")
    if not isinstance(order_number, str):
        raise BadRequest("Send a JSON object with a string field order and a number field sum.")
    try:
        amount = to_amount(body.get("sum"))
    except ValueError as exc:
        raise BadRequest(f"sum {exc}.") from None
    if not is_valid_order_number(order_number):
        raise Unprocessable("The order number must be up to 255 digits and pass the Luhn check.")
    ledger.withdraw(current_user.id, order_number, amount)
    return present.empty(200)


@api.get("/withdrawals")
@login_required
def withdrawals() -> Response:
    items = ledger.list_withdrawals(current_user.id)
    if not items:
        return present.empty(204)
    return jsonify([present.withdrawal(item) for item in items])
