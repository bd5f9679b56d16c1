"""An API that accepts the access tokens Ostiary gives the SPA and the desktop app.

Tokens are validated locally (signature from Ostiary's JWKS, ``iss``, ``aud``, expiry) by
``ostiary_client.starlette.require_token``. Ostiary puts the *calling* app's client id in
``aud``, so the API lists the apps it serves as its audience::

    OSTIARY_ISSUER=http://127.0.0.1:8000 OSTIARY_CLIENT_ID=web_… \\
    API_AUDIENCE=spa_…,ntv_… CORS_ORIGINS=http://127.0.0.1:8002 \\
    uvicorn examples.api.app:create_app --factory --port 8003

``GET /api/hello``    any valid token: 200; none or a bad one: 401
``GET /api/reports``  needs the permission ``reports:read`` (from the user's role in the
                      current organization): 403 without it
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from ostiary_client import AsyncOstiaryClient
from ostiary_client.starlette import require_token
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["ApiSettings", "create_app"]

REPORTS = [
    {"id": "rpt_q1", "title": "Q1 revenue", "total": 184_200},
    {"id": "rpt_q2", "title": "Q2 revenue", "total": 201_750},
]


@dataclass(frozen=True)
class ApiSettings:
    issuer: str
    client_id: str  # the API's own registration in Ostiary
    audience: tuple[str, ...]  # client ids of the apps whose tokens the API accepts
    cors_origins: tuple[str, ...]  # browser apps allowed to call it

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ApiSettings:
        def split(name: str) -> tuple[str, ...]:
            return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())

        return cls(
            issuer=env["OSTIARY_ISSUER"],
            client_id=env["OSTIARY_CLIENT_ID"],
            audience=split("API_AUDIENCE"),
            cors_origins=split("CORS_ORIGINS"),
        )


def create_app(settings: ApiSettings | None = None) -> Starlette:
    settings = settings or ApiSettings.from_env()
    client = AsyncOstiaryClient(
        settings.issuer, settings.client_id, audience=list(settings.audience)
    )
    any_user = require_token(client)
    report_readers = require_token(client, permissions=["reports:read"])

    async def hello(request: Request) -> JSONResponse:
        token = await any_user(request)  # 401 with WWW-Authenticate when missing or invalid
        return JSONResponse(
            {
                "message": f"Hello, {token.sub}!",
                "client_id": token.client_id,
                "sid": token.sid,
                "organization": token.organization_id,
                "permissions": sorted(token.permissions),
            }
        )

    async def reports(request: Request) -> JSONResponse:
        token = await report_readers(request)  # 403 insufficient_scope without reports:read
        return JSONResponse({"organization": token.organization_id, "reports": REPORTS})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    return Starlette(
        routes=[Route("/api/hello", hello), Route("/api/reports", reports)],
        exception_handlers={HTTPException: json_error},
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET"],
                allow_headers=["authorization"],
                expose_headers=["www-authenticate"],
            )
        ],
        lifespan=lifespan,
    )


async def json_error(_request: Request, exc: Exception) -> JSONResponse:
    """401/403 as JSON, keeping the ``WWW-Authenticate`` challenge (RFC 6750)."""
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"status": exc.status_code, "detail": exc.detail},
        status_code=exc.status_code,
        headers=exc.headers,
    )
