"""GET /api/user/orders on PostgreSQL: the database builds the list's JSON, and it must be
the bytes the Python presenter (api.present, used on other databases) would write."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gophermart.api import present
from gophermart.extensions import db
from gophermart.models import Order, OrderStatus
from gophermart.services.orders import builds_json, list_orders, list_orders_json
from tests.support.factories import luhn_number, user_id_of

UTC = UTC
MOSCOW = timezone(timedelta(hours=3))

EDGE_ORDERS = [
    # (status, accrual, uploaded_at)
    (OrderStatus.NEW, None, datetime(2026, 1, 2, 3, 4, 5, 999_999, tzinfo=UTC)),
    (OrderStatus.PROCESSING, None, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    (OrderStatus.INVALID, None, datetime(1999, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)),
    (OrderStatus.PROCESSED, Decimal("0.01"), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    (OrderStatus.PROCESSED, Decimal("0.10"), datetime(2026, 6, 30, 23, 30, tzinfo=MOSCOW)),
    (OrderStatus.PROCESSED, Decimal("1.00"), datetime(2026, 6, 30, 1, 30, tzinfo=MOSCOW)),
    (OrderStatus.PROCESSED, Decimal("500.5"), datetime(2024, 2, 29, 12, 0, tzinfo=UTC)),
    (OrderStatus.PROCESSED, Decimal("729.98"), datetime(2026, 11, 23, 0, 0, tzinfo=UTC)),
    (OrderStatus.PROCESSED, Decimal("1000000"), datetime(2026, 11, 23, 0, 0, 1, tzinfo=UTC)),
    (OrderStatus.PROCESSED, Decimal("999999999999.99"), datetime(2026, 11, 23, 0, 0, 2, tzinfo=UTC)),
]


def alice(app) -> int:
    with app.app_context():
        return user_id_of("alice")


def store_orders(app, user_id: int, orders, numbers=None) -> None:
    with app.app_context():
        db.session.execute(db.delete(Order).where(Order.user_id == user_id))
        for i, (status, accrual, uploaded_at) in enumerate(orders):
            number = numbers[i] if numbers else luhn_number(80_000 + i)
            db.session.add(
                Order(
                    number=number,
                    user_id=user_id,
                    status=status,
                    accrual=accrual,
                    uploaded_at=uploaded_at,
                    updated_at=uploaded_at,
                    next_check_at=uploaded_at,
                )
            )
        db.session.commit()


def both_renderings(app, user_id: int) -> tuple[str | None, str | None]:
    """Both, read by a session in a time zone other than UTC (the database's is UTC): the
    times must come out in UTC all the same. SET LOCAL ends with the transaction."""
    with app.test_request_context():
        assert builds_json()
        db.session.execute(sa.text("SET LOCAL TIME ZONE 'Asia/Kathmandu'"))  # +05:45
        try:
            return list_orders_json(user_id), present.order_list(list_orders(user_id))
        finally:
            db.session.rollback()


def test_database_json_is_byte_for_byte_the_presenters(auth_client, app):
    numbers = [luhn_number(80_000 + i) for i in range(len(EDGE_ORDERS) - 2)]
    numbers += [luhn_number(10**253), "0" + luhn_number(123)]  # 255 digits; a leading zero
    user_id = alice(app)
    store_orders(app, user_id, EDGE_ORDERS, numbers)
    from_database, from_python = both_renderings(app, user_id)
    assert from_database == from_python
    assert from_database is not None
    assert '"accrual":0.1,' in from_database and '"accrual":1000000,' in from_database
    assert '"uploaded_at":"2026-06-29T22:30:00+00:00"' in from_database  # converted to UTC

    response = auth_client.get("/api/user/orders")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.data == f"{from_python}\n".encode()
    newest_first = [9, 8, 7, 4, 5, 0, 3, 1, 6, 2]  # 3 and 1: the same moment, the later id first
    assert [item["number"] for item in response.json] == [numbers[i] for i in newest_first]


def test_no_orders_is_none_both_ways(auth_client, app):
    assert both_renderings(app, alice(app)) == (None, None)


accruals = st.none() | st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999999.99"), places=2)
moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(OrderStatus), accruals, moments), min_size=1, max_size=12))
def test_any_orders_render_the_same_both_ways(auth_client, app, orders):
    orders = [
        (status, accrual if status is OrderStatus.PROCESSED else None, moment) for status, accrual, moment in orders
    ]
    user_id = alice(app)
    store_orders(app, user_id, orders)
    from_database, from_python = both_renderings(app, user_id)
    assert from_database == from_python
