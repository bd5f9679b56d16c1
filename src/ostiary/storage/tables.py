"""The schema, as SQLAlchemy Core tables. Alembic migrations in ``migrations/`` create it; a test
checks that the two never drift apart."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = ["apps", "client_secrets", "metadata", "signing_keys", "users"]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=NAMING)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no time zone, so store naive UTC)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


def _id(prefix_len: int = 40) -> sa.Column[str]:
    return sa.Column("id", sa.String(prefix_len), primary_key=True)


def _timestamps() -> list[sa.Column[datetime]]:
    return [
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    ]


apps = sa.Table(
    "apps",
    metadata,
    _id(),
    sa.Column("client_id", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("type", sa.String(10), nullable=False),
    sa.Column("enforce_pkce", sa.Boolean(), nullable=False),
    sa.Column("management_api_access", sa.Boolean(), nullable=False),
    sa.Column("third_party", sa.Boolean(), nullable=False),
    sa.Column("access_token_ttl", sa.Integer(), nullable=True),
    sa.Column("refresh_reuse_interval", sa.Integer(), nullable=False),
    sa.Column("redirect_uris", sa.JSON(), nullable=False),
    sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
    sa.Column("initiate_login_uri", sa.String(256), nullable=True),
    sa.Column("backchannel_logout_uri", sa.String(256), nullable=True),
    sa.Column("is_console", sa.Boolean(), nullable=False),
    *_timestamps(),
    sa.CheckConstraint("type IN ('web', 'spa', 'native')", name="type"),
)

client_secrets = sa.Table(
    "client_secrets",
    metadata,
    _id(),
    sa.Column(
        "app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("hint", sa.String(8), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
    sa.Index("ix_client_secrets_app_id", "app_id"),
)

users = sa.Table(
    "users",
    metadata,
    _id(),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("email_normalized", sa.String(320), nullable=False, unique=True),
    sa.Column("email_verified", sa.Boolean(), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=True),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("given_name", sa.String(100), nullable=True),
    sa.Column("family_name", sa.String(100), nullable=True),
    sa.Column("picture", sa.String(1000), nullable=True),
    sa.Column("locale", sa.String(20), nullable=True),
    sa.Column("metadata", sa.JSON(), nullable=False),
    sa.Column("external_id", sa.String(200), nullable=True, unique=True),
    sa.Column("roles", sa.JSON(), nullable=False),
    *_timestamps(),
    sa.Column("last_login_at", UTCDateTime(), nullable=True),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    _id(),
    sa.Column("algorithm", sa.String(10), nullable=False),
    sa.Column("public_jwk", sa.JSON(), nullable=False),
    sa.Column("encrypted_private_key", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("activates_at", UTCDateTime(), nullable=False),
)
