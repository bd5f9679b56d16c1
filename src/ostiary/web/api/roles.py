"""``/roles`` (environment-wide, by id or name) and ``/permissions`` (``resource:action``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import Field

from ostiary.domain.organizations import MAX_PERMISSIONS_PER_ROLE, PERMISSION_RE
from ostiary.domain.organizations import Permission as PermissionRecord
from ostiary.domain.organizations import Role as RoleRecord
from ostiary.services.organizations import ROLE_NAME_RE
from ostiary.web.api.auth import READ, WRITE, Caller, ServicesDep, requires
from ostiary.web.api.errors import error_responses
from ostiary.web.api.models import (
    NOT_BLANK_PATTERN,
    ListBody,
    RequestBody,
    ResponseBody,
    documented_pattern,
    optional,
)
from ostiary.web.api.pagination import PageRequest, paging

__all__ = ["permissions_router", "roles_router"]

roles_router = APIRouter(prefix="/roles", tags=["roles"])
permissions_router = APIRouter(prefix="/permissions", tags=["permissions"])
Reader = Annotated[Caller, Depends(requires(READ))]
Writer = Annotated[Caller, Depends(requires(WRITE))]
RoleRef = Annotated[str, Path(description="The role's id (`role_…`) or name.", max_length=200)]
PermissionName = Annotated[
    str, Path(description="The permission, `resource:action`.", max_length=200)
]
EXTENDS = "The name of an existing role whose permissions this one inherits (no circles)."
PERMISSIONS = f"`resource:action` names, at most {MAX_PERMISSIONS_PER_ROLE}."
# A display name left out or empty is the role's name.
DISPLAY_NAME_OR_EMPTY_PATTERN = rf"^(?:{NOT_BLANK_PATTERN[1:-1]})?$"


def _permission_names(schema: dict[str, Any]) -> None:
    schema["items"]["pattern"] = PERMISSION_RE.pattern


class Role(ResponseBody):
    id: str
    name: str
    display_name: str
    description: str | None
    permissions: list[str]
    extends: str | None = Field(description="The name of a role whose permissions it inherits.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, role: RoleRecord) -> Role:
        return cls(
            id=role.id,
            name=role.name,
            display_name=role.display_name,
            description=role.description,
            permissions=list(role.permissions),
            extends=role.extends,
            created_at=role.created_at,
            updated_at=role.updated_at,
        )


class RoleList(ListBody):
    roles: list[Role]


class RoleCreate(RequestBody):
    name: str = Field(
        max_length=64,
        description="Unique; lower-case letters, digits, '-' or '_', starting with a letter.",
        json_schema_extra=documented_pattern(ROLE_NAME_RE.pattern),
    )
    display_name: str | None = Field(
        None,
        max_length=200,
        description="Defaults to the name (also when empty); surrounding white space is dropped.",
        json_schema_extra=documented_pattern(DISPLAY_NAME_OR_EMPTY_PATTERN),
    )
    description: str | None = Field(None, max_length=1000)
    permissions: list[str] = Field(
        default_factory=list,
        max_length=MAX_PERMISSIONS_PER_ROLE,
        description=PERMISSIONS,
        json_schema_extra=_permission_names,
    )
    extends: str | None = Field(
        None,
        max_length=64,
        description=EXTENDS,
        json_schema_extra=documented_pattern(ROLE_NAME_RE.pattern),
    )


class RoleUpdate(RequestBody):
    """Only the fields present change; the name is fixed."""

    display_name: str = optional(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=1000)
    permissions: list[str] = optional(
        max_length=MAX_PERMISSIONS_PER_ROLE,
        description=f"{PERMISSIONS} Replaces the list.",
        extra=_permission_names,
    )
    extends: str | None = Field(
        None,
        max_length=64,
        description=EXTENDS,
        json_schema_extra=documented_pattern(ROLE_NAME_RE.pattern),
    )


class Permission(ResponseBody):
    name: str
    description: str | None
    created_at: datetime

    @classmethod
    def of(cls, permission: PermissionRecord) -> Permission:
        return cls(
            name=permission.name,
            description=permission.description,
            created_at=permission.created_at,
        )


class PermissionList(ListBody):
    permissions: list[Permission]


class PermissionCreate(RequestBody):
    name: str = Field(
        max_length=130,
        description="`resource:action`, e.g. `invoices:read`.",
        json_schema_extra=documented_pattern(PERMISSION_RE.pattern),
    )
    description: str | None = Field(None, max_length=1000)


class PermissionUpdate(RequestBody):
    description: str | None = Field(None, max_length=1000)


# -- roles ------------------------------------------------------------------------------------


@roles_router.get(
    "",
    response_model=RoleList,
    responses=error_responses(401, 403, 422),
    summary="List roles",
)
async def list_roles(
    _: Reader, services: ServicesDep, page: Annotated[PageRequest, Depends(paging("roles"))]
) -> RoleList:
    found = await services.roles.page(after=page.after, limit=page.size)
    return RoleList(
        roles=[Role.of(role) for role in found.items],
        next_page_token=page.next_token(found.next_after),
        total_size=found.total,
    )


@roles_router.post(
    "",
    status_code=201,
    response_model=Role,
    responses=error_responses(400, 413, 401, 403, 409, 422),
    summary="Create a role",
)
async def create_role(_: Writer, services: ServicesDep, body: RoleCreate) -> Role:
    role = await services.roles.create(
        body.name,
        display_name=body.display_name,
        description=body.description,
        permissions=body.permissions,
        extends=body.extends,
    )
    return Role.of(role)


@roles_router.get(
    "/{role}",
    response_model=Role,
    responses=error_responses(401, 403, 404, 422),
    summary="Get a role",
)
async def get_role(_: Reader, services: ServicesDep, role: RoleRef) -> Role:
    return Role.of(await services.roles.get(role))


@roles_router.patch(
    "/{role}",
    response_model=Role,
    responses=error_responses(400, 413, 401, 403, 404, 422),
    summary="Change a role",
)
async def update_role(_: Writer, services: ServicesDep, role: RoleRef, body: RoleUpdate) -> Role:
    return Role.of(await services.roles.update(role, **body.model_dump(exclude_unset=True)))


@roles_router.delete(
    "/{role}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Delete a role (not the built-in ones, nor one another role extends)",
)
async def delete_role(_: Writer, services: ServicesDep, role: RoleRef) -> Response:
    await services.roles.delete(role)
    return Response(status_code=204)


# -- permissions ------------------------------------------------------------------------------


@permissions_router.get(
    "",
    response_model=PermissionList,
    responses=error_responses(401, 403, 422),
    summary="List permissions",
)
async def list_permissions(
    _: Reader,
    services: ServicesDep,
    page: Annotated[PageRequest, Depends(paging("permissions"))],
) -> PermissionList:
    found = await services.roles.permissions_page(after=page.after, limit=page.size)
    return PermissionList(
        permissions=[Permission.of(p) for p in found.items],
        next_page_token=page.next_token(found.next_after),
        total_size=found.total,
    )


@permissions_router.post(
    "",
    status_code=201,
    response_model=Permission,
    responses=error_responses(400, 413, 401, 403, 409, 422),
    summary="Create a permission",
)
async def create_permission(_: Writer, services: ServicesDep, body: PermissionCreate) -> Permission:
    return Permission.of(await services.roles.create_permission(body.name, body.description))


@permissions_router.get(
    "/{name}",
    response_model=Permission,
    responses=error_responses(401, 403, 404, 422),
    summary="Get a permission",
)
async def get_permission(_: Reader, services: ServicesDep, name: PermissionName) -> Permission:
    return Permission.of(await services.roles.permission(name))


@permissions_router.patch(
    "/{name}",
    response_model=Permission,
    responses=error_responses(400, 413, 401, 403, 404, 422),
    summary="Change a permission's description",
)
async def update_permission(
    _: Writer, services: ServicesDep, name: PermissionName, body: PermissionUpdate
) -> Permission:
    if "description" not in body.model_fields_set:
        return Permission.of(await services.roles.permission(name))
    return Permission.of(await services.roles.update_permission(name, body.description))


@permissions_router.delete(
    "/{name}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422),
    summary="Delete a permission",
)
async def delete_permission(_: Writer, services: ServicesDep, name: PermissionName) -> Response:
    await services.roles.delete_permission(name)
    return Response(status_code=204)
