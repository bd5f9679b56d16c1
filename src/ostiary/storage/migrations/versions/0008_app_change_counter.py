"""app change counter (SQLite)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 05:40:00

On SQLite, every write to ``apps`` or ``client_secrets`` adds one to the ``apps`` row of
``change_counters``, in the writer's own transaction, whoever makes it (the admin API, the CLI,
a hand-written UPDATE in the sqlite3 shell), so that a worker can keep what client
authentication read until the counter moves (``ostiary.storage.changes``). SQLite has only row
triggers: one per table and kind of write. PostgreSQL gets the table (one schema for both) but
no triggers: it notifies instead (0007).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("apps", "client_secrets")
WRITES = ("INSERT", "UPDATE", "DELETE")


def upgrade() -> None:
    counters = op.create_table(
        "change_counters",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_change_counters")),
    )
    op.bulk_insert(counters, [{"name": "apps", "counter": 0}])
    if op.get_bind().dialect.name != "sqlite":
        return
    count = "UPDATE change_counters SET counter = counter + 1 WHERE name = 'apps';"
    for table in TABLES:
        for write in WRITES:
            name = f"{table}_changed_{write.lower()}"
            op.execute(f"CREATE TRIGGER {name} AFTER {write} ON {table} BEGIN {count} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for write in WRITES:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_changed_{write.lower()}")
    op.drop_table("change_counters")
