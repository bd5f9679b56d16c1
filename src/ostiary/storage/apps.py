"""Applications and their client secrets."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ostiary.domain.apps import App, AppType, ClientSecret
from ostiary.storage.changes import Cached
from ostiary.storage.db import Database, DatabaseConnection
from ostiary.storage.pages import Page, keyset_page
from ostiary.storage.prepared import AnyRow, Prepared
from ostiary.storage.tables import apps, client_secrets

__all__ = ["ActiveSecret", "AppStore", "DuplicateAppError", "TooManySecretsError"]


class DuplicateAppError(Exception):
    """An app with this id or client_id exists already."""


class TooManySecretsError(Exception):
    """The app already has the maximum number of active secrets."""


def _app(row: AnyRow) -> App:
    m = row._mapping
    return App(
        id=m["id"],
        client_id=m["client_id"],
        name=m["name"],
        type=AppType(m["type"]),
        enforce_pkce=m["enforce_pkce"],
        management_api_access=m["management_api_access"],
        introspect_all_tokens=m["introspect_all_tokens"],
        third_party=m["third_party"],
        access_token_ttl=m["access_token_ttl"],
        refresh_reuse_interval=m["refresh_reuse_interval"],
        redirect_uris=tuple(m["redirect_uris"]),
        post_logout_redirect_uris=tuple(m["post_logout_redirect_uris"]),
        initiate_login_uri=m["initiate_login_uri"],
        backchannel_logout_uri=m["backchannel_logout_uri"],
        is_console=m["is_console"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _app_values(app: App) -> dict[str, Any]:
    values = dataclasses.asdict(app)
    values["type"] = app.type.value
    values["redirect_uris"] = list(app.redirect_uris)
    values["post_logout_redirect_uris"] = list(app.post_logout_redirect_uris)
    return values


def _secret(row: sa.Row[Any]) -> ClientSecret:
    m = row._mapping
    return ClientSecret(
        id=m["id"],
        app_id=m["app_id"],
        hint=m["hint"],
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
        last_used_at=m["last_used_at"],
    )


@dataclasses.dataclass(frozen=True, slots=True)
class ActiveSecret:
    """What client authentication reads of an active secret."""

    id: str
    digest: str
    last_used_at: datetime | None


# Built once (client authentication runs on every token request): building a select costs
# more than SQLAlchemy's cached compilation of it.
_APP_WITH_ACTIVE_SECRETS = Prepared(
    sa.select(
        apps,
        client_secrets.c.id.label("secret_id"),
        client_secrets.c.digest.label("secret_digest"),
        client_secrets.c.last_used_at.label("secret_last_used_at"),
    )
    .outerjoin(
        client_secrets,
        sa.and_(client_secrets.c.app_id == apps.c.id, client_secrets.c.revoked_at.is_(None)),
    )
    .where(apps.c.client_id == sa.bindparam("client_id"))
)


class AppStore:
    def __init__(self, engine: Database) -> None:
        self._engine = engine
        # What client authentication read, kept while the database says that no app or secret
        # changed since (``ostiary.storage.changes``): a query saved on most token requests,
        # and a revoked secret still refused at once.
        self._clients: Cached[tuple[App, tuple[ActiveSecret, ...]]] = Cached(engine.changes())

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[DatabaseConnection]:
        """A transaction that writes apps or secrets. At its end, after the commit, this
        process drops what it kept, without waiting for the change to come back to it."""
        try:
            async with self._engine.begin() as conn:
                yield conn
        finally:
            self._clients.changed_here()

    async def insert(self, app: App, secret: tuple[ClientSecret, str] | None = None) -> None:
        """Store a new app, and its first secret (with digest) in the same transaction."""
        try:
            async with self._writing() as conn:
                await conn.execute(apps.insert().values(**_app_values(app)))
                if secret is not None:
                    await self._insert_secret(conn, *secret)
        except IntegrityError:
            raise DuplicateAppError(app.id) from None

    async def get(self, app_id: str) -> App | None:
        return await self._one(apps.c.id == app_id)

    async def get_by_client_id(self, client_id: str) -> App | None:
        return await self._one(apps.c.client_id == client_id)

    async def _one(self, where: sa.ColumnElement[bool]) -> App | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(apps).where(where))).first()
        return None if row is None else _app(row)

    async def all(self) -> list[App]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(sa.select(apps).order_by(apps.c.created_at, apps.c.id))
        return [_app(row) for row in rows]

    async def page(self, *, after: str | None, limit: int) -> Page[App]:
        """Apps in id (creation) order, for the management API."""
        return await keyset_page(self._engine, apps, apps.c.id, _app, after=after, limit=limit)

    async def update(self, app: App) -> None:
        values = _app_values(app)
        del values["id"], values["created_at"]
        async with self._writing() as conn:
            await conn.execute(apps.update().where(apps.c.id == app.id).values(**values))

    async def delete(self, app_id: str) -> bool:
        async with self._writing() as conn:
            result = await conn.execute(apps.delete().where(apps.c.id == app_id))
        return result.rowcount > 0

    # -- secrets ---------------------------------------------------------------------------

    async def add_secret(
        self, secret: ClientSecret, digest: str, *, max_active: int, now: datetime
    ) -> None:
        """Add a secret unless ``max_active`` are already active (checked under a write lock on
        the app row, so two concurrent creations cannot both pass)."""
        async with self._writing() as conn:
            await conn.execute(
                apps.update().where(apps.c.id == secret.app_id).values(updated_at=now)
            )
            active = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(client_secrets)
                .where(client_secrets.c.app_id == secret.app_id)
                .where(client_secrets.c.revoked_at.is_(None))
            )
            if (active or 0) >= max_active:
                raise TooManySecretsError
            await self._insert_secret(conn, secret, digest)

    @staticmethod
    async def _insert_secret(conn: DatabaseConnection, secret: ClientSecret, digest: str) -> None:
        await conn.execute(
            client_secrets.insert().values(
                id=secret.id,
                app_id=secret.app_id,
                digest=digest,
                hint=secret.hint,
                created_at=secret.created_at,
                revoked_at=None,
                last_used_at=None,
            )
        )

    async def list_secrets(self, app_id: str) -> list[ClientSecret]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(client_secrets)
                .where(client_secrets.c.app_id == app_id)
                .order_by(client_secrets.c.created_at, client_secrets.c.id)
            )
        return [_secret(row) for row in rows]

    async def with_active_secrets(
        self, client_id: str
    ) -> tuple[App, tuple[ActiveSecret, ...]] | None:
        """The app and its active secrets, in one round trip or none (client auth)."""
        cache = self._clients
        await cache.settle()
        if (kept := cache.get(client_id)) is not None:
            return kept
        generation = cache.mark()
        rows = await self._engine.fetch(_APP_WITH_ACTIVE_SECRETS, {"client_id": client_id})
        if not rows:
            return None  # not kept: unknown client_ids would fill the cache
        secrets = tuple(
            ActiveSecret(row.secret_id, row.secret_digest, row.secret_last_used_at)
            for row in rows
            if row.secret_id is not None
        )
        found = (_app(rows[0]), secrets)
        cache.put(client_id, generation, found)
        return found

    async def note_secret_use(self, secret_id: str, now: datetime, unless_since: datetime) -> None:
        """Set the secret's ``last_used_at`` to ``now`` unless it is ``unless_since`` or later
        already (another worker noted the same use)."""
        async with self._writing() as conn:
            await conn.execute(
                client_secrets.update()
                .where(client_secrets.c.id == secret_id)
                .where(
                    sa.or_(
                        client_secrets.c.last_used_at.is_(None),
                        client_secrets.c.last_used_at < unless_since,
                    )
                )
                .values(last_used_at=now)
            )

    async def revoke_secret(self, app_id: str, secret_id: str, now: datetime) -> bool:
        async with self._writing() as conn:
            result = await conn.execute(
                client_secrets.update()
                .where(client_secrets.c.app_id == app_id)
                .where(client_secrets.c.id == secret_id)
                .where(client_secrets.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return result.rowcount > 0
