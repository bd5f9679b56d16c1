"""``/organizations/{org_id}/domains``: an organization's email domains and their DNS proof."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Response
from pydantic import Field

from ostiary.domain.domains import Domain as DomainRecord
from ostiary.services.domains import MAX_DOMAINS
from ostiary.web.api.auth import READ, WRITE, Caller, ServicesDep, requires
from ostiary.web.api.errors import error_responses
from ostiary.web.api.models import ListBody, RequestBody, ResponseBody

__all__ = ["router"]

router = APIRouter(prefix="/organizations/{org_id}/domains", tags=["organizations"])
Reader = Annotated[Caller, Depends(requires(READ))]
Writer = Annotated[Caller, Depends(requires(WRITE))]
OrgId = Annotated[str, Path(description="The organization's id (`org_…`).", max_length=200)]
DomainRef = Annotated[
    str, Path(description="The domain's id (`dom_…`) or its name.", max_length=260)
]


class Domain(ResponseBody):
    id: str
    organization_id: str
    name: str = Field(description="Lower-case ASCII (IDNA for other scripts).")
    status: Literal["pending", "verified"]
    verified_at: datetime | None
    verified_by: Literal["dns", "manual"] | None
    record_type: Literal["TXT"] = "TXT"
    record_name: str = Field(description="Where to publish the TXT record.")
    record_value: str = Field(description="The text the TXT record must hold.")
    created_at: datetime

    @classmethod
    def of(cls, domain: DomainRecord) -> Domain:
        return cls(
            id=domain.id,
            organization_id=domain.organization_id,
            name=domain.name,
            status="verified" if domain.verified else "pending",
            verified_at=domain.verified_at,
            verified_by=domain.verified_by.value if domain.verified_by else None,
            record_name=domain.record_name,
            record_value=domain.record_value,
            created_at=domain.created_at,
        )


class DomainList(ListBody):
    domains: list[Domain]


class DomainCreate(RequestBody):
    name: str = Field(
        min_length=1,
        max_length=260,
        description="A domain the organization owns, such as `acme.com`; not a public suffix.",
    )


class DomainVerify(RequestBody):
    method: Literal["dns", "manual"] = Field(
        "dns", description="`manual` marks it verified without DNS: development only."
    )


@router.get(
    "",
    response_model=DomainList,
    responses=error_responses(401, 403, 404, 422),
    summary="List an organization's domains",
    description=f"All of them in one page (an organization has at most {MAX_DOMAINS}).",
)
async def list_domains(_: Reader, services: ServicesDep, org_id: OrgId) -> DomainList:
    domains = await services.domains.of_organization(org_id)
    return DomainList(
        domains=[Domain.of(d) for d in domains], next_page_token=None, total_size=len(domains)
    )


@router.post(
    "",
    status_code=201,
    response_model=Domain,
    responses=error_responses(400, 413, 401, 403, 404, 409, 422),
    summary="Claim a domain for an organization",
    description="The answer says which TXT record proves the claim: publish it, then verify.",
)
async def add_domain(_: Writer, services: ServicesDep, org_id: OrgId, body: DomainCreate) -> Domain:
    return Domain.of(await services.domains.add(org_id, body.name))


@router.get(
    "/{domain}",
    response_model=Domain,
    responses=error_responses(401, 403, 404, 422),
    summary="Get a domain",
)
async def get_domain(_: Reader, services: ServicesDep, org_id: OrgId, domain: DomainRef) -> Domain:
    return Domain.of(await services.domains.get(org_id, domain))


@router.post(
    "/{domain}/verify",
    response_model=Domain,
    responses=error_responses(400, 413, 401, 403, 404, 409, 422),
    summary="Verify a domain through its DNS record",
    description="409 `domain_not_verified` while the DNS does not answer the record.",
)
async def verify_domain(
    _: Writer, services: ServicesDep, org_id: OrgId, domain: DomainRef, body: DomainVerify
) -> Domain:
    verified = await services.domains.verify(org_id, domain, manual=body.method == "manual")
    return Domain.of(verified)


@router.delete(
    "/{domain}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422),
    summary="Remove a domain",
)
async def remove_domain(
    _: Writer, services: ServicesDep, org_id: OrgId, domain: DomainRef
) -> Response:
    await services.domains.remove(org_id, domain)
    return Response(status_code=204)
