"""POST and GET /api/user/orders."""

from flask import Response, jsonify
from flask_login import current_user, login_required

from gophermart.api import api, present
from gophermart.api.request_body import plain_text
from gophermart.errors import Unprocessable
from gophermart.luhn import is_valid_order_number
from gophermart.services.orders import Submission, list_orders, submit_order


@api.post("/orders")
@login_required
def hand_in_order() -> Response:
    number = plain_text()
    if not is_valid_order_number(number):
        raise Unprocessable("The order number must be up to 255 digits and pass the Luhn check.")
    outcome = submit_order(current_user.id, number)
    return present.empty(202 if outcome is Submission.ACCEPTED else 200)


@api.get("/orders")
@login_required
def orders() -> Response:
    items = list_orders(current_user.id)
    if not items:
        return present.empty(204)
    return jsonify([present.order(item) for item in items])
