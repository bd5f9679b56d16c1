"""Signing keys: list them with their status, rotate (a new key published now, signing later;
a key still waiting to sign is superseded by the rotation and never signs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends
from pydantic import Field

from ostiary.services.keys import KeyInfo, RotatedKey
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
    status: Literal["next", "active", "retired", "superseded", "expired"] = Field(
        description="next: published, not signing yet; active: signs new tokens; retired: "
        "published so the tokens it signed still verify; superseded: a later rotation was made "
        "before it started signing, so it never signs (published a while longer, like a "
        "retired key); expired: no live token needs it."
    )
    created_at: datetime
    activates_at: datetime = Field(
        description="When it starts signing, unless a later rotation supersedes it first."
    )
    superseded_by: str | None = Field(
        description="The kid of the later rotation that superseded this key; null otherwise."
    )

    @classmethod
    def of(cls, key: KeyInfo) -> SigningKey:
        return cls(
            kid=key.kid,
            algorithm=key.algorithm,
            status=key.status,  # type: ignore[arg-type]  # key_statuses returns one of these
            created_at=datetime.fromisoformat(key.created_at),
            activates_at=datetime.fromisoformat(key.activates_at),
            superseded_by=key.superseded_by,
        )


class RotatedSigningKey(SigningKey):
    superseded: list[SigningKey] = Field(
        description="The keys that were waiting to sign (status next) when this rotation was "
        "made. The newest rotation wins: they are superseded and will never sign. Empty when "
        "no key was waiting."
    )

    @classmethod
    def rotated(cls, key: RotatedKey) -> RotatedSigningKey:
        return cls(
            **SigningKey.of(key).model_dump(),
            superseded=[SigningKey.of(old) for old in key.superseded],
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
    response_model=RotatedSigningKey,
    responses=error_responses(400, 413, 401, 403, 422),
    summary="Rotate: add a key that is published now and signs after the delay",
    description="A key that is still waiting to sign when you rotate is superseded: the newest "
    "rotation wins, so the waiting key never signs and signing never goes back to an older "
    "key. The response lists the keys this rotation superseded under `superseded`.",
)
async def rotate_key(
    _: Writer, services: ServicesDep, body: Annotated[Rotation | None, Body()] = None
) -> RotatedSigningKey:
    delay = None if body is None else body.delay
    return RotatedSigningKey.rotated(await services.keys.rotate(delay))
