"""Serves the single-page app: ``public/`` as it is, the browser build of ``oidc-client-ts``
from ``node_modules`` (``npm ci`` in this folder; nothing comes from a CDN), and
``/config.json`` with the two settings the app needs from Ostiary. The app itself runs in the
browser; this server holds no secrets and no tokens.

Register the app in Ostiary as a ``spa`` app (its origin then gets CORS at Ostiary)::

    ostiary apps create --name "Demo SPA" --type spa \\
        --redirect-uri http://127.0.0.1:8002/callback \\
        --post-logout-redirect-uri http://127.0.0.1:8002/ \\
        --initiate-login-uri http://127.0.0.1:8002/login

    OSTIARY_ISSUER=http://127.0.0.1:8000 OSTIARY_CLIENT_ID=spa_… \\
    API_URL=http://127.0.0.1:8003 uvicorn examples.spa.server:create_app --factory --port 8002
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["OIDC_CLIENT_BUILD", "SpaSettings", "create_app"]

HERE = Path(__file__).parent
PUBLIC = HERE / "public"
OIDC_CLIENT_BUILD = HERE / "node_modules" / "oidc-client-ts" / "dist" / "browser"


@dataclass(frozen=True)
class SpaSettings:
    issuer: str
    client_id: str
    api_url: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SpaSettings:
        return cls(
            issuer=env["OSTIARY_ISSUER"].rstrip("/"),
            client_id=env["OSTIARY_CLIENT_ID"],
            api_url=env.get("API_URL", "http://127.0.0.1:8003").rstrip("/"),
        )


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def create_app(settings: SpaSettings | None = None) -> Starlette:
    settings = settings or SpaSettings.from_env()
    if not (OIDC_CLIENT_BUILD / "oidc-client-ts.min.js").is_file():
        raise RuntimeError(f"oidc-client-ts is not installed: run `npm ci` in {HERE}")
    # Scripts and styles only from here; the page talks to Ostiary and the API, nothing else.
    security_headers = {
        "content-security-policy": (
            "default-src 'self'; "
            f"connect-src 'self' {origin(settings.issuer)} {origin(settings.api_url)}; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        ),
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
    }

    async def index(_request: Request) -> FileResponse:
        # /, /callback (back from Ostiary) and /login (Ostiary's initiate-login URI)
        return FileResponse(PUBLIC / "index.html", headers=security_headers)

    async def config(_request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "authority": settings.issuer,
                "client_id": settings.client_id,
                "api_url": settings.api_url,
            },
            headers={"cache-control": "no-store"},
        )

    return Starlette(
        routes=[
            Route("/", index),
            Route("/callback", index),
            Route("/login", index),
            Route("/config.json", config),
            Mount("/vendor/oidc-client-ts", StaticFiles(directory=OIDC_CLIENT_BUILD)),
            Mount("/", StaticFiles(directory=PUBLIC)),
        ]
    )
