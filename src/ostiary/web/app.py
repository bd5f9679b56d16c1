"""The ASGI application: the routes table and the middleware, in one place."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ostiary.services.container import Services
from ostiary.web import api
from ostiary.web.admin import admin_routes
from ostiary.web.dispatch import FixedPathRoutes
from ostiary.web.edge import EdgeMiddleware
from ostiary.web.health import healthz, readyz
from ostiary.web.metrics import metrics
from ostiary.web.oauth.authorize import authorize
from ostiary.web.oauth.logout import logout
from ostiary.web.oauth.metadata import discovery, jwks
from ostiary.web.oauth.token import introspect, revoke, token
from ostiary.web.oauth.userinfo import userinfo
from ostiary.web.pages import http_error
from ostiary.web.proxies import TrustedProxies
from ostiary.web.ui.account import sessions_page
from ostiary.web.ui.email import (
    email_code_page,
    forgot_password_page,
    magic_link,
    reset_password_page,
    verify_email,
)
from ostiary.web.ui.login import consent_page, login_page, organization_page, signup_page

__all__ = ["create_web_app"]

STATIC = Path(__file__).parent / "static"
GET, POST, BOTH = ["GET"], ["POST"], ["GET", "POST"]


def protocol_routes() -> list[BaseRoute]:
    """The OAuth / OpenID Connect endpoints: fixed paths, every error answered by the
    endpoint itself (``ostiary.web.dispatch``)."""
    return [
        Route("/.well-known/openid-configuration", discovery, methods=GET),
        Route("/.well-known/oauth-authorization-server", discovery, methods=GET),
        Route("/keys", jwks, methods=GET),
        Route("/oauth/authorize", authorize, methods=GET),
        Route("/oauth/token", token, methods=POST),
        Route("/oauth/revoke", revoke, methods=POST),
        Route("/oauth/introspect", introspect, methods=POST),
        Route("/userinfo", userinfo, methods=BOTH),
        Route("/oidc/logout", logout, methods=BOTH),
    ]


def other_routes() -> list[BaseRoute]:
    """Pages, static files, the dashboard, the management API and the probes."""
    return [
        Route("/ui/login", login_page, methods=BOTH),
        Route("/ui/signup", signup_page, methods=BOTH),
        Route("/ui/consent", consent_page, methods=BOTH),
        Route("/ui/organization", organization_page, methods=BOTH),
        Route("/ui/login/code", email_code_page, methods=BOTH),
        Route("/ui/login/link", magic_link, methods=GET),
        Route("/ui/password/forgot", forgot_password_page, methods=BOTH),
        Route("/ui/password/reset", reset_password_page, methods=BOTH),
        Route("/ui/email/verify", verify_email, methods=GET),
        Route("/ui/account/sessions", sessions_page, methods=BOTH),
        Mount("/ui/static", StaticFiles(directory=STATIC), name="static"),
        *admin_routes(),
        api.mount(),
        Route("/healthz", healthz, methods=GET),
        Route("/readyz", readyz, methods=GET),
        Route("/metrics", metrics, methods=GET),
    ]


def create_web_app(services: Services) -> Starlette:
    protocol = protocol_routes()  # the same Route objects for the router and the lookup
    app = Starlette(
        routes=[*protocol, *other_routes()],
        middleware=[
            Middleware(
                EdgeMiddleware,
                hsts=services.settings.production,
                apps=services.apps,
                proxies=TrustedProxies(services.settings.trusted_proxies),
            ),
            Middleware(FixedPathRoutes, routes=protocol),
        ],
        exception_handlers={404: http_error, 405: http_error},
    )
    app.state.services = services
    return app
