"""Handing in order numbers and listing them."""

from __future__ import annotations

import enum
import logging

from datetime import timedelta

from gophermart.errors import Conflict
from gophermart.extensions import db
from gophermart.models import Order, utcnow
from gophermart.services.sql import insert_or_ignore
from gophermart.tasks import enqueue_check

log = logging.getLogger(__name__)

DIRECT_CHECK_GRACE_SECONDS = 10


class Submission(enum.Enum):
    ACCEPTED = "accepted"
    ALREADY_YOURS = "already yours"


def submit_order(user_id: int, number: str) -> Submission:
    """Store a new order as NEW; a number is accepted once, from one user, ever."""
    now = utcnow()
    order_id = db.session.execute(
        # The check is queued right after the commit; the sweep steps in only if it is lost.
        insert_or_ignore(Order, number=number, user_id=user_id, uploaded_at=now, updated_at=now,
                         next_check_at=now + timedelta(seconds=DIRECT_CHECK_GRACE_SECONDS))
    ).scalar()
    if order_id is None:
        owner_id = db.session.execute(db.select(Order.user_id).filter_by(number=number)).scalar_one()
        db.session.rollback()
        if owner_id != user_id:
            raise Conflict("This order number was handed in by another user.")
        return Submission.ALREADY_YOURS
    db.session.commit()
    enqueue_check(order_id)
    log.info("order accepted", extra={"order_id": order_id, "order_number": number, "user_id": user_id, "status": "NEW"})
    return Submission.ACCEPTED


def list_orders(user_id: int):
    """The user's orders, newest upload first: plain rows of the listed columns (a user may
    have thousands, and ORM objects would cost several times as much to build)."""
    return db.session.execute(
        db.select(Order.number, Order.status, Order.accrual, Order.uploaded_at)
        .filter_by(user_id=user_id)
        .order_by(Order.uploaded_at.desc(), Order.id.desc())
    ).all()
