"""Orders counted as they change (order_counts, kept by triggers): exact through every
transition, under concurrent hand-ins, on PostgreSQL and on the embedded SQLite file; and
a metrics scrape that never reads the orders table."""

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_migrate import upgrade

from gophermart import create_app
from gophermart.accrual import checks
from gophermart.extensions import db
from gophermart.models import PARKED, Order, OrderStatus, User, utcnow
from gophermart.services import ledger
from gophermart.services.orders import submit_order
from gophermart.services.users import register_user
from gophermart.web.metrics import DomainCollector
from tests.support.database import test_settings
from tests.support.factories import luhn_number, order_id_of, user_id_of
from tests.support.racing import fire_together
from tests.support.scrape import metric

KINDS = [status.value for status in OrderStatus] + [PARKED]


def kept_counts() -> dict[str, int]:
    """In an app context: what the scrape reads."""
    rows = db.session.execute(sa.text("SELECT kind, sum(n) FROM order_counts GROUP BY kind")).all()
    counts = {kind: int(n) for kind, n in rows}
    db.session.rollback()
    return {kind: counts.get(kind, 0) for kind in KINDS}


def true_counts() -> dict[str, int]:
    """In an app context: counted the slow way, from the orders themselves."""
    by_status = dict(db.session.execute(sa.select(Order.status, sa.func.count()).group_by(Order.status)).all())
    parked = db.session.execute(sa.select(sa.func.count()).where(Order.parked_at.is_not(None))).scalar_one()
    db.session.rollback()
    return {**{s.value: by_status.get(s, 0) for s in OrderStatus}, PARKED: parked}


def expect(**counts: int) -> dict[str, int]:
    return {kind: counts.get(kind, 0) for kind in KINDS}


def park(order_id: int) -> None:
    db.session.execute(sa.update(Order).where(Order.id == order_id).values(parked_at=utcnow()))
    db.session.commit()


def walk_every_transition(user_id: int) -> list[dict[str, int]]:
    """Hand-ins, NEW → PROCESSING, → PROCESSED (credited) and → INVALID, parking and
    unparking (flask requeue); the kept counts after each step. In an app context."""
    seen = []
    numbers = [luhn_number(7000 + i) for i in range(5)]
    for number in numbers:
        submit_order(user_id, number)
    submit_order(user_id, numbers[0])  # the same number again: nothing new
    ids = [order_id_of(number) for number in numbers]
    seen.append(kept_counts())
    claim = checks._claim(ids[1])
    assert claim is not None
    checks._reschedule(claim, OrderStatus.PROCESSING, 5.0, 1)
    seen.append(kept_counts())
    assert ledger.apply_final_status(ids[1], OrderStatus.PROCESSED, Decimal("12.5"))
    assert not ledger.apply_final_status(ids[1], OrderStatus.PROCESSED, Decimal("12.5"))  # once only
    assert ledger.apply_final_status(ids[2], OrderStatus.INVALID)
    seen.append(kept_counts())
    park(ids[3])
    park(ids[4])
    seen.append(kept_counts())
    assert checks.make_due_now([OrderStatus.NEW]) == 3
    seen.append(kept_counts())
    return seen


def test_counts_follow_every_transition_on_postgresql(app, register):
    register("counted")
    with app.app_context():
        user_id = user_id_of("counted")
        assert kept_counts() == expect()  # the tables were just emptied (TRUNCATE)
        seen = walk_every_transition(user_id)
        assert seen == [
            expect(NEW=5),
            expect(NEW=4, PROCESSING=1),
            expect(NEW=3, PROCESSED=1, INVALID=1),
            expect(NEW=3, PROCESSED=1, INVALID=1, parked=2),
            expect(NEW=3, PROCESSED=1, INVALID=1),
        ]
        park(order_id_of(luhn_number(7003)))
        assert kept_counts() == true_counts()
        # A user's deletion takes their orders with it (ON DELETE CASCADE): counted too.
        db.session.execute(sa.delete(User).where(User.id == user_id))
        db.session.commit()
        assert kept_counts() == expect() == true_counts()


def test_counts_stay_exact_under_concurrent_hand_ins_and_checks(app, register):
    register("crowd")
    with app.app_context():
        user_id = user_id_of("crowd")

    def hand_in(i: int) -> None:
        with app.app_context():
            submit_order(user_id, luhn_number(8000 + i % 40))  # every number handed in twice
            order_id = order_id_of(luhn_number(8000 + i % 40))
            if i % 3 == 0:
                ledger.apply_final_status(order_id, OrderStatus.PROCESSED, Decimal("1"))
            db.session.remove()

    fire_together(80, hand_in)
    with app.app_context():
        counts = kept_counts()
        assert counts == true_counts()
        assert counts["NEW"] + counts["PROCESSED"] == 40 and counts["PROCESSED"] > 0


def test_counts_follow_every_transition_on_the_embedded_sqlite_file(tmp_path):
    app = create_app(test_settings(f"sqlite:///{tmp_path / 'embedded.db'}", tmp_path))
    with app.app_context():
        upgrade()
        user_id = register_user("embedded", "secret").id
        db.session.commit()
        seen = walk_every_transition(user_id)
        assert seen[-1] == expect(NEW=3, PROCESSED=1, INVALID=1) == true_counts()
        assert seen[3][PARKED] == 2
        response = app.test_client().get("/metrics")
        assert metric(response.text, 'gophermart_orders{status="NEW"}') == 3
        assert metric(response.text, 'gophermart_orders{status="PROCESSED"}') == 1
        db.engine.dispose()


def test_counts_made_by_the_migration_match_orders_already_there(app, register, make_database, tmp_path):
    """Upgrading a database that holds orders counts them once, in the migration."""
    uri = make_database("counted_upgrade")
    fresh = create_app(test_settings(uri, tmp_path))
    with fresh.app_context():
        upgrade(revision="0005_bad_answer")
        db.session.execute(sa.text("INSERT INTO users (login, password_hash, created_at) VALUES ('u', 'x', now())"))
        db.session.execute(
            sa.text(
                "INSERT INTO orders (number, user_id, status, uploaded_at, updated_at, next_check_at, parked_at)"
                " SELECT 'n' || g, 1, CASE WHEN g % 2 = 0 THEN 'NEW' ELSE 'PROCESSED' END, now(), now(), now(),"
                " CASE WHEN g % 10 = 0 THEN now() END FROM generate_series(1, 100) g"
            )
        )
        db.session.commit()
        upgrade()
        assert kept_counts() == expect(NEW=50, PROCESSED=50, parked=10) == true_counts()
        db.engine.dispose()


def test_the_scrape_reads_the_counts_not_the_orders(app, register):
    register("scraped")
    with app.app_context():
        user_id = user_id_of("scraped")
        for i in range(3):
            submit_order(user_id, luhn_number(9000 + i))
        statements: list[tuple[str, Mapping[str, Any] | Sequence[Any] | None]] = []

        def record(_conn, _cursor, statement, parameters, _context, _many):
            statements.append((statement, parameters))

        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            families = {family.name: family for family in DomainCollector(app).collect()}
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)
        new = [s.value for s in families["gophermart_orders"].samples if s.labels["status"] == "NEW"]
        assert new == [3]
        assert statements
        with db.engine.connect() as conn:
            plans = [
                "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters))
                for statement, parameters in statements
            ]
        # No statement reads the orders table (nor one of its indexes); one reads the counts.
        assert not [plan for plan in plans if re.search(r" on orders\b|ix_orders|orders_pkey", plan)], plans
        assert [plan for plan in plans if "order_counts" in plan], plans
