"""POST and GET /api/user/orders."""

from flask import Response
from flask_login import current_user, login_required

from gophermart.accrual.queueing import queue_first_check
from gophermart.api import present
from gophermart.api.blueprint import api
from gophermart.api.request_body import order_number, plain_text
from gophermart.services.orders import builds_json, list_orders, list_orders_json, submit_order


@api.post("/orders")
@login_required
def hand_in_order() -> Response:
    submission = submit_order(current_user.id, order_number(plain_text()))
    if not submission.accepted:
        return present.empty(200)
    queue_first_check(submission.order_id)  # after the commit; the sweep covers a lost one
    return present.empty(202)


@api.get("/orders")
@login_required
def orders() -> Response:
    # On PostgreSQL the database writes the list's JSON itself.
    body = list_orders_json(current_user.id) if builds_json() else present.order_list(list_orders(current_user.id))
    if body is None:
        return present.empty(204)
    return present.json_text(body)
