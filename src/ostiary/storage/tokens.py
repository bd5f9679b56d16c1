"""Grants, authorization codes and refresh tokens (all secrets stored as digests)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ostiary.domain.sessions import (
    AuthorizationCode,
    RefreshToken,
    Session,
    SessionStatus,
    session_is_live,
)
from ostiary.domain.users import User
from ostiary.storage.db import Database
from ostiary.storage.prepared import AnyRow, Prepared
from ostiary.storage.sessions import session_from_row
from ostiary.storage.tables import (
    authorization_codes,
    column_lookup,
    grants,
    refresh_tokens,
    revoked_access_tokens,
    sessions,
    users,
)
from ostiary.storage.users import user_from_row

__all__ = ["GrantHolder", "Login", "TokenStore"]


_CODE_COLUMNS = column_lookup(authorization_codes)
_REFRESH_COLUMNS = column_lookup(refresh_tokens)


def _code(row: AnyRow) -> AuthorizationCode:
    m = row._mapping
    c = _CODE_COLUMNS
    return AuthorizationCode(
        grant_id=m[c.grant_id],
        app_id=m[c.app_id],
        client_id=m[c.client_id],
        session_id=m[c.session_id],
        user_id=m[c.user_id],
        redirect_uri=m[c.redirect_uri],
        scope=tuple(m[c.scope]),
        nonce=m[c.nonce],
        code_challenge=m[c.code_challenge],
        auth_time=m[c.auth_time],
        amr=tuple(m[c.amr]),
        organization_id=m[c.organization_id],
        created_at=m[c.created_at],
        expires_at=m[c.expires_at],
        consumed_at=m[c.consumed_at],
        failed_at=m[c.failed_at],
    )


def _refresh(row: AnyRow) -> RefreshToken:
    m = row._mapping
    c = _REFRESH_COLUMNS
    return RefreshToken(
        id=m[c.id],
        grant_id=m[c.grant_id],
        app_id=m[c.app_id],
        session_id=m[c.session_id],
        user_id=m[c.user_id],
        scope=tuple(m[c.scope]),
        nonce=m[c.nonce],
        created_at=m[c.created_at],
        rotated_at=m[c.rotated_at],
        revoked_at=m[c.revoked_at],
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Login:
    """The session and user behind a code, refresh token or grant, read with it in one query."""

    session: Session
    user: User


@dataclasses.dataclass(frozen=True, slots=True)
class GrantHolder:
    """The grant behind a bearer token, as its check needs it: whether the grant is revoked,
    whether the token itself was revoked (by its ``jti``), the state of its session (not the
    whole session: a userinfo request read 14 session columns and converted 6 of them to use
    4), and its user."""

    revoked: bool
    token_revoked: bool
    session_id: str
    session_status: SessionStatus
    session_idle_expires_at: datetime | None
    session_absolute_expires_at: datetime
    user: User

    def is_live(self, now: datetime) -> bool:
        """Neither the grant nor the token revoked, and its session is live."""
        return not (self.revoked or self.token_revoked) and session_is_live(
            self.session_status,
            self.session_idle_expires_at,
            self.session_absolute_expires_at,
            now,
        )


def _login(row: AnyRow) -> Login:
    return Login(session_from_row(row), user_from_row(row))


# Statements built once: building a select costs more than SQLAlchemy's cached compilation.
_SESSION_AND_USER = sessions.join(users, users.c.id == sessions.c.user_id)
_LOGIN_BY_SESSION = Prepared(
    sa.select(sessions, users)
    .select_from(_SESSION_AND_USER)
    .where(sessions.c.id == sa.bindparam("session_id"))
)
# Whether an access token was revoked by its jti: a primary-key lookup.
_JTI_REVOKED = sa.exists().where(revoked_access_tokens.c.jti == sa.bindparam("jti"))
_TOKEN_REVOKED = Prepared(sa.select(_JTI_REVOKED.label("token_revoked")))
# A bearer token's check reads only what decides whether its session is live, and the user;
# and, in the same query, whether the token itself was revoked.
_HOLDER_BY_GRANT = Prepared(
    sa.select(
        grants.c.revoked_at,
        _JTI_REVOKED.label("token_revoked"),
        sessions.c.id,
        sessions.c.status,
        sessions.c.idle_expires_at,
        sessions.c.absolute_expires_at,
        users,
    )
    .select_from(grants.join(_SESSION_AND_USER, sessions.c.id == grants.c.session_id))
    .where(grants.c.id == sa.bindparam("grant_id"))
)
_LOGIN_BY_REFRESH = Prepared(
    sa.select(refresh_tokens, sessions, users)
    .select_from(
        refresh_tokens.join(_SESSION_AND_USER, sessions.c.id == refresh_tokens.c.session_id)
    )
    .where(refresh_tokens.c.digest == sa.bindparam("digest"))
)
_CONSUME_CODE = Prepared(
    authorization_codes.update()
    .where(authorization_codes.c.digest == sa.bindparam("code_digest"))
    .where(authorization_codes.c.consumed_at.is_(None))
    .values(consumed_at=sa.bindparam("now"))
    .returning(*authorization_codes.c)
)
_INSERT_REFRESH = Prepared(refresh_tokens.insert())
_INSERT_GRANT = Prepared(grants.insert())
_INSERT_CODE = Prepared(authorization_codes.insert())
# Which refresh token a rotation may retire: one definition for both forms of the rotation.
_RETIRE = (
    refresh_tokens.update()
    .where(refresh_tokens.c.id == sa.bindparam("old_id"))
    .where(refresh_tokens.c.rotated_at.is_(None))
    .where(refresh_tokens.c.revoked_at.is_(None))
    .values(rotated_at=sa.bindparam("now"))
)
_RETIRE_REFRESH = Prepared(_RETIRE)
# PostgreSQL: the rotation as one statement, a data-modifying WITH. The INSERT stores the new
# token only for the row the UPDATE retired, so a token another request rotated (or that was
# revoked) stores nothing, and the statement is atomic on its own: one round trip instead of
# BEGIN, UPDATE, INSERT and COMMIT. SQLite has no UPDATE inside WITH; it keeps the
# transaction, which costs it no round trips.
_RETIRED = _RETIRE.returning(refresh_tokens.c.id).cte("retired")
_ROTATE_REFRESH = Prepared(
    refresh_tokens.insert()
    .from_select(
        [column.name for column in refresh_tokens.c],
        sa.select(
            *(sa.bindparam(column.name, type_=column.type) for column in refresh_tokens.c)
        ).select_from(_RETIRED),
    )
    .returning(refresh_tokens.c.id)
)
_SESSION_ACTIVE = Prepared(
    sessions.update()
    .where(sessions.c.id == sa.bindparam("session_id"))
    .values(
        last_active_at=sa.bindparam("last_active"),
        idle_expires_at=sa.bindparam("idle_expires"),
    )
)
_CODE_FAILED = Prepared(
    authorization_codes.update()
    .where(authorization_codes.c.digest == sa.bindparam("code_digest"))
    .values(failed_at=sa.bindparam("now"))
)
_CODE_BY_DIGEST = Prepared(
    sa.select(authorization_codes).where(
        authorization_codes.c.digest == sa.bindparam("code_digest")
    )
)


def _refresh_values(token: RefreshToken, digest: str) -> dict[str, Any]:
    return {
        "id": token.id,
        "digest": digest,
        "grant_id": token.grant_id,
        "app_id": token.app_id,
        "session_id": token.session_id,
        "user_id": token.user_id,
        "scope": list(token.scope),
        "nonce": token.nonce,
        "created_at": token.created_at,
        "rotated_at": None,
        "revoked_at": None,
    }


class TokenStore:
    def __init__(self, engine: Database) -> None:
        self._engine = engine
        self._rotation_in_one_statement = engine.url.get_backend_name() == "postgresql"

    async def insert_code(self, code: AuthorizationCode, digest: str) -> None:
        """Store a code together with the grant it starts."""
        async with self._engine.writing() as writer:
            await writer.run(
                _INSERT_GRANT,
                {
                    "id": code.grant_id,
                    "app_id": code.app_id,
                    "session_id": code.session_id,
                    "user_id": code.user_id,
                    "created_at": code.created_at,
                    "revoked_at": None,
                },
            )
            await writer.run(
                _INSERT_CODE,
                {
                    "digest": digest,
                    "grant_id": code.grant_id,
                    "app_id": code.app_id,
                    "client_id": code.client_id,
                    "session_id": code.session_id,
                    "user_id": code.user_id,
                    "redirect_uri": code.redirect_uri,
                    "scope": list(code.scope),
                    "nonce": code.nonce,
                    "code_challenge": code.code_challenge,
                    "auth_time": code.auth_time,
                    "amr": list(code.amr),
                    "organization_id": code.organization_id,
                    "created_at": code.created_at,
                    "expires_at": code.expires_at,
                    "consumed_at": None,
                    "failed_at": None,
                },
            )

    async def consume_code(
        self, digest: str, now: datetime
    ) -> tuple[AuthorizationCode, bool, Login | None] | None:
        """Mark a code used (one statement: of two concurrent calls, one consumes it), then read
        its session and user. Returns the code, whether *this* call consumed it (False = a
        reuse) and, when it did, the login (None if that has gone since); None if there is no
        such code."""
        consumed = await self._engine.write(_CONSUME_CODE, {"code_digest": digest, "now": now})
        if not consumed:
            used = await self._engine.fetch(_CODE_BY_DIGEST, {"code_digest": digest})
            return None if not used else (_code(used[0]), False, None)
        code = _code(consumed[0])
        login = await self._engine.fetch(_LOGIN_BY_SESSION, {"session_id": code.session_id})
        return code, True, _login(login[0]) if login else None

    async def code_failed(self, digest: str, now: datetime) -> None:
        """Note that the request that consumed a code failed: nothing was issued from it."""
        await self._engine.write(_CODE_FAILED, {"code_digest": digest, "now": now})

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

    async def grant_holder(self, grant_id: str, jti: str) -> GrantHolder | None:
        """Whether a grant is revoked, whether its access token ``jti`` is, its session's state
        and its user, in one query, for bearer-token checks."""
        rows = await self._engine.fetch(_HOLDER_BY_GRANT, {"grant_id": grant_id, "jti": jti})
        if not rows:
            return None
        m = rows[0]._mapping
        return GrantHolder(
            revoked=m[grants.c.revoked_at] is not None,
            token_revoked=bool(m["token_revoked"]),
            session_id=m[sessions.c.id],
            session_status=SessionStatus(m[sessions.c.status]),
            session_idle_expires_at=m[sessions.c.idle_expires_at],
            session_absolute_expires_at=m[sessions.c.absolute_expires_at],
            user=user_from_row(m),
        )

    async def access_token_revoked(self, jti: str) -> bool:
        """Whether the access token ``jti`` was revoked (for tokens without a grant behind
        them: an app's own ``client_credentials`` tokens)."""
        rows = await self._engine.fetch(_TOKEN_REVOKED, {"jti": jti})
        return bool(rows[0]._mapping["token_revoked"])

    async def revoke_access_token(
        self, jti: str, client_id: str, now: datetime, expires_at: datetime
    ) -> None:
        """Revoke one access token until ``expires_at``; revoking it again changes nothing."""
        values = {"jti": jti, "client_id": client_id, "revoked_at": now, "expires_at": expires_at}
        try:
            async with self._engine.begin() as conn:
                await conn.execute(revoked_access_tokens.insert().values(**values))
        except sa.exc.IntegrityError:
            return  # already revoked (perhaps by a concurrent request)

    async def purge_revoked_access_tokens(self, now: datetime) -> int:
        """Forget revoked access tokens that have expired: no check accepts them anyway."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                revoked_access_tokens.delete().where(revoked_access_tokens.c.expires_at < now)
            )
        return result.rowcount or 0

    async def insert_refresh(self, token: RefreshToken, digest: str) -> None:
        await self._engine.write(_INSERT_REFRESH, _refresh_values(token, digest))

    async def refresh_login(self, digest: str) -> tuple[RefreshToken, Login] | None:
        """A refresh token with its session and user, in one query."""
        rows = await self._engine.fetch(_LOGIN_BY_REFRESH, {"digest": digest})
        if not rows:
            return None
        row = rows[0]
        return _refresh(row), _login(row)

    async def rotate(
        self,
        old: RefreshToken,
        new: RefreshToken,
        new_digest: str,
        now: datetime,
        *,
        session_active: tuple[datetime, datetime | None] | None,
    ) -> bool:
        """Retire ``old`` and store ``new`` atomically; False if ``old`` was already rotated or
        revoked by a concurrent request. With ``session_active`` = (last active, idle expiry),
        also records the session's activity."""
        if session_active is None and self._rotation_in_one_statement:
            values = {**_refresh_values(new, new_digest), "old_id": old.id, "now": now}
            return len(await self._engine.write(_ROTATE_REFRESH, values)) == 1
        async with self._engine.writing() as writer:
            if await writer.run(_RETIRE_REFRESH, {"old_id": old.id, "now": now}) != 1:
                return False
            await writer.run(_INSERT_REFRESH, _refresh_values(new, new_digest))
            if session_active is not None:
                last_active, idle_expires = session_active
                await writer.run(
                    _SESSION_ACTIVE,
                    {"session_id": old.session_id, "last_active": last_active,
                     "idle_expires": idle_expires},
                )  # fmt: skip
        return True
