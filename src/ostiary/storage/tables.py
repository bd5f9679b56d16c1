"""The schema, as SQLAlchemy Core tables. Alembic migrations in ``migrations/`` create it; a test
checks that the two never drift apart."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

__all__ = [
    "apps",
    "auth_events",
    "authorization_codes",
    "backchannel_attempts",
    "backchannel_deliveries",
    "change_counters",
    "client_secrets",
    "column_lookup",
    "consents",
    "email_challenges",
    "grants",
    "login_throttle",
    "login_transactions",
    "memberships",
    "metadata",
    "organizations",
    "outbox",
    "permissions",
    "refresh_tokens",
    "revoked_access_tokens",
    "roles",
    "sessions",
    "signing_keys",
    "users",
]

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


def column_lookup(table: sa.Table) -> Any:
    """``table``'s columns as plain attributes, for row mappers on hot paths: ``table.c.name``
    goes through a Python-level ``__getattr__`` (~0.6 µs each, measured), and a session or
    user row has 14 columns."""
    return SimpleNamespace(**{column.name: column for column in table.c})


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
    # A resource server may introspect every token, not only those issued to it (0010).
    sa.Column("introspect_all_tokens", sa.Boolean(), nullable=False, server_default=sa.false()),
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


def _fk(column: str, target: str) -> sa.Column[str]:
    return sa.Column(
        column, sa.String(40), sa.ForeignKey(f"{target}.id", ondelete="CASCADE"), nullable=False
    )


sessions = sa.Table(
    "sessions",
    metadata,
    _id(),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    _fk("user_id", "users"),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_active_at", UTCDateTime(), nullable=False),
    sa.Column("idle_expires_at", UTCDateTime(), nullable=True),
    sa.Column("absolute_expires_at", UTCDateTime(), nullable=False),
    sa.Column("auth_time", UTCDateTime(), nullable=False),
    sa.Column("amr", sa.JSON(), nullable=False),
    sa.Column("organization_id", sa.String(40), nullable=True),
    sa.Column("authenticated_clients", sa.JSON(), nullable=False),
    sa.Column("user_agent", sa.String(400), nullable=True),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("ended_at", UTCDateTime(), nullable=True),
    sa.Index("ix_sessions_user_id", "user_id"),
    sa.Index("ix_sessions_status_absolute", "status", "absolute_expires_at"),
)

login_transactions = sa.Table(
    "login_transactions",
    metadata,
    _id(),
    _fk("app_id", "apps"),
    sa.Column("request", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Index("ix_login_transactions_expires_at", "expires_at"),
)

grants = sa.Table(
    "grants",
    metadata,
    _id(),
    _fk("app_id", "apps"),
    _fk("session_id", "sessions"),
    sa.Column("user_id", sa.String(40), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Index("ix_grants_session_id", "session_id"),
)

authorization_codes = sa.Table(
    "authorization_codes",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    _fk("grant_id", "grants"),
    _fk("app_id", "apps"),
    sa.Column("client_id", sa.String(64), nullable=False),
    _fk("session_id", "sessions"),
    sa.Column("user_id", sa.String(40), nullable=False),
    sa.Column("redirect_uri", sa.String(256), nullable=False),
    sa.Column("scope", sa.JSON(), nullable=False),
    sa.Column("nonce", sa.String(2048), nullable=True),
    sa.Column("code_challenge", sa.String(64), nullable=True),
    sa.Column("auth_time", UTCDateTime(), nullable=False),
    sa.Column("amr", sa.JSON(), nullable=False),
    sa.Column("organization_id", sa.String(40), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("consumed_at", UTCDateTime(), nullable=True),
    # Set when the request that consumed the code failed (say a wrong code_verifier): nothing
    # was issued from it, and a second attempt is told so (0010).
    sa.Column("failed_at", UTCDateTime(), nullable=True),
    sa.Index("ix_authorization_codes_expires_at", "expires_at"),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    _id(),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    _fk("grant_id", "grants"),
    _fk("app_id", "apps"),
    _fk("session_id", "sessions"),
    sa.Column("user_id", sa.String(40), nullable=False),
    sa.Column("scope", sa.JSON(), nullable=False),
    sa.Column("nonce", sa.String(2048), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("rotated_at", UTCDateTime(), nullable=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Index("ix_refresh_tokens_grant_id", "grant_id"),
    sa.Index("ix_refresh_tokens_session_id", "session_id"),
)

# Access tokens revoked one by one (RFC 7009), by ``jti``, until they expire: every bearer check
# on every node looks here. ``expires_at`` is the token's ``exp`` plus the verifier's leeway;
# the sweeper deletes the rows after it.
revoked_access_tokens = sa.Table(
    "revoked_access_tokens",
    metadata,
    sa.Column("jti", sa.String(80), primary_key=True),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Index("ix_revoked_access_tokens_expires_at", "expires_at"),
)

consents = sa.Table(
    "consents",
    metadata,
    sa.Column(
        "user_id", sa.String(40), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "app_id", sa.String(40), sa.ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("scope", sa.JSON(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

login_throttle = sa.Table(
    "login_throttle",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("failures", sa.Integer(), nullable=False),
    sa.Column("last_failure_at", UTCDateTime(), nullable=False),
    sa.Column("blocked_until", UTCDateTime(), nullable=True),
)

backchannel_deliveries = sa.Table(
    "backchannel_deliveries",
    metadata,
    _id(),
    sa.Column("session_id", sa.String(40), nullable=False),
    sa.Column("user_id", sa.String(40), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("uri", sa.String(256), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Index("ix_backchannel_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_backchannel_deliveries_session_id", "session_id"),
)

backchannel_attempts = sa.Table(
    "backchannel_attempts",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column(
        "delivery_id",
        sa.String(40),
        sa.ForeignKey("backchannel_deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("attempted_at", UTCDateTime(), nullable=False),
    sa.Column("ok", sa.Boolean(), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=True),
    sa.Column("error", sa.String(500), nullable=True),
    sa.Index("ix_backchannel_attempts_delivery_id", "delivery_id"),
)

organizations = sa.Table(
    "organizations",
    metadata,
    _id(),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("slug", sa.String(100), nullable=False, unique=True),
    sa.Column("external_id", sa.String(200), nullable=True, unique=True),
    sa.Column("metadata", sa.JSON(), nullable=False),
    sa.Column("session_idle_timeout", sa.Integer(), nullable=True),
    sa.Column("session_absolute_timeout", sa.Integer(), nullable=True),
    *_timestamps(),
)

roles = sa.Table(
    "roles",
    metadata,
    _id(),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("description", sa.String(1000), nullable=True),
    sa.Column("permissions", sa.JSON(), nullable=False),
    sa.Column("extends", sa.String(64), nullable=True),
    *_timestamps(),
)

permissions = sa.Table(
    "permissions",
    metadata,
    sa.Column("name", sa.String(130), primary_key=True),
    sa.Column("description", sa.String(1000), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

memberships = sa.Table(
    "memberships",
    metadata,
    sa.Column(
        "user_id", sa.String(40), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "organization_id",
        sa.String(40),
        sa.ForeignKey("organizations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("roles", sa.JSON(), nullable=False),
    *_timestamps(),
    sa.Index("ix_memberships_organization_id", "organization_id"),
)

organization_domains = sa.Table(
    "organization_domains",
    metadata,
    _id(),
    sa.Column(
        "organization_id",
        sa.String(40),
        sa.ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("name", sa.String(253), nullable=False),
    sa.Column("verification_token", sa.String(64), nullable=False),
    sa.Column("verified_at", UTCDateTime(), nullable=True),
    sa.Column("verified_by", sa.String(10), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("organization_id", "name", name="uq_organization_domains_org_name"),
    # A domain is verified for one organization at most; claims may wait in several.
    sa.Index(
        "ux_organization_domains_verified_name",
        "name",
        unique=True,
        sqlite_where=sa.text("verified_at IS NOT NULL"),
        postgresql_where=sa.text("verified_at IS NOT NULL"),
    ),
)

auth_events = sa.Table(
    "auth_events",
    metadata,
    _id(),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("user_id", sa.String(40), nullable=True),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("client_id", sa.String(64), nullable=True),
    sa.Column("session_id", sa.String(40), nullable=True),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("detail", sa.String(500), nullable=True),
    sa.Index("ix_auth_events_created_at", "created_at"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    _id(),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("to_address", sa.String(320), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("text_body", sa.Text(), nullable=True),
    sa.Column("html_body", sa.Text(), nullable=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Index("ix_outbox_due", "status", "next_attempt_at"),
    sa.Index("ix_outbox_created_at", "created_at"),
)

email_challenges = sa.Table(
    "email_challenges",
    metadata,
    _id(),
    sa.Column("purpose", sa.String(10), nullable=False),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("user_id", sa.String(40), nullable=True),
    sa.Column("link_digest", sa.String(64), nullable=True, unique=True),
    sa.Column("code_digest", sa.String(64), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("txn_id", sa.String(40), nullable=True),
    sa.Column("browser_digest", sa.String(64), nullable=True),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("consumed_at", UTCDateTime(), nullable=True),
    sa.Index("ix_email_challenges_email", "email", "created_at"),
    sa.Index("ix_email_challenges_ip", "ip", "created_at"),
)

# On SQLite, triggers (migration 0008) count the writes to ``apps`` and ``client_secrets`` in
# the row named ``apps``, so that a worker can tell whether what it read about a client still
# holds (``ostiary.storage.changes``). PostgreSQL has the table too, one schema for both, but
# notifies instead (migration 0007) and leaves it alone.
change_counters = sa.Table(
    "change_counters",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("counter", sa.BigInteger(), nullable=False),
)
