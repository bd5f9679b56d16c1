"""Users."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ostiary.domain.users import User, normalize_email
from ostiary.storage.db import Database
from ostiary.storage.pages import Page, keyset_page
from ostiary.storage.prepared import AnyRow
from ostiary.storage.tables import column_lookup, users

__all__ = ["DuplicateUserError", "UserStore", "user_from_row"]


class DuplicateUserError(Exception):
    """Another user already has this email (or external id)."""


_USER_COLUMNS = column_lookup(users)


def user_from_row(row: AnyRow) -> User:
    # Columns as keys (not names), so that the same mapper reads rows joined with other tables.
    m = row._mapping
    c = _USER_COLUMNS
    return User(
        id=m[c.id],
        email=m[c.email],
        email_verified=m[c.email_verified],
        name=m[c.name],
        given_name=m[c.given_name],
        family_name=m[c.family_name],
        picture=m[c.picture],
        locale=m[c.locale],
        metadata=dict(m[c.metadata]),
        external_id=m[c.external_id],
        created_at=m[c.created_at],
        updated_at=m[c.updated_at],
        last_login_at=m[c.last_login_at],
        roles=tuple(m[c.roles]),
    )


class UserStore:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def insert(self, user: User, password_hash: str | None) -> None:
        values = {
            "id": user.id,
            "email": user.email,
            "email_normalized": normalize_email(user.email),
            "email_verified": user.email_verified,
            "password_hash": password_hash,
            "name": user.name,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "picture": user.picture,
            "locale": user.locale,
            "metadata": user.metadata,
            "external_id": user.external_id,
            "roles": list(user.roles),
            "created_at": user.created_at,
            "updated_at": user.updated_at,
            "last_login_at": user.last_login_at,
        }
        try:
            async with self._engine.begin() as conn:
                await conn.execute(users.insert().values(**values))
        except IntegrityError:
            raise DuplicateUserError(user.email) from None

    async def get(self, user_id: str) -> User | None:
        return await self._one(users.c.id == user_id)

    async def get_by_email(self, email: str) -> User | None:
        return await self._one(users.c.email_normalized == normalize_email(email))

    async def _one(self, where: sa.ColumnElement[bool]) -> User | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(users).where(where))).first()
        return None if row is None else user_from_row(row)

    async def credentials(self, email: str) -> tuple[User, str | None] | None:
        """The user and their password hash, for sign-in."""
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(users).where(users.c.email_normalized == normalize_email(email))
                )
            ).first()
        return None if row is None else (user_from_row(row), row._mapping["password_hash"])

    async def all(self) -> list[User]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(sa.select(users).order_by(users.c.created_at, users.c.id))
        return [user_from_row(row) for row in rows]

    async def set_roles(self, user_id: str, roles: tuple[str, ...]) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(users.update().where(users.c.id == user_id).values(roles=roles))

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                users.update().where(users.c.id == user_id).values(password_hash=password_hash)
            )

    async def mark_email_verified(self, user_id: str, now: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                users.update()
                .where(users.c.id == user_id)
                .values(email_verified=True, updated_at=now)
            )

    async def record_login(self, user_id: str, now: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                users.update().where(users.c.id == user_id).values(last_login_at=now)
            )

    async def delete(self, user_id: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(users.delete().where(users.c.id == user_id))
        return result.rowcount > 0

    async def page(self, *, after: str | None, limit: int, email: str | None = None) -> Page[User]:
        """Users in id (creation) order, optionally only the one with ``email``."""
        where = [] if email is None else [users.c.email_normalized == normalize_email(email)]
        return await keyset_page(
            self._engine, users, users.c.id, user_from_row, after=after, limit=limit, where=where
        )

    async def update_profile(self, user: User) -> None:
        """Write the profile fields of ``user`` (email, names, picture, locale, metadata,
        external_id, email_verified, updated_at); raises DuplicateUserError on a taken email or
        external_id."""
        values = {
            "email": user.email,
            "email_normalized": normalize_email(user.email),
            "email_verified": user.email_verified,
            "name": user.name,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "picture": user.picture,
            "locale": user.locale,
            "metadata": user.metadata,
            "external_id": user.external_id,
            "updated_at": user.updated_at,
        }
        try:
            async with self._engine.begin() as conn:
                await conn.execute(users.update().where(users.c.id == user.id).values(**values))
        except IntegrityError:
            raise DuplicateUserError(user.email) from None
