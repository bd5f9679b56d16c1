"""``/organizations`` (customer tenants) and their members (``…/members``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Response
from pydantic import Field

from ostiary.domain.organizations import MAX_METADATA_PAIRS
from ostiary.domain.organizations import Membership as MembershipRecord
from ostiary.domain.organizations import Organization as OrganizationRecord
from ostiary.services.organizations import ROLE_NAME_RE, SLUG_RE
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

__all__ = ["router"]

router = APIRouter(prefix="/organizations", tags=["organizations"])
Reader = Annotated[Caller, Depends(requires(READ))]
Writer = Annotated[Caller, Depends(requires(WRITE))]
OrgId = Annotated[str, Path(description="The organization's id (`org_…`).", max_length=200)]
MemberId = Annotated[str, Path(description="The member's user id (`usr_…`).", max_length=200)]
Status = Literal["active", "pending_invite", "suspended"]
METADATA = "At most 10 pairs; keys 1–40 characters, values at most 500."
SLUG_PATTERN = SLUG_RE.pattern
# A slug of the create body may also be empty: derived from the name, as when left out.
SLUG_OR_EMPTY_PATTERN = rf"^(?:{SLUG_PATTERN[1:-1]})?$"


def _metadata_schema(schema: dict[str, Any]) -> None:
    schema.update(maxProperties=MAX_METADATA_PAIRS, propertyNames={"minLength": 1, "maxLength": 40})
    schema["additionalProperties"] = {"type": "string", "maxLength": 500}


def _timeout() -> Any:
    return Field(None, ge=60, le=365 * 86400, description="Seconds; null = the environment's.")


class Organization(ResponseBody):
    id: str
    display_name: str
    slug: str
    external_id: str | None
    metadata: dict[str, str]
    session_idle_timeout: int | None
    session_absolute_timeout: int | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, org: OrganizationRecord) -> Organization:
        return cls(
            id=org.id,
            display_name=org.display_name,
            slug=org.slug,
            external_id=org.external_id,
            metadata=dict(org.metadata),
            session_idle_timeout=org.session_idle_timeout,
            session_absolute_timeout=org.session_absolute_timeout,
            created_at=org.created_at,
            updated_at=org.updated_at,
        )


class OrganizationList(ListBody):
    organizations: list[Organization]


class OrganizationCreate(RequestBody):
    display_name: str = Field(
        min_length=1, max_length=200, json_schema_extra=documented_pattern(NOT_BLANK_PATTERN)
    )
    slug: str | None = Field(
        None,
        max_length=63,
        description="Lower-case letters, digits and inner hyphens; derived from the name when "
        "left out (or empty). Unique.",
        json_schema_extra=documented_pattern(SLUG_OR_EMPTY_PATTERN),
    )
    external_id: str | None = Field(None, max_length=200, description="Unique when set.")
    metadata: dict[str, str] = Field(
        default_factory=dict, description=METADATA, json_schema_extra=_metadata_schema
    )


class OrganizationUpdate(RequestBody):
    """Only the fields present change."""

    display_name: str = optional(min_length=1, max_length=200)
    slug: str = optional(max_length=63, extra=documented_pattern(SLUG_PATTERN))
    external_id: str | None = Field(None, max_length=200)
    metadata: dict[str, str] = optional(description=METADATA, extra=_metadata_schema)
    session_idle_timeout: int | None = _timeout()
    session_absolute_timeout: int | None = _timeout()


class Membership(ResponseBody):
    user_id: str
    organization_id: str
    status: Status
    roles: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, membership: MembershipRecord) -> Membership:
        return cls(
            user_id=membership.user_id,
            organization_id=membership.organization_id,
            status=membership.status.value,
            roles=list(membership.roles),
            created_at=membership.created_at,
            updated_at=membership.updated_at,
        )


class MembershipList(ListBody):
    members: list[Membership]


ROLES_NOTE = "Names of existing roles"


def _role_names(schema: dict[str, Any]) -> None:
    schema["items"]["pattern"] = ROLE_NAME_RE.pattern


class MembershipCreate(RequestBody):
    user_id: str = Field(max_length=200)
    roles: list[str] = Field(
        ["member"], description=f"{ROLES_NOTE}.", json_schema_extra=_role_names
    )
    status: Status = "active"


class MembershipUpdate(RequestBody):
    """Only the fields present change."""

    roles: list[str] = optional(description=f"{ROLES_NOTE}; replaces the list.", extra=_role_names)
    status: Status = optional()


# -- organizations ----------------------------------------------------------------------------


@router.get(
    "",
    response_model=OrganizationList,
    responses=error_responses(401, 403, 422),
    summary="List organizations",
)
async def list_organizations(
    _: Reader,
    services: ServicesDep,
    page: Annotated[PageRequest, Depends(paging("organizations"))],
) -> OrganizationList:
    found = await services.organizations.page(after=page.after, limit=page.size)
    return OrganizationList(
        organizations=[Organization.of(org) for org in found.items],
        next_page_token=page.next_token(found.next_after),
        total_size=found.total,
    )


@router.post(
    "",
    status_code=201,
    response_model=Organization,
    responses=error_responses(400, 413, 401, 403, 409, 422),
    summary="Create an organization",
)
async def create_organization(
    _: Writer, services: ServicesDep, body: OrganizationCreate
) -> Organization:
    org = await services.organizations.create(
        body.display_name, slug=body.slug, external_id=body.external_id, metadata=body.metadata
    )
    return Organization.of(org)


@router.get(
    "/{org_id}",
    response_model=Organization,
    responses=error_responses(401, 403, 404, 422),
    summary="Get an organization",
)
async def get_organization(_: Reader, services: ServicesDep, org_id: OrgId) -> Organization:
    return Organization.of(await services.organizations.get(org_id))


@router.patch(
    "/{org_id}",
    response_model=Organization,
    responses=error_responses(400, 413, 401, 403, 404, 409, 422),
    summary="Change an organization",
)
async def update_organization(
    _: Writer, services: ServicesDep, org_id: OrgId, body: OrganizationUpdate
) -> Organization:
    changes = body.model_dump(exclude_unset=True)
    return Organization.of(await services.organizations.update(org_id, **changes))


@router.delete(
    "/{org_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422),
    summary="Delete an organization (and its memberships)",
)
async def delete_organization(_: Writer, services: ServicesDep, org_id: OrgId) -> Response:
    await services.organizations.delete(org_id)
    return Response(status_code=204)


# -- members ----------------------------------------------------------------------------------


@router.get(
    "/{org_id}/members",
    response_model=MembershipList,
    responses=error_responses(401, 403, 404, 422),
    summary="List an organization's members",
)
async def list_members(
    _: Reader,
    services: ServicesDep,
    org_id: OrgId,
    page: Annotated[PageRequest, Depends(paging("members"))],
) -> MembershipList:
    found = await services.organizations.members_page(org_id, after=page.after, limit=page.size)
    return MembershipList(
        members=[Membership.of(m) for m in found.items],
        next_page_token=page.next_token(found.next_after),
        total_size=found.total,
    )


@router.post(
    "/{org_id}/members",
    status_code=201,
    response_model=Membership,
    responses=error_responses(400, 413, 401, 403, 404, 409, 422),
    summary="Add a user to an organization",
)
async def add_member(
    _: Writer, services: ServicesDep, org_id: OrgId, body: MembershipCreate
) -> Membership:
    membership = await services.organizations.add_member(
        org_id, body.user_id, roles=body.roles, status=body.status
    )
    return Membership.of(membership)


@router.get(
    "/{org_id}/members/{user_id}",
    response_model=Membership,
    responses=error_responses(401, 403, 404, 422),
    summary="Get a membership",
)
async def get_member(
    _: Reader, services: ServicesDep, org_id: OrgId, user_id: MemberId
) -> Membership:
    return Membership.of(await services.organizations.membership(org_id, user_id))


@router.patch(
    "/{org_id}/members/{user_id}",
    response_model=Membership,
    responses=error_responses(400, 413, 401, 403, 404, 422),
    summary="Change a member's roles or status",
)
async def update_member(
    _: Writer, services: ServicesDep, org_id: OrgId, user_id: MemberId, body: MembershipUpdate
) -> Membership:
    membership = await services.organizations.update_member(
        org_id, user_id, **body.model_dump(exclude_unset=True)
    )
    return Membership.of(membership)


@router.delete(
    "/{org_id}/members/{user_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422),
    summary="Remove a user from an organization",
)
async def remove_member(
    _: Writer, services: ServicesDep, org_id: OrgId, user_id: MemberId
) -> Response:
    await services.organizations.remove_member(org_id, user_id)
    return Response(status_code=204)
