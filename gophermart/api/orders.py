"""POST and GET /api/user/orders."""

from flask import Response
from flask_login import current_user, login_required

from gophermart.api import api, present
from gophermart.api.request_body import plain_text
from gophermart.errors import Unprocessable
from gophermart.luhn import is_valid_order_number
from gophermart.services.orders import Submission, builds_json, list_orders, list_orders_json, submit_order


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
    if builds_json():
        body = list_orders_json(current_user.id)
    else:
        body = present.order_list(list_orders(current_user.id))
    if body is None:
        return present.empty(204)
    return present.json_text(body)
