"""The ASGI application: the routes table and the middleware, in one place."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from ostiary.services.container import Services
from ostiary.web.health import healthz, readyz
from ostiary.web.oauth.metadata import discovery, jwks
from ostiary.web.security import SecurityHeadersMiddleware

__all__ = ["create_web_app"]


def routes() -> list[Route]:
    return [
        Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server", discovery, methods=["GET"]),
        Route("/keys", jwks, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]


def create_web_app(services: Services) -> Starlette:
    app = Starlette(
        routes=routes(),
        middleware=[Middleware(SecurityHeadersMiddleware, hsts=services.settings.production)],
    )
    app.state.services = services
    return app
