"""The management API (``/api/v1``): a FastAPI app mounted inside the Starlette app.

FastAPI is used here, and only here, because the OpenAPI document is generated from the same
pydantic models that parse requests and shape responses, so it cannot drift from what the server
does. The protocol endpoints stay plain Starlette (they are the hot path).
"""

from __future__ import annotations

import functools
import re

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.routing import Mount
from starlette.types import Message, Receive, Scope, Send

from ostiary.web.api import applications, domains, keys, organizations, roles, sessions, users
from ostiary.web.api.auth import SERVICES_KEY
from ostiary.web.api.document import install_document
from ostiary.web.api.errors import error_response, install_handlers

__all__ = ["ManagementApi", "build_api", "mount"]

PREFIX = "/api/v1"
MAX_BODY_SIZE = 256 * 1024  # 50 redirect URIs of 256 characters are 13 KiB
DESCRIPTION = """\
Manage one Ostiary environment: applications (with their secrets and redirect URLs), users,
organizations and their members, roles, permissions, sessions and signing keys.

**Authentication.** A web app with management API access gets a token from `POST /oauth/token`
(`grant_type=client_credentials`, its client secret by HTTP Basic); send it as
`Authorization: Bearer …`. Reading needs `management:read`; creating, changing and deleting
need `management:write`. User tokens are refused.

**Lists** take `page_size` (1–100, default 10) and `page_token` (the `next_page_token` of the
previous page; its pattern says which tokens a list takes) and answer
`{"<items>": […], "next_page_token": … | null, "total_size": N}`, oldest first.

**Rules.** The schemas state the rules of each input: lengths, patterns, limits, and that no text
holds a NUL character; an integer may be written `5.0`. A few rules no schema can state, each
with its own `rule` in the 422: the URL rules of redirect and logout URLs (scheme, host,
wildcards, by app type and environment), `pkce_required` and `web_only` (spa and native apps
always use PKCE and have neither management API access nor `introspect_all_tokens`),
`ttl_exceeds_idle_timeout` (an app's access-token lifetime is shorter than the environment's
session idle timeout), `password_too_short` (the environment's minimum), `unknown_role` and
`role_cycle` (roles named must exist; `extends` makes no circle), and `domain` (an organization
domain is a full, valid domain name that is not a public suffix, such as `com` or `co.uk`).

**Errors** are `{"code", "message", "details": [{"field", "rule", "message"}]}`: 400 malformed
JSON, 401 no or bad token, 403 missing scope or access, 404, 409 duplicates and limits, 413 a
body over 256 KiB, 422 broken rules. Every response is `Cache-Control: no-store`.
"""


def build_api() -> FastAPI:
    """The FastAPI app. It holds no services: :class:`ManagementApi` hands each request those of
    the Starlette app it is mounted in."""
    api = FastAPI(
        title="Ostiary management API",
        version="1",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        servers=[{"url": PREFIX}],
        root_path_in_servers=False,
        generate_unique_id_function=lambda route: route.name,
    )
    install_handlers(api)
    for router in (
        applications.router,
        users.router,
        sessions.router,
        organizations.router,
        domains.router,
        roles.roles_router,
        roles.permissions_router,
        keys.router,
    ):
        api.include_router(router)
    install_document(api)
    return api


@functools.cache
def _shared_api() -> FastAPI:
    """One FastAPI app per process, built on first use: FastAPI prepares each route and the
    OpenAPI document lazily, so every Starlette app (and every test) shares that work."""
    return build_api()


class ManagementApi:
    """The ASGI app to mount at ``/api/v1``: refuses bodies over 256 KiB (413, in the API's JSON
    shape), passes the services of the Starlette app it is mounted in to the FastAPI app, and
    marks every answer ``Cache-Control: no-store``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = _shared_api()
        if scope["type"] != "http":
            await api(scope, receive, send)
            return
        scope[SERVICES_KEY] = scope["app"].state.services

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"cache-control"
                ]
                message["headers"] = [*headers, (b"cache-control", b"no-store")]
            await send(message)

        body = await _read_body(scope, receive)
        if body is None:
            too_large = error_response(413, "payload_too_large", TOO_LARGE)
            await too_large(scope, receive, send_no_store)
            return
        await api(scope, _replay(body, receive), send_no_store)


TOO_LARGE = f"The request body is larger than {MAX_BODY_SIZE // 1024} KiB."


async def _read_body(scope: Scope, receive: Receive) -> bytes | None:
    """The whole request body, or None when it is (or says it is) over MAX_BODY_SIZE."""
    declared = Headers(scope=scope).get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_SIZE:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_SIZE:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the client's next events."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def mount() -> Mount:
    """The route for the routes table: ``/api/v1/…`` goes to :class:`ManagementApi`. Its pattern
    also matches paths holding a (percent-encoded) line break, which Starlette's ``.*`` would
    not, so that every answer under ``/api/v1`` comes from the API, in its JSON error shape."""
    route = Mount(PREFIX, app=ManagementApi(), name="api")
    route.path_regex = re.compile(route.path_regex.pattern, re.DOTALL)
    return route
