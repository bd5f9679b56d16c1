"""``/users``: the people who sign in. Deleting one ends their sessions (back-channel logout)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import Field

from ostiary.domain.users import User as UserRecord
from ostiary.services.passwords import MAX_PASSWORD_LENGTH
from ostiary.web.api.auth import READ, WRITE, Caller, ServicesDep, requires
from ostiary.web.api.errors import error_responses
from ostiary.web.api.models import (
    EMAIL_PATTERN,
    ListBody,
    RequestBody,
    ResponseBody,
    documented_pattern,
    optional,
)
from ostiary.web.api.pagination import PageRequest, paging

__all__ = ["UserRef", "router"]

router = APIRouter(prefix="/users", tags=["users"])
Reader = Annotated[Caller, Depends(requires(READ))]
Writer = Annotated[Caller, Depends(requires(WRITE))]
UserRef = Annotated[str, Path(description="The user's id (`usr_…`) or email.", max_length=320)]


class User(ResponseBody):
    id: str
    email: str
    email_verified: bool
    name: str | None
    given_name: str | None
    family_name: str | None
    picture: str | None
    locale: str | None
    metadata: dict[str, Any]
    external_id: str | None
    roles: list[str] = Field(description="Environment roles, e.g. `ostiary_admin`.")
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: UserRecord) -> User:
        return cls(
            id=user.id,
            email=user.email,
            email_verified=user.email_verified,
            name=user.name,
            given_name=user.given_name,
            family_name=user.family_name,
            picture=user.picture,
            locale=user.locale,
            metadata=user.metadata,
            external_id=user.external_id,
            roles=list(user.roles),
            created_at=user.created_at,
            updated_at=user.updated_at,
            last_login_at=user.last_login_at,
        )


class UserList(ListBody):
    users: list[User]


class UserCreate(RequestBody):
    email: str = Field(
        max_length=320,
        description="Unique, case-insensitively; surrounding white space is dropped.",
        json_schema_extra=documented_pattern(EMAIL_PATTERN),
    )
    password: str | None = Field(
        None,
        max_length=MAX_PASSWORD_LENGTH,
        description="At least the environment's minimum length (OSTIARY_PASSWORD_MIN_LENGTH, "
        "8 by default). Leave out for a user who signs in another way or resets it.",
    )
    name: str | None = Field(None, max_length=200)
    email_verified: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)


class UserUpdate(RequestBody):
    """Only the fields present change. A changed email is unverified unless
    ``email_verified`` is sent too."""

    email: str = optional(max_length=320, extra=documented_pattern(EMAIL_PATTERN))
    email_verified: bool = optional()
    name: str | None = Field(None, max_length=200)
    given_name: str | None = Field(None, max_length=100)
    family_name: str | None = Field(None, max_length=100)
    picture: str | None = Field(None, max_length=1000)
    locale: str | None = Field(None, max_length=20)
    metadata: dict[str, Any] = optional()
    external_id: str | None = Field(None, max_length=200)


@router.get(
    "",
    response_model=UserList,
    responses=error_responses(401, 403, 422),
    summary="List users (optionally the one with an email)",
)
async def list_users(
    _: Reader,
    services: ServicesDep,
    page: Annotated[PageRequest, Depends(paging("users"))],
    email: Annotated[
        str | None,
        Query(max_length=320, description="Only the user with this email (case-insensitive)."),
    ] = None,
) -> UserList:
    found = await services.users.page(after=page.after, limit=page.size, email=email)
    return UserList(
        users=[User.of(user) for user in found.items],
        next_page_token=page.next_token(found.next_after),
        total_size=found.total,
    )


@router.post(
    "",
    status_code=201,
    response_model=User,
    responses=error_responses(400, 413, 401, 403, 409, 422),
    summary="Create a user",
)
async def create_user(_: Writer, services: ServicesDep, body: UserCreate) -> User:
    user = await services.users.create(
        body.email,
        password=body.password,
        name=body.name,
        email_verified=body.email_verified,
        metadata=body.metadata,
    )
    return User.of(user)


@router.get(
    "/{user_id}",
    response_model=User,
    responses=error_responses(401, 403, 404, 422),
    summary="Get a user",
)
async def get_user(_: Reader, services: ServicesDep, user_id: UserRef) -> User:
    return User.of(await services.users.get(user_id))


@router.patch(
    "/{user_id}",
    response_model=User,
    responses=error_responses(400, 413, 401, 403, 404, 409, 422),
    summary="Change a user's profile",
)
async def update_user(_: Writer, services: ServicesDep, user_id: UserRef, body: UserUpdate) -> User:
    return User.of(await services.users.update(user_id, **body.model_dump(exclude_unset=True)))


@router.delete(
    "/{user_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422),
    summary="Delete a user (their sessions end first, with back-channel logout)",
)
async def delete_user(_: Writer, services: ServicesDep, user_id: UserRef) -> Response:
    user = await services.users.get(user_id)
    await services.logout.delete_user(user)
    return Response(status_code=204)
