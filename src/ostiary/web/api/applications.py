"""``/applications``: OAuth clients, their redirect URLs and their client secrets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Response
from pydantic import Field

from ostiary.domain.apps import App, ClientSecret
from ostiary.services.apps import MAX_REDIRECT_URIS, MIN_ACCESS_TOKEN_TTL
from ostiary.web.api.auth import READ, WRITE, Caller, ServicesDep, requires
from ostiary.web.api.errors import error_responses
from ostiary.web.api.models import (
    NOT_BLANK_PATTERN,
    ListBody,
    RequestBody,
    ResponseBody,
    documented_pattern,
    optional,
    unique_items,
)
from ostiary.web.api.pagination import PageRequest, page_of, paging

__all__ = ["router"]

router = APIRouter(prefix="/applications", tags=["applications"])
Reader = Annotated[Caller, Depends(requires(READ))]
Writer = Annotated[Caller, Depends(requires(WRITE))]
AppRef = Annotated[
    str, Path(description="The application's id (`app_…`) or its client_id.", max_length=200)
]
AppType = Literal["web", "spa", "native"]
URI_NOTE = "Checked when registered: scheme, host and wildcard rules, no query or fragment."
INTROSPECT_ALL_NOTE = (
    "Web apps only. A resource server that may introspect every access token; without it, an "
    "app introspects only tokens issued to it or whose audience includes it."
)
BACKCHANNEL_URI_NOTE = (
    "Web apps only. Checked when registered: scheme and host rules, no wildcard or fragment; "
    "a query is allowed (e.g. mod_auth_openidc's '<redirect_uri>?logout=backchannel')."
)
TTL_NOTE = (
    "Seconds; shorter than the environment's session idle timeout (at most 86400 without one)."
)


class Application(ResponseBody):
    id: str
    client_id: str
    name: str
    type: AppType
    enforce_pkce: bool
    management_api_access: bool
    introspect_all_tokens: bool
    third_party: bool
    access_token_ttl: int | None
    refresh_reuse_interval: int
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    initiate_login_uri: str | None
    backchannel_logout_uri: str | None
    is_console: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, app: App) -> Application:
        return cls(
            id=app.id,
            client_id=app.client_id,
            name=app.name,
            type=app.type.value,
            enforce_pkce=app.enforce_pkce,
            management_api_access=app.management_api_access,
            introspect_all_tokens=app.introspect_all_tokens,
            third_party=app.third_party,
            access_token_ttl=app.access_token_ttl,
            refresh_reuse_interval=app.refresh_reuse_interval,
            redirect_uris=list(app.redirect_uris),
            post_logout_redirect_uris=list(app.post_logout_redirect_uris),
            initiate_login_uri=app.initiate_login_uri,
            backchannel_logout_uri=app.backchannel_logout_uri,
            is_console=app.is_console,
            created_at=app.created_at,
            updated_at=app.updated_at,
        )


class Secret(ResponseBody):
    """A client secret as stored: only its last four characters are known. ``last_used_at`` is
    when it last authenticated its app, to within five minutes (null: never)."""

    id: str
    hint: str
    active: bool
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, secret: ClientSecret) -> Secret:
        return cls(
            id=secret.id,
            hint=secret.hint,
            active=secret.active,
            created_at=secret.created_at,
            revoked_at=secret.revoked_at,
            last_used_at=secret.last_used_at,
        )


class NewSecret(Secret):
    """A secret just created: ``value`` is shown this once and never again."""

    value: str


class ApplicationCreated(Application):
    client_secret: NewSecret | None = None


class ApplicationList(ListBody):
    applications: list[Application]


class SecretList(ListBody):
    secrets: list[Secret]


class ApplicationCreate(RequestBody):
    name: str = Field(
        min_length=1, max_length=200, json_schema_extra=documented_pattern(NOT_BLANK_PATTERN)
    )
    type: AppType
    enforce_pkce: bool = Field(True, description="Always true for spa and native apps.")
    management_api_access: bool = Field(False, description="Web apps only.")
    introspect_all_tokens: bool = Field(False, description=INTROSPECT_ALL_NOTE)
    third_party: bool = Field(False, description="Third-party apps ask the user for consent.")
    access_token_ttl: int | None = Field(None, ge=MIN_ACCESS_TOKEN_TTL, description=TTL_NOTE)
    refresh_reuse_interval: int = Field(0, ge=0, le=60)
    redirect_uris: list[str] = Field(
        default_factory=list,
        description=URI_NOTE,
        max_length=MAX_REDIRECT_URIS,
        json_schema_extra=unique_items,
    )
    post_logout_redirect_uris: list[str] = Field(
        default_factory=list,
        description=URI_NOTE,
        max_length=MAX_REDIRECT_URIS,
        json_schema_extra=unique_items,
    )
    initiate_login_uri: str | None = Field(None, description=URI_NOTE)
    backchannel_logout_uri: str | None = Field(None, description=BACKCHANNEL_URI_NOTE)


class ApplicationUpdate(RequestBody):
    """Only the fields present change; ``null`` clears an optional URL or the TTL override."""

    name: str = optional(min_length=1, max_length=200, extra=documented_pattern(NOT_BLANK_PATTERN))
    enforce_pkce: bool = optional()
    management_api_access: bool = optional()
    introspect_all_tokens: bool = optional(description=INTROSPECT_ALL_NOTE)
    third_party: bool = optional()
    access_token_ttl: int | None = Field(None, ge=MIN_ACCESS_TOKEN_TTL, description=TTL_NOTE)
    refresh_reuse_interval: int = optional(ge=0, le=60)
    redirect_uris: list[str] = optional(
        description=URI_NOTE, max_length=MAX_REDIRECT_URIS, extra=unique_items
    )
    post_logout_redirect_uris: list[str] = optional(
        description=URI_NOTE, max_length=MAX_REDIRECT_URIS, extra=unique_items
    )
    initiate_login_uri: str | None = Field(None, description=URI_NOTE)
    backchannel_logout_uri: str | None = Field(None, description=BACKCHANNEL_URI_NOTE)


# -- routes -----------------------------------------------------------------------------------


@router.get(
    "",
    response_model=ApplicationList,
    responses=error_responses(401, 403, 422),
    summary="List applications",
)
async def list_applications(
    _: Reader, services: ServicesDep, page: Annotated[PageRequest, Depends(paging("applications"))]
) -> ApplicationList:
    found = await services.apps.page(after=page.after, limit=page.size)
    return ApplicationList(
        applications=[Application.of(app) for app in found.items],
        next_page_token=page.next_token(found.next_after),
        total_size=found.total,
    )


@router.post(
    "",
    status_code=201,
    response_model=ApplicationCreated,
    responses=error_responses(400, 413, 401, 403, 422),
    summary="Register an application (a web app's first secret is in the answer, once)",
)
async def create_application(
    _: Writer, services: ServicesDep, body: ApplicationCreate
) -> ApplicationCreated:
    fields = body.model_dump(exclude_unset=True, exclude={"name", "type"})
    app, secret = await services.apps.create(body.name, body.type, **fields)
    return ApplicationCreated(
        **Application.of(app).model_dump(),
        client_secret=None if secret is None else _new_secret(secret.secret, secret.value),
    )


@router.get(
    "/{app_id}",
    response_model=Application,
    responses=error_responses(401, 403, 404, 422),
    summary="Get an application",
)
async def get_application(_: Reader, services: ServicesDep, app_id: AppRef) -> Application:
    return Application.of(await services.apps.get(app_id))


@router.patch(
    "/{app_id}",
    response_model=Application,
    responses=error_responses(400, 413, 401, 403, 404, 422),
    summary="Change an application",
)
async def update_application(
    _: Writer, services: ServicesDep, app_id: AppRef, body: ApplicationUpdate
) -> Application:
    changes = body.model_dump(exclude_unset=True)
    return Application.of(await services.apps.update(app_id, **changes))


@router.delete(
    "/{app_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Delete an application (the Ostiary Console cannot be deleted)",
)
async def delete_application(_: Writer, services: ServicesDep, app_id: AppRef) -> Response:
    await services.apps.delete(app_id)
    return Response(status_code=204)


# -- secrets ----------------------------------------------------------------------------------


def _new_secret(secret: ClientSecret, value: str) -> NewSecret:
    return NewSecret(**Secret.of(secret).model_dump(), value=value)


@router.post(
    "/{app_id}/secrets",
    status_code=201,
    response_model=NewSecret,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Create a client secret (web apps; at most two active; the value is shown once)",
)
async def create_secret(_: Writer, services: ServicesDep, app_id: AppRef) -> NewSecret:
    new = await services.apps.create_secret(app_id)
    return _new_secret(new.secret, new.value)


@router.get(
    "/{app_id}/secrets",
    response_model=SecretList,
    responses=error_responses(401, 403, 404, 422),
    summary="List an application's client secrets (never their values)",
)
async def list_secrets(
    _: Reader,
    services: ServicesDep,
    app_id: AppRef,
    page: Annotated[PageRequest, Depends(paging("secrets"))],
) -> SecretList:
    secrets = await services.apps.list_secrets(app_id)
    chosen, total, token = page_of(secrets, lambda secret: secret.id, page)
    return SecretList(
        secrets=[Secret.of(s) for s in chosen], next_page_token=token, total_size=total
    )


@router.delete(
    "/{app_id}/secrets/{secret_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422),
    summary="Revoke a client secret",
)
async def revoke_secret(
    _: Writer,
    services: ServicesDep,
    app_id: AppRef,
    secret_id: Annotated[str, Path(max_length=200)],
) -> Response:
    await services.apps.revoke_secret(app_id, secret_id)
    return Response(status_code=204)
