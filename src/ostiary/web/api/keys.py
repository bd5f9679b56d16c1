"""Signing keys: list them with their status, rotate (a new key published now, signing later)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends
from pydantic import Field

from ostiary.services.keys import KeyInfo
from ostiary.web.api.auth import READ, WRITE, Caller, ServicesDep, requires
from ostiary.web.api.errors import error_responses
from ostiary.web.api.models import ListBody, RequestBody, ResponseBody
from ostiary.web.api.pagination import PageRequest, page_of, paging

__all__ = ["router"]

router = APIRouter(prefix="/keys", tags=["signing keys"])
Reader = Annotated[Caller, Depends(requires(READ))]
Writer = Annotated[Caller, Depends(requires(WRITE))]
MAX_DELAY = 30 * 86400


class SigningKey(ResponseBody):
    kid: str
    algorithm: str
    status: Literal["next", "active", "retired", "expired"] = Field(
        description="next: published, not signing yet; active: signs new tokens; retired: "
        "published so the tokens it signed still verify; expired: no live token needs it."
    )
    created_at: datetime
    activates_at: datetime

    @classmethod
    def of(cls, key: KeyInfo) -> SigningKey:
        return cls(
            kid=key.kid,
            algorithm=key.algorithm,
            status=key.status,  # type: ignore[arg-type]  # key_status returns one of these
            created_at=datetime.fromisoformat(key.created_at),
            activates_at=datetime.fromisoformat(key.activates_at),
        )


class SigningKeyList(ListBody):
    keys: list[SigningKey]


class Rotation(RequestBody):
    delay: int | None = Field(
        None,
        ge=0,
        le=MAX_DELAY,
        description="Seconds until the new key signs; leave out for the configured delay, so "
        "relying parties fetch it first.",
    )


@router.get(
    "",
    response_model=SigningKeyList,
    responses=error_responses(401, 403, 422),
    summary="List signing keys",
)
async def list_keys(
    _: Reader, services: ServicesDep, page: Annotated[PageRequest, Depends(paging("keys"))]
) -> SigningKeyList:
    keys = await services.keys.all()
    chosen, total, token = page_of(keys, lambda key: key.kid, page)
    return SigningKeyList(
        keys=[SigningKey.of(key) for key in chosen], next_page_token=token, total_size=total
    )


@router.post(
    "/rotate",
    status_code=201,
    response_model=SigningKey,
    responses=error_responses(400, 413, 401, 403, 422),
    summary="Rotate: add a key that is published now and signs after the delay",
)
async def rotate_key(
    _: Writer, services: ServicesDep, body: Annotated[Rotation | None, Body()] = None
) -> SigningKey:
    delay = None if body is None else body.delay
    return SigningKey.of(await services.keys.rotate(delay))
