"""Grants, authorization codes and refresh tokens (all secrets stored as digests)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ostiary.domain.sessions import AuthorizationCode, RefreshToken, Session
from ostiary.storage.sessions import _session
from ostiary.storage.tables import authorization_codes, grants, refresh_tokens, sessions

__all__ = ["TokenStore"]


def _code(row: sa.Row[Any]) -> AuthorizationCode:
    m = row._mapping
    return AuthorizationCode(
        grant_id=m["grant_id"],
        app_id=m["app_id"],
        client_id=m["client_id"],
        session_id=m["session_id"],
        user_id=m["user_id"],
        redirect_uri=m["redirect_uri"],
        scope=tuple(m["scope"]),
        nonce=m["nonce"],
        code_challenge=m["code_challenge"],
        auth_time=m["auth_time"],
        amr=tuple(m["amr"]),
        organization_id=m["organization_id"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        consumed_at=m["consumed_at"],
    )


def _refresh(row: sa.Row[Any]) -> RefreshToken:
    m = row._mapping
    return RefreshToken(
        id=m["id"],
        grant_id=m["grant_id"],
        app_id=m["app_id"],
        session_id=m["session_id"],
        user_id=m["user_id"],
        scope=tuple(m["scope"]),
        nonce=m["nonce"],
        created_at=m["created_at"],
        rotated_at=m["rotated_at"],
        revoked_at=m["revoked_at"],
    )


async def _insert_refresh(conn: AsyncConnection, token: RefreshToken, digest: str) -> None:
    await conn.execute(
        refresh_tokens.insert().values(
            id=token.id,
            digest=digest,
            grant_id=token.grant_id,
            app_id=token.app_id,
            session_id=token.session_id,
            user_id=token.user_id,
            scope=list(token.scope),
            nonce=token.nonce,
            created_at=token.created_at,
            rotated_at=None,
            revoked_at=None,
        )
    )


class TokenStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def insert_code(self, code: AuthorizationCode, digest: str) -> None:
        """Store a code together with the grant it starts."""
        async with self._engine.begin() as conn:
            await conn.execute(
                grants.insert().values(
                    id=code.grant_id,
                    app_id=code.app_id,
                    session_id=code.session_id,
                    user_id=code.user_id,
                    created_at=code.created_at,
                    revoked_at=None,
                )
            )
            await conn.execute(
                authorization_codes.insert().values(
                    digest=digest,
                    grant_id=code.grant_id,
                    app_id=code.app_id,
                    client_id=code.client_id,
                    session_id=code.session_id,
                    user_id=code.user_id,
                    redirect_uri=code.redirect_uri,
                    scope=list(code.scope),
                    nonce=code.nonce,
                    code_challenge=code.code_challenge,
                    auth_time=code.auth_time,
                    amr=list(code.amr),
                    organization_id=code.organization_id,
                    created_at=code.created_at,
                    expires_at=code.expires_at,
                    consumed_at=None,
                )
            )

    async def consume_code(
        self, digest: str, now: datetime
    ) -> tuple[AuthorizationCode, bool] | None:
        """Mark a code used. Returns it and whether *this* call consumed it (False = reuse)."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                authorization_codes.update()
                .where(authorization_codes.c.digest == digest)
                .where(authorization_codes.c.consumed_at.is_(None))
                .values(consumed_at=now)
            )
            row = (
                await conn.execute(
                    sa.select(authorization_codes).where(authorization_codes.c.digest == digest)
                )
            ).first()
        if row is None:
            return None
        return _code(row), result.rowcount == 1

    async def revoke_grant(self, grant_id: str, now: datetime) -> None:
        """Revoke a grant and every refresh token of its family."""
        async with self._engine.begin() as conn:
            await conn.execute(
                grants.update()
                .where(grants.c.id == grant_id)
                .where(grants.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            await conn.execute(
                refresh_tokens.update()
                .where(refresh_tokens.c.grant_id == grant_id)
                .where(refresh_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    async def grant_with_session(self, grant_id: str) -> tuple[bool, Session] | None:
        """``(grant revoked?, its session)`` in one round trip, for bearer-token checks."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(grants.c.revoked_at.label("grant_revoked_at"), sessions)
                    .join(sessions, sessions.c.id == grants.c.session_id)
                    .where(grants.c.id == grant_id)
                )
            ).first()
        if row is None:
            return None
        return row._mapping["grant_revoked_at"] is not None, _session(row)

    async def insert_refresh(self, token: RefreshToken, digest: str) -> None:
        async with self._engine.begin() as conn:
            await _insert_refresh(conn, token, digest)

    async def refresh_with_session(self, digest: str) -> tuple[RefreshToken, Session] | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(*[c.label(f"rt_{c.name}") for c in refresh_tokens.c], sessions)
                    .join(sessions, sessions.c.id == refresh_tokens.c.session_id)
                    .where(refresh_tokens.c.digest == digest)
                )
            ).first()
        if row is None:
            return None
        m = row._mapping
        token = RefreshToken(
            id=m["rt_id"],
            grant_id=m["rt_grant_id"],
            app_id=m["rt_app_id"],
            session_id=m["rt_session_id"],
            user_id=m["rt_user_id"],
            scope=tuple(m["rt_scope"]),
            nonce=m["rt_nonce"],
            created_at=m["rt_created_at"],
            rotated_at=m["rt_rotated_at"],
            revoked_at=m["rt_revoked_at"],
        )
        return token, _session(row)  # type: ignore[arg-type]

    async def rotate(
        self,
        old: RefreshToken,
        new: RefreshToken,
        new_digest: str,
        now: datetime,
        *,
        session_updates: dict[str, Any],
    ) -> bool:
        """Retire ``old`` and store ``new`` atomically; False if ``old`` was already rotated or
        revoked by a concurrent request. Also extends the session's idle expiry."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                refresh_tokens.update()
                .where(refresh_tokens.c.id == old.id)
                .where(refresh_tokens.c.rotated_at.is_(None))
                .where(refresh_tokens.c.revoked_at.is_(None))
                .values(rotated_at=now)
            )
            if result.rowcount != 1:
                return False
            await _insert_refresh(conn, new, new_digest)
            if session_updates:
                await conn.execute(
                    sessions.update()
                    .where(sessions.c.id == old.session_id)
                    .values(**session_updates)
                )
        return True

    async def revoke_refresh(self, digest: str, now: datetime) -> RefreshToken | None:
        """RFC 7009: revoke the token's whole family. Returns the token (None if unknown)."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(refresh_tokens).where(refresh_tokens.c.digest == digest)
                )
            ).first()
        if row is None:
            return None
        token = _refresh(row)
        await self.revoke_grant(token.grant_id, now)
        return token
