"""The ledger check every end-to-end and fault test ends with."""

from decimal import Decimal

from tests.support.database import connected, fetch_all


def ledger_is_exact(database_uri: str) -> None:
    """Σ balances = Σ accruals − Σ withdrawals, and each user's row agrees with its ledger:
    nothing was lost or credited twice, and no balance went below zero."""
    with connected(database_uri) as conn:
        rows = fetch_all(
            conn,
            """
            SELECT u.login, u.current, u.withdrawn,
                   COALESCE((SELECT SUM(accrual) FROM orders o WHERE o.user_id = u.id AND o.status = 'PROCESSED'), 0),
                   COALESCE((SELECT SUM(sum) FROM withdrawals w WHERE w.user_id = u.id), 0)
            FROM users u
            """,
        )
    for login, current, withdrawn, credited, spent in rows:
        assert Decimal(current) == Decimal(credited) - Decimal(spent) >= 0, (login, current, credited, spent)
        assert Decimal(withdrawn) == Decimal(spent), (login, withdrawn, spent)
