"""Organizations and their members; roles and permissions, and what a token says about them."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from typing import Any

from ostiary.domain.ids import new_id
from ostiary.domain.organizations import (
    DEFAULT_ROLES,
    MAX_PERMISSIONS_PER_ROLE,
    PERMISSION_RE,
    Membership,
    MembershipStatus,
    Organization,
    Permission,
    Role,
    effective_permissions,
    metadata_problem,
)
from ostiary.services.clock import Clock
from ostiary.services.errors import Conflict, InvalidInput, NotFound
from ostiary.storage.organizations import DuplicateError, OrganizationStore, RoleStore
from ostiary.storage.pages import Page
from ostiary.storage.users import UserStore

__all__ = ["OrgClaims", "OrganizationService", "RoleService"]

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
ROLE_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


@dataclasses.dataclass(frozen=True, slots=True)
class OrgClaims:
    organization_id: str
    roles: tuple[str, ...]
    permissions: tuple[str, ...]


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-")
    return slug or "org"


class RoleService:
    def __init__(self, store: RoleStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def ensure_defaults(self) -> None:
        """The environment-wide roles ``admin`` and ``member`` exist from the first start."""
        for name in DEFAULT_ROLES:
            if await self._store.get(name) is None:
                with contextlib.suppress(Conflict):  # another process created it first
                    await self.create(name, display_name=name.capitalize())

    async def all(self) -> list[Role]:
        return await self._store.all()

    async def get(self, ref: str) -> Role:
        role = await self._store.get(ref)
        if role is None:
            raise NotFound(f"No role {ref!r}.")
        return role

    async def create(
        self,
        name: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        permissions: list[str] | None = None,
        extends: str | None = None,
    ) -> Role:
        now = self._clock.now()
        role = Role(
            id=new_id("role"),
            name=name,
            display_name=(display_name or name).strip(),
            description=description,
            permissions=tuple(dict.fromkeys(permissions or ())),
            extends=extends,
            created_at=now,
            updated_at=now,
        )
        await self._check(role)
        try:
            await self._store.insert(role)
        except DuplicateError:
            raise Conflict(f"A role named {name!r} already exists.") from None
        return role

    async def update(self, ref: str, **changes: Any) -> Role:
        role = await self.get(ref)
        allowed = {"display_name", "description", "permissions", "extends"}
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidInput(
                sorted(unknown)[0], f"Unknown field(s): {', '.join(sorted(unknown))}."
            )
        if "permissions" in changes and changes["permissions"] is not None:
            changes["permissions"] = tuple(dict.fromkeys(changes["permissions"]))
        updated = dataclasses.replace(role, **changes, updated_at=self._clock.now())
        await self._check(updated)
        await self._store.update(updated)
        return updated

    async def delete(self, ref: str) -> Role:
        role = await self.get(ref)
        if role.name in DEFAULT_ROLES:
            raise Conflict(f"The {role.name!r} role is built in and cannot be deleted.")
        dependants = [r.name for r in await self._store.all() if r.extends == role.name]
        if dependants:
            raise Conflict(
                f"Roles {', '.join(dependants)} extend {role.name!r}; change them first."
            )
        await self._store.delete(role.id)
        return role

    async def _check(self, role: Role) -> None:
        if not ROLE_NAME_RE.fullmatch(role.name):
            raise InvalidInput(
                "name", "A role name is 1–64 lower-case letters, digits, '-' or '_', from a letter."
            )
        if not 1 <= len(role.display_name) <= 200:
            raise InvalidInput("display_name", "The display name must be 1 to 200 characters.")
        if len(role.permissions) > MAX_PERMISSIONS_PER_ROLE:
            raise InvalidInput(
                "permissions", f"A role holds at most {MAX_PERMISSIONS_PER_ROLE} permissions."
            )
        for permission in role.permissions:
            if not PERMISSION_RE.fullmatch(permission):
                raise InvalidInput(
                    "permissions",
                    f"{permission!r} is not a permission: use resource:action, e.g. invoices:read.",
                )
        if role.extends is not None:
            roles = {r.name: r for r in await self._store.all()}
            roles[role.name] = role
            if role.extends not in roles:
                raise InvalidInput(
                    "extends", f"There is no role {role.extends!r} to extend.", rule="unknown_role"
                )
            seen, current = {role.name}, roles[role.extends]
            while True:
                if current.name in seen:
                    raise InvalidInput(
                        "extends", "Roles cannot extend each other in a circle.", rule="role_cycle"
                    )
                seen.add(current.name)
                if current.extends is None or current.extends not in roles:
                    break
                current = roles[current.extends]

    async def effective(self, role_names: tuple[str, ...]) -> tuple[str, ...]:
        roles = {r.name: r for r in await self._store.all()}
        return tuple(effective_permissions(role_names, roles))

    # -- permissions -----------------------------------------------------------------------

    async def permissions(self) -> list[Permission]:
        return await self._store.permissions()

    async def create_permission(self, name: str, description: str | None = None) -> Permission:
        if not PERMISSION_RE.fullmatch(name):
            raise InvalidInput("name", f"{name!r} is not a permission: use resource:action.")
        permission = Permission(name=name, description=description, created_at=self._clock.now())
        try:
            await self._store.insert_permission(permission)
        except DuplicateError:
            raise Conflict(f"The permission {name!r} already exists.") from None
        return permission

    async def update_permission(self, name: str, description: str | None) -> Permission:
        if not await self._store.update_permission(name, description):
            raise NotFound(f"No permission {name!r}.")
        return next(p for p in await self._store.permissions() if p.name == name)

    async def delete_permission(self, name: str) -> None:
        if not await self._store.delete_permission(name):
            raise NotFound(f"No permission {name!r}.")

    async def permission(self, name: str) -> Permission:
        permission = await self._store.get_permission(name)
        if permission is None:
            raise NotFound(f"No permission {name!r}.")
        return permission

    async def page(self, *, after: str | None, limit: int) -> Page[Role]:
        return await self._store.page(after=after, limit=limit)

    async def permissions_page(self, *, after: str | None, limit: int) -> Page[Permission]:
        return await self._store.permissions_page(after=after, limit=limit)


class OrganizationService:
    def __init__(
        self, store: OrganizationStore, users: UserStore, roles: RoleService, clock: Clock
    ) -> None:
        self._store = store
        self._users = users
        self._roles = roles
        self._clock = clock

    async def create(
        self,
        display_name: str,
        *,
        slug: str | None = None,
        external_id: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Organization:
        now = self._clock.now()
        org = Organization(
            id=new_id("org"),
            display_name=display_name.strip(),
            slug=slug or slugify(display_name),
            external_id=external_id,
            metadata=dict(metadata or {}),
            session_idle_timeout=None,
            session_absolute_timeout=None,
            created_at=now,
            updated_at=now,
        )
        self._check(org)
        try:
            await self._store.insert(org)
        except DuplicateError:
            raise Conflict(
                f"An organization with slug {org.slug!r} or that external_id already exists."
            ) from None
        return org

    async def update(self, org_id: str, **changes: Any) -> Organization:
        org = await self.get(org_id)
        allowed = {"display_name", "slug", "external_id", "metadata", "session_idle_timeout",
                   "session_absolute_timeout"}  # fmt: skip
        unknown = set(changes) - allowed
        if unknown:
            raise InvalidInput(
                sorted(unknown)[0], f"Unknown field(s): {', '.join(sorted(unknown))}."
            )
        updated = dataclasses.replace(org, **changes, updated_at=self._clock.now())
        self._check(updated)
        try:
            await self._store.update(updated)
        except DuplicateError:
            raise Conflict(f"The slug {updated.slug!r} or that external_id is taken.") from None
        return updated

    def _check(self, org: Organization) -> None:
        if not 1 <= len(org.display_name) <= 200:
            raise InvalidInput("display_name", "The display name must be 1 to 200 characters.")
        if not SLUG_RE.fullmatch(org.slug):
            raise InvalidInput(
                "slug", "A slug is 1–63 lower-case letters, digits and inner hyphens."
            )
        problem = metadata_problem(org.metadata)
        if problem:
            raise InvalidInput("metadata", problem)
        for field in ("session_idle_timeout", "session_absolute_timeout"):
            value = getattr(org, field)
            if value is not None and not 60 <= value <= 365 * 86400:
                raise InvalidInput(field, f"{field} must be 60 to 31536000 seconds.")

    async def get(self, org_id: str) -> Organization:
        org = await self._store.get(org_id)
        if org is None:
            raise NotFound(f"No organization {org_id!r}.")
        return org

    async def find(self, ref: str) -> Organization:
        """An organization by id (``org_…``) or slug."""
        org = await (
            self._store.get(ref) if ref.startswith("org_") else self._store.get_by_slug(ref)
        )
        if org is None:
            raise NotFound(f"No organization {ref!r} (give its org_… id or its slug).")
        return org

    async def all(self) -> list[Organization]:
        return await self._store.all()

    async def delete(self, org_id: str) -> Organization:
        org = await self.get(org_id)
        await self._store.delete(org.id)
        return org

    # -- memberships -----------------------------------------------------------------------

    async def add_member(
        self,
        org_id: str,
        user_id: str,
        *,
        roles: list[str] | None = None,
        status: str = MembershipStatus.ACTIVE.value,
    ) -> Membership:
        await self.get(org_id)
        if await self._users.get(user_id) is None:
            raise NotFound(f"No user {user_id!r}.")
        now = self._clock.now()
        membership = Membership(
            user_id=user_id,
            organization_id=org_id,
            status=self._status(status),
            roles=await self._check_roles(roles if roles is not None else ["member"]),
            created_at=now,
            updated_at=now,
        )
        try:
            await self._store.add_member(membership)
        except DuplicateError:
            raise Conflict("The user is already a member of this organization.") from None
        return membership

    async def update_member(
        self,
        org_id: str,
        user_id: str,
        *,
        roles: list[str] | None = None,
        status: str | None = None,
    ) -> Membership:
        membership = await self.membership(org_id, user_id)
        updated = dataclasses.replace(
            membership,
            roles=await self._check_roles(roles) if roles is not None else membership.roles,
            status=self._status(status) if status is not None else membership.status,
            updated_at=self._clock.now(),
        )
        await self._store.update_member(updated)
        return updated

    async def membership(self, org_id: str, user_id: str) -> Membership:
        membership = await self._store.membership(user_id, org_id)
        if membership is None:
            raise NotFound(f"User {user_id!r} is not a member of {org_id!r}.")
        return membership

    async def members(self, org_id: str) -> list[Membership]:
        await self.get(org_id)
        return await self._store.members(org_id)

    async def remove_member(self, org_id: str, user_id: str) -> None:
        if not await self._store.remove_member(user_id, org_id):
            raise NotFound(f"User {user_id!r} is not a member of {org_id!r}.")

    async def organizations_of(self, user_id: str) -> list[tuple[Organization, Membership]]:
        """The organizations in which the user is an active member."""
        active = [
            m
            for m in await self._store.memberships_of_user(user_id)
            if m.status is MembershipStatus.ACTIVE
        ]
        orgs = await self._store.by_ids([m.organization_id for m in active])
        return [(orgs[m.organization_id], m) for m in active if m.organization_id in orgs]

    async def memberships_of(self, user_id: str) -> list[tuple[Organization, Membership]]:
        """Every organization the user belongs to, whatever the membership's status."""
        memberships = await self._store.memberships_of_user(user_id)
        orgs = await self._store.by_ids([m.organization_id for m in memberships])
        return [(orgs[m.organization_id], m) for m in memberships if m.organization_id in orgs]

    async def claims(self, user_id: str, org_id: str | None) -> OrgClaims | None:
        """``oid``, ``roles`` and effective ``permissions`` for a token, when the user is an
        active member of the organization."""
        if org_id is None:
            return None
        membership = await self._store.membership(user_id, org_id)
        if membership is None or membership.status is not MembershipStatus.ACTIVE:
            return None
        permissions = await self._roles.effective(membership.roles)
        return OrgClaims(org_id, membership.roles, permissions)

    @staticmethod
    def _status(value: str) -> MembershipStatus:
        try:
            return MembershipStatus(value)
        except ValueError:
            options = ", ".join(s.value for s in MembershipStatus)
            raise InvalidInput("status", f"status must be one of {options}.") from None

    async def _check_roles(self, names: list[str]) -> tuple[str, ...]:
        known = {r.name for r in await self._roles.all()}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise InvalidInput(
                "roles", f"Unknown role(s): {', '.join(unknown)}.", rule="unknown_role"
            )
        return tuple(dict.fromkeys(names))

    async def page(self, *, after: str | None, limit: int) -> Page[Organization]:
        return await self._store.page(after=after, limit=limit)

    async def members_page(self, org_id: str, *, after: str | None, limit: int) -> Page[Membership]:
        await self.get(org_id)
        return await self._store.members_page(org_id, after=after, limit=limit)
