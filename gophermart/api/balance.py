"""GET /api/user/balance, POST /api/user/balance/withdraw, GET /api/user/withdrawals."""

from flask import Response, jsonify
from flask_login import current_user, login_required

from gophermart.api import present
from gophermart.api.blueprint import api
from gophermart.api.request_body import json_object, order_number
from gophermart.errors import BadRequest
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
    number = body.get("order")
    if not isinstance(number, str):
        raise BadRequest("Send a JSON object with a string field order and a number field sum.")
    try:
        amount = to_amount(body.get("sum"))
    except ValueError as exc:
        raise BadRequest(f"sum {exc}.") from None
    ledger.withdraw(current_user.id, order_number(number), amount)
    return present.empty(200)


@api.get("/withdrawals")
@login_required
def withdrawals() -> Response:
    items = ledger.list_withdrawals(current_user.id)
    if not items:
        return present.empty(204)
    return jsonify([present.withdrawal(item) for item in items])
