"""revoked access tokens, introspection scope, failed code redemptions

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-08 00:40:00

``revoked_access_tokens``: access tokens revoked one by one at ``/oauth/revoke`` (RFC 7009), by
``jti``, until they expire. ``apps.introspect_all_tokens``: a resource server that may introspect every
token, not only those issued to it or meant for it (off for every existing app).
``authorization_codes.failed_at``: the request that consumed the code failed, so nothing was
issued from it. Plain ``ADD COLUMN`` on both databases: on SQLite a batch (copy and rename)
would drop the triggers of 0008 on ``apps``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revoked_access_tokens",
        sa.Column("jti", sa.String(length=80), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_revoked_access_tokens")),
    )
    op.create_index("ix_revoked_access_tokens_expires_at", "revoked_access_tokens", ["expires_at"])
    op.add_column(
        "apps",
        sa.Column("introspect_all_tokens", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("authorization_codes", sa.Column("failed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    # ``DROP COLUMN`` (SQLite 3.35+) rather than a batch, for the same reason as above.
    op.execute("ALTER TABLE authorization_codes DROP COLUMN failed_at")
    op.execute("ALTER TABLE apps DROP COLUMN introspect_all_tokens")
    op.drop_index("ix_revoked_access_tokens_expires_at", table_name="revoked_access_tokens")
    op.drop_table("revoked_access_tokens")
