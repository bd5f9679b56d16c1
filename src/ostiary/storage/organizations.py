"""Organizations, memberships, roles and permissions."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ostiary.domain.organizations import (
    Membership,
    MembershipStatus,
    Organization,
    Permission,
    Role,
)
from ostiary.storage.db import Database
from ostiary.storage.pages import Page, keyset_page
from ostiary.storage.tables import memberships, organizations, permissions, roles

__all__ = ["DuplicateError", "OrganizationStore", "RoleStore"]


class DuplicateError(Exception):
    """A unique value (slug, external id, name) is taken."""


def _org(row: sa.Row[Any]) -> Organization:
    m = row._mapping
    return Organization(
        id=m["id"],
        display_name=m["display_name"],
        slug=m["slug"],
        external_id=m["external_id"],
        metadata=dict(m["metadata"]),
        session_idle_timeout=m["session_idle_timeout"],
        session_absolute_timeout=m["session_absolute_timeout"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _membership(row: sa.Row[Any]) -> Membership:
    m = row._mapping
    return Membership(
        user_id=m["user_id"],
        organization_id=m["organization_id"],
        status=MembershipStatus(m["status"]),
        roles=tuple(m["roles"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def _role(row: sa.Row[Any]) -> Role:
    m = row._mapping
    return Role(
        id=m["id"],
        name=m["name"],
        display_name=m["display_name"],
        description=m["description"],
        permissions=tuple(m["permissions"]),
        extends=m["extends"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


class OrganizationStore:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def insert(self, org: Organization) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(organizations.insert().values(**_org_values(org)))
        except IntegrityError:
            raise DuplicateError(org.slug) from None

    async def update(self, org: Organization) -> None:
        values = _org_values(org)
        del values["id"], values["created_at"]
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    organizations.update().where(organizations.c.id == org.id).values(**values)
                )
        except IntegrityError:
            raise DuplicateError(org.slug) from None

    async def get(self, org_id: str) -> Organization | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(organizations).where(organizations.c.id == org_id))
            ).first()
        return None if row is None else _org(row)

    async def get_by_slug(self, slug: str) -> Organization | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(organizations).where(organizations.c.slug == slug))
            ).first()
        return None if row is None else _org(row)

    async def by_ids(self, org_ids: list[str]) -> dict[str, Organization]:
        if not org_ids:
            return {}
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(organizations).where(organizations.c.id.in_(org_ids))
            )
        return {row.id: _org(row) for row in rows}

    async def all(self) -> list[Organization]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(sa.select(organizations).order_by(organizations.c.id))
        return [_org(row) for row in rows]

    async def delete(self, org_id: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(organizations.delete().where(organizations.c.id == org_id))
        return result.rowcount > 0

    # -- memberships -----------------------------------------------------------------------

    async def add_member(self, membership: Membership) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    memberships.insert().values(
                        user_id=membership.user_id,
                        organization_id=membership.organization_id,
                        status=membership.status.value,
                        roles=list(membership.roles),
                        created_at=membership.created_at,
                        updated_at=membership.updated_at,
                    )
                )
        except IntegrityError:
            raise DuplicateError(membership.user_id) from None

    async def update_member(self, membership: Membership) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                memberships.update()
                .where(memberships.c.user_id == membership.user_id)
                .where(memberships.c.organization_id == membership.organization_id)
                .values(
                    status=membership.status.value,
                    roles=list(membership.roles),
                    updated_at=membership.updated_at,
                )
            )

    async def membership(self, user_id: str, org_id: str) -> Membership | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(memberships)
                    .where(memberships.c.user_id == user_id)
                    .where(memberships.c.organization_id == org_id)
                )
            ).first()
        return None if row is None else _membership(row)

    async def memberships_of_user(self, user_id: str) -> list[Membership]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(memberships)
                .where(memberships.c.user_id == user_id)
                .order_by(memberships.c.created_at)
            )
        return [_membership(row) for row in rows]

    async def members(self, org_id: str) -> list[Membership]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(memberships)
                .where(memberships.c.organization_id == org_id)
                .order_by(memberships.c.created_at, memberships.c.user_id)
            )
        return [_membership(row) for row in rows]

    async def remove_member(self, user_id: str, org_id: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                memberships.delete()
                .where(memberships.c.user_id == user_id)
                .where(memberships.c.organization_id == org_id)
            )
        return result.rowcount > 0

    async def page(self, *, after: str | None, limit: int) -> Page[Organization]:
        """Organizations in id (creation) order."""
        return await keyset_page(
            self._engine, organizations, organizations.c.id, _org, after=after, limit=limit
        )

    async def members_page(self, org_id: str, *, after: str | None, limit: int) -> Page[Membership]:
        """The memberships of one organization in user id order."""
        return await keyset_page(
            self._engine,
            memberships,
            memberships.c.user_id,
            _membership,
            after=after,
            limit=limit,
            where=[memberships.c.organization_id == org_id],
        )


def _org_values(org: Organization) -> dict[str, Any]:
    return {
        "id": org.id,
        "display_name": org.display_name,
        "slug": org.slug,
        "external_id": org.external_id,
        "metadata": org.metadata,
        "session_idle_timeout": org.session_idle_timeout,
        "session_absolute_timeout": org.session_absolute_timeout,
        "created_at": org.created_at,
        "updated_at": org.updated_at,
    }


class RoleStore:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def insert(self, role: Role) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(roles.insert().values(**_role_values(role)))
        except IntegrityError:
            raise DuplicateError(role.name) from None

    async def update(self, role: Role) -> None:
        values = _role_values(role)
        del values["id"], values["created_at"]
        try:
            async with self._engine.begin() as conn:
                await conn.execute(roles.update().where(roles.c.id == role.id).values(**values))
        except IntegrityError:
            raise DuplicateError(role.name) from None

    async def all(self) -> list[Role]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(sa.select(roles).order_by(roles.c.created_at, roles.c.id))
        return [_role(row) for row in rows]

    async def get(self, ref: str) -> Role | None:
        column = roles.c.id if ref.startswith("role_") else roles.c.name
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(roles).where(column == ref))).first()
        return None if row is None else _role(row)

    async def delete(self, role_id: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(roles.delete().where(roles.c.id == role_id))
        return result.rowcount > 0

    # -- permissions -----------------------------------------------------------------------

    async def insert_permission(self, permission: Permission) -> None:
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    permissions.insert().values(
                        name=permission.name,
                        description=permission.description,
                        created_at=permission.created_at,
                    )
                )
        except IntegrityError:
            raise DuplicateError(permission.name) from None

    async def update_permission(self, name: str, description: str | None) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(
                permissions.update()
                .where(permissions.c.name == name)
                .values(description=description)
            )
        return result.rowcount > 0

    async def permissions(self) -> list[Permission]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(sa.select(permissions).order_by(permissions.c.name))
        return [
            Permission(name=r.name, description=r.description, created_at=r.created_at)
            for r in rows
        ]

    async def delete_permission(self, name: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(permissions.delete().where(permissions.c.name == name))
        return result.rowcount > 0

    async def page(self, *, after: str | None, limit: int) -> Page[Role]:
        """Roles in id (creation) order."""
        return await keyset_page(self._engine, roles, roles.c.id, _role, after=after, limit=limit)

    async def permissions_page(self, *, after: str | None, limit: int) -> Page[Permission]:
        """Permissions in name order."""
        return await keyset_page(
            self._engine, permissions, permissions.c.name, _permission, after=after, limit=limit
        )

    async def get_permission(self, name: str) -> Permission | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(permissions).where(permissions.c.name == name))
            ).first()
        return None if row is None else _permission(row)


def _permission(row: sa.Row[Any]) -> Permission:
    m = row._mapping
    return Permission(name=m["name"], description=m["description"], created_at=m["created_at"])


def _role_values(role: Role) -> dict[str, Any]:
    return {
        "id": role.id,
        "name": role.name,
        "display_name": role.display_name,
        "description": role.description,
        "permissions": list(role.permissions),
        "extends": role.extends,
        "created_at": role.created_at,
        "updated_at": role.updated_at,
    }
