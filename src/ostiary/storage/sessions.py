"""Sessions (stored by the digest of their cookie value) and pending login transactions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ostiary.domain.sessions import (
    BackchannelDelivery,
    LoginTransaction,
    Session,
    SessionStatus,
)
from ostiary.storage.backchannel import insert_deliveries
from ostiary.storage.db import Database, DatabaseConnection
from ostiary.storage.pages import Page, keyset_page
from ostiary.storage.prepared import AnyRow
from ostiary.storage.tables import (
    column_lookup,
    grants,
    login_transactions,
    refresh_tokens,
    sessions,
)

__all__ = ["SessionStore", "revoke_session_tokens", "session_from_row"]


_SESSION_COLUMNS = column_lookup(sessions)


def session_from_row(row: AnyRow) -> Session:
    # Columns as keys (not names), so that the same mapper reads rows joined with other tables.
    m = row._mapping
    c = _SESSION_COLUMNS
    return Session(
        id=m[c.id],
        user_id=m[c.user_id],
        status=SessionStatus(m[c.status]),
        created_at=m[c.created_at],
        last_active_at=m[c.last_active_at],
        idle_expires_at=m[c.idle_expires_at],
        absolute_expires_at=m[c.absolute_expires_at],
        auth_time=m[c.auth_time],
        amr=tuple(m[c.amr]),
        organization_id=m[c.organization_id],
        authenticated_clients=tuple(m[c.authenticated_clients]),
        user_agent=m[c.user_agent],
        ip=m[c.ip],
        ended_at=m[c.ended_at],
    )


async def revoke_session_tokens(conn: DatabaseConnection, session_id: str, now: datetime) -> None:
    """Every refresh token and grant of a session dies with it."""
    await conn.execute(
        refresh_tokens.update()
        .where(refresh_tokens.c.session_id == session_id)
        .where(refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await conn.execute(
        grants.update()
        .where(grants.c.session_id == session_id)
        .where(grants.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


class SessionStore:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def insert(self, session: Session, digest: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                sessions.insert().values(
                    id=session.id,
                    digest=digest,
                    user_id=session.user_id,
                    status=session.status.value,
                    created_at=session.created_at,
                    last_active_at=session.last_active_at,
                    idle_expires_at=session.idle_expires_at,
                    absolute_expires_at=session.absolute_expires_at,
                    auth_time=session.auth_time,
                    amr=list(session.amr),
                    organization_id=session.organization_id,
                    authenticated_clients=list(session.authenticated_clients),
                    user_agent=session.user_agent,
                    ip=session.ip,
                    ended_at=None,
                )
            )

    async def by_digest(self, digest: str) -> Session | None:
        return await self._one(sessions.c.digest == digest)

    async def get(self, session_id: str) -> Session | None:
        return await self._one(sessions.c.id == session_id)

    async def _one(self, where: sa.ColumnElement[bool]) -> Session | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(sessions).where(where))).first()
        return None if row is None else session_from_row(row)

    async def for_user(self, user_id: str) -> list[Session]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(sessions)
                .where(sessions.c.user_id == user_id)
                .order_by(sessions.c.last_active_at.desc())
            )
        return [session_from_row(row) for row in rows]

    async def update(self, session_id: str, **values: Any) -> None:
        if "amr" in values:
            values["amr"] = list(values["amr"])
        if "authenticated_clients" in values:
            values["authenticated_clients"] = list(values["authenticated_clients"])
        async with self._engine.begin() as conn:
            await conn.execute(
                sessions.update().where(sessions.c.id == session_id).values(**values)
            )

    async def add_client(self, session_id: str, client_id: str, now: datetime) -> None:
        """Record that an app took part in the session (read-modify-write in one transaction)."""
        async with self._engine.begin() as conn:
            current = await conn.scalar(
                sa.select(sessions.c.authenticated_clients).where(sessions.c.id == session_id)
            )
            clients = list(current or [])
            if client_id not in clients:
                clients.append(client_id)
                await conn.execute(
                    sessions.update()
                    .where(sessions.c.id == session_id)
                    .values(authenticated_clients=clients)
                )

    async def end(
        self,
        session_id: str,
        status: SessionStatus,
        now: datetime,
        deliveries: Sequence[BackchannelDelivery] = (),
    ) -> bool:
        """End an active session, revoke its tokens and queue its back-channel notices, all in
        one transaction (a notice is never lost between the two); False when it had ended."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sessions.update()
                .where(sessions.c.id == session_id)
                .where(sessions.c.status == SessionStatus.ACTIVE.value)
                .values(status=status.value, ended_at=now)
            )
            if result.rowcount == 0:
                return False
            await revoke_session_tokens(conn, session_id, now)
            await insert_deliveries(conn, deliveries)
        return True

    async def due_for_expiry(self, now: datetime, limit: int = 100) -> list[Session]:
        """Active sessions past their idle or absolute expiry (for the sweeper)."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(sessions)
                .where(sessions.c.status == SessionStatus.ACTIVE.value)
                .where(
                    sa.or_(
                        sessions.c.absolute_expires_at <= now,
                        sessions.c.idle_expires_at <= now,
                    )
                )
                .limit(limit)
            )
        return [session_from_row(row) for row in rows]

    async def count_live(self, now: datetime) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(sessions)
            .where(sessions.c.status == SessionStatus.ACTIVE.value)
            .where(sessions.c.absolute_expires_at > now)
            .where(sa.or_(sessions.c.idle_expires_at.is_(None), sessions.c.idle_expires_at > now))
        )
        async with self._engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def all(self, *, user_id: str | None = None, limit: int = 500) -> list[Session]:
        query = sa.select(sessions).order_by(sessions.c.last_active_at.desc()).limit(limit)
        if user_id is not None:
            query = query.where(sessions.c.user_id == user_id)
        async with self._engine.connect() as conn:
            rows = await conn.execute(query)
        return [session_from_row(row) for row in rows]

    async def page_for_user(self, user_id: str, *, after: str | None, limit: int) -> Page[Session]:
        """A user's sessions (every status) in id (creation) order."""
        return await keyset_page(
            self._engine,
            sessions,
            sessions.c.id,
            session_from_row,
            after=after,
            limit=limit,
            where=[sessions.c.user_id == user_id],
        )

    # -- login transactions ----------------------------------------------------------------

    async def insert_transaction(self, txn: LoginTransaction) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                login_transactions.insert().values(
                    id=txn.id,
                    app_id=txn.app_id,
                    request=txn.request,
                    created_at=txn.created_at,
                    expires_at=txn.expires_at,
                )
            )

    async def transaction(self, txn_id: str) -> LoginTransaction | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(login_transactions).where(login_transactions.c.id == txn_id)
                )
            ).first()
        if row is None:
            return None
        m = row._mapping
        return LoginTransaction(
            id=m["id"],
            app_id=m["app_id"],
            request=dict(m["request"]),
            created_at=m["created_at"],
            expires_at=m["expires_at"],
        )

    async def delete_transaction(self, txn_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(login_transactions.delete().where(login_transactions.c.id == txn_id))

    async def purge_transactions(self, before: datetime) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                login_transactions.delete().where(login_transactions.c.expires_at < before)
            )
        return result.rowcount
