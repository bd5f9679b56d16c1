"""app change notices (PostgreSQL)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 03:10:00

On PostgreSQL, a write to ``apps`` or ``client_secrets`` notifies the channel ``ostiary_apps``
at its commit, whoever makes it, so that every worker drops the clients it keeps
(``ostiary.storage.changes``). SQLite has no notifications; nothing changes there.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("apps", "client_secrets")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION ostiary_apps_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('ostiary_apps', '');
            RETURN NULL;
        END
        $$
        """
    )
    for table in TABLES:
        # Per statement: a notification per write is enough (and PostgreSQL folds the same
        # notification of one transaction into one).
        op.execute(
            f"CREATE TRIGGER {table}_changed "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ostiary_apps_changed()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS ostiary_apps_changed()")
