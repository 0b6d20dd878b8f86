"""What bounds a check on the threads pool, which enforces no task time limit."""

import sqlalchemy as sa

from gophermart.accrual.celery_app import bound_statements
from gophermart.accrual.checks import LEASE_SECONDS
from gophermart.extensions import db


def test_a_workers_statements_end_within_a_checks_lease(app):
    with app.app_context():
        engine = sa.create_engine(db.engine.url)
        try:
            bound_statements(engine)
            with engine.connect() as conn:
                assert conn.execute(sa.text("SHOW statement_timeout")).scalar() == f"{int(LEASE_SECONDS)}s"
                # The setting is the session's, not a transaction's: it outlives the first one.
                conn.rollback()
                assert conn.execute(sa.text("SHOW statement_timeout")).scalar() == f"{int(LEASE_SECONDS)}s"
        finally:
            engine.dispose()
