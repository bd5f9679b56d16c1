"""Liveness and readiness probes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from ostiary.services.health import database_ready
from ostiary.web.context import services_of

__all__ = ["healthz", "readyz"]


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers={"cache-control": "no-store"})


async def readyz(request: Request) -> JSONResponse:
    ready = await database_ready(services_of(request).engine)
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "database": ready},
        status_code=200 if ready else 503,
        headers={"cache-control": "no-store"},
    )
