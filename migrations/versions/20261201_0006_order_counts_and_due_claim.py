"""Orders counted as they change (order_counts, kept by triggers), an index that matches the
sweep's claim, and a schedule token that a check's message must carry to start.

The counts are kept by triggers on orders rather than by the services, so every writer
(a service, `flask requeue`, an operator's SQL, a cascade from users, a TRUNCATE) keeps
them exact. Each status (and `parked`) is split over SLOTS rows by order id, so concurrent
hand-ins seldom wait for each other's row. A bulk change of many orders in one
transaction should run with the triggers disabled and end with
`SELECT order_counts_recount()` (PostgreSQL): every row change adds a row version to a
counter, and one transaction's versions cannot be pruned until it ends.

On SQLite the triggers live with the orders table: a migration that recreates that table
(a batch operation that copies it) must create them again.

Revision ID: 0006_order_counts
Revises: 0005_bad_answer
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_order_counts"
down_revision = "0005_bad_answer"
branch_labels = None
depends_on = None

SLOTS = 16
KINDS = ("NEW", "PROCESSING", "INVALID", "PROCESSED", "parked")
PENDING = "status IN ('NEW', 'PROCESSING')"

# Two statements: zero every row, then set the non-zero ones from one pass over orders.
RECOUNT = f"""
UPDATE order_counts SET n = 0;
UPDATE order_counts SET n = counted.n
FROM (
    SELECT status AS kind, id % {SLOTS} AS slot, count(*) AS n FROM orders GROUP BY status, id % {SLOTS}
    UNION ALL
    SELECT 'parked', id % {SLOTS}, count(*) FROM orders WHERE parked_at IS NOT NULL GROUP BY id % {SLOTS}
) AS counted
WHERE counted.kind = order_counts.kind AND counted.slot = order_counts.slot
"""


POSTGRES_UP = [
    f"""
CREATE FUNCTION order_counts_recount() RETURNS void LANGUAGE sql AS $$ {RECOUNT} $$
""",
    f"""
CREATE FUNCTION order_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.status IS DISTINCT FROM NEW.status) THEN
        UPDATE order_counts SET n = n - 1 WHERE kind = OLD.status AND slot = OLD.id % {SLOTS};
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND OLD.status IS DISTINCT FROM NEW.status) THEN
        UPDATE order_counts SET n = n + 1 WHERE kind = NEW.status AND slot = NEW.id % {SLOTS};
    END IF;
    IF TG_OP <> 'INSERT' AND OLD.parked_at IS NOT NULL
       AND (TG_OP = 'DELETE' OR NEW.parked_at IS NULL) THEN
        UPDATE order_counts SET n = n - 1 WHERE kind = 'parked' AND slot = OLD.id % {SLOTS};
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.parked_at IS NOT NULL
       AND (TG_OP = 'INSERT' OR OLD.parked_at IS NULL) THEN
        UPDATE order_counts SET n = n + 1 WHERE kind = 'parked' AND slot = NEW.id % {SLOTS};
    END IF;
    RETURN NULL;
END $$
""",
    """
CREATE FUNCTION order_counts_reset() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE order_counts SET n = 0;
    RETURN NULL;
END $$
""",
    "CREATE TRIGGER orders_counted_insert AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION order_counts_follow()",
    "CREATE TRIGGER orders_counted_delete AFTER DELETE ON orders FOR EACH ROW EXECUTE FUNCTION order_counts_follow()",
    """
CREATE TRIGGER orders_counted_update AFTER UPDATE OF status, parked_at ON orders FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status OR (OLD.parked_at IS NULL) <> (NEW.parked_at IS NULL))
EXECUTE FUNCTION order_counts_follow()
""",
    "CREATE TRIGGER orders_counted_truncate AFTER TRUNCATE ON orders FOR EACH STATEMENT EXECUTE FUNCTION order_counts_reset()",
]
POSTGRES_DOWN = [
    "DROP TRIGGER orders_counted_truncate ON orders",
    "DROP TRIGGER orders_counted_update ON orders",
    "DROP TRIGGER orders_counted_delete ON orders",
    "DROP TRIGGER orders_counted_insert ON orders",
    "DROP FUNCTION order_counts_reset()",
    "DROP FUNCTION order_counts_follow()",
    "DROP FUNCTION order_counts_recount()",
]


def _change(sign: str, row: str, kind: str) -> str:
    return f"UPDATE order_counts SET n = n {sign} 1 WHERE kind = {kind} AND slot = {row}.id % {SLOTS};"


SQLITE_UP = [
    f"""
CREATE TRIGGER orders_counted_insert AFTER INSERT ON orders BEGIN
    {_change("+", "NEW", "NEW.status")}
    UPDATE order_counts SET n = n + 1
    WHERE NEW.parked_at IS NOT NULL AND kind = 'parked' AND slot = NEW.id % {SLOTS};
END
""",
    f"""
CREATE TRIGGER orders_counted_delete AFTER DELETE ON orders BEGIN
    {_change("-", "OLD", "OLD.status")}
    UPDATE order_counts SET n = n - 1
    WHERE OLD.parked_at IS NOT NULL AND kind = 'parked' AND slot = OLD.id % {SLOTS};
END
""",
    f"""
CREATE TRIGGER orders_counted_status AFTER UPDATE OF status ON orders
WHEN OLD.status IS NOT NEW.status BEGIN
    {_change("-", "OLD", "OLD.status")}
    {_change("+", "NEW", "NEW.status")}
END
""",
    f"""
CREATE TRIGGER orders_counted_parked AFTER UPDATE OF parked_at ON orders
WHEN (OLD.parked_at IS NULL) <> (NEW.parked_at IS NULL) BEGIN
    UPDATE order_counts SET n = n + (CASE WHEN NEW.parked_at IS NULL THEN -1 ELSE 1 END)
    WHERE kind = 'parked' AND slot = NEW.id % {SLOTS};
END
""",
]
SQLITE_DOWN = [
    "DROP TRIGGER orders_counted_parked",
    "DROP TRIGGER orders_counted_status",
    "DROP TRIGGER orders_counted_delete",
    "DROP TRIGGER orders_counted_insert",
]


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        # Bumped by every claim and re-schedule: only the message that carries the current
        # value may start a check, so a duplicate cannot ask ahead of the back-off.
        batch.add_column(sa.Column("check_token", sa.Integer(), nullable=False, server_default="0"))
    # The sweep's claim: pending, not parked, oldest upload first; it stops at its limit.
    op.create_index(
        "ix_orders_due_claim",
        "orders",
        ["uploaded_at", "id"],
        postgresql_where=sa.text(f"{PENDING} AND parked_at IS NULL"),
        sqlite_where=sa.text(f"{PENDING} AND parked_at IS NULL"),
    )
    counts = op.create_table(
        "order_counts",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("slot", sa.SmallInteger(), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.bulk_insert(counts, [{"kind": kind, "slot": slot, "n": 0} for kind in KINDS for slot in range(SLOTS)])
    # Triggers first, then the count, in the same transaction: no change is missed between.
    for statement in POSTGRES_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP:
        op.execute(statement)
    for statement in RECOUNT.split(";"):
        op.execute(statement)


def downgrade() -> None:
    for statement in POSTGRES_DOWN if op.get_bind().dialect.name == "postgresql" else SQLITE_DOWN:
        op.execute(statement)
    op.drop_table("order_counts")
    op.drop_index("ix_orders_due_claim", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("check_token")
