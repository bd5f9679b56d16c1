"""In production (an https issuer) every Ostiary cookie is a ``__Host-`` cookie: Secure,
``Path=/``, no ``Domain``, so a sibling subdomain can neither set nor overwrite one; and only
those names are read."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from admin_helpers import ADMIN_EMAIL, AdminBrowser

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.services.clock import Clock
from ostiary.web.app import create_web_app
from ostiary.web.cookies import HOST_PREFIX, cookie_names

PRODUCTION = cookie_names(production=True)
DEVELOPMENT = cookie_names(production=False)


@pytest.fixture
async def production(
    make_settings: Callable[..., Settings], clock: Clock, tmp_path: Path
) -> AsyncIterator[AdminBrowser]:
    """A browser on an in-process production server (https issuer, its own secret key)."""
    settings = make_settings(
        ENVIRONMENT="production",
        ISSUER="https://auth.example.com",
        SECRET_KEY="production-test-key-" + "x" * 40,
        DATA_DIR=str(tmp_path / "production"),
    )
    services = build_services(settings, clock=clock)
    await prepare(services, migrate=True)
    transport = httpx.ASGITransport(app=create_web_app(services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=settings.issuer) as client:
            yield AdminBrowser(client, services)
    finally:
        await services.engine.dispose()


def _set_cookies(response: httpx.Response) -> dict[str, dict[str, str]]:
    """Each cookie the response sets: name -> its attributes (lower-case)."""
    found: dict[str, dict[str, str]] = {}
    for header in response.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            attributes = {k: str(v) for k, v in morsel.items() if v}
            found[name] = {**attributes, "raw": header.lower()}
    return found


def _host_cookie(cookie: dict[str, str]) -> tuple[bool, str, str, bool]:
    """(Secure, Path, Domain, HttpOnly) of a Set-Cookie."""
    return (
        "secure" in cookie,
        cookie.get("path", ""),
        cookie.get("domain", ""),
        "httponly" in cookie,
    )


async def test_every_cookie_is_a_host_cookie_in_production(production: AdminBrowser) -> None:
    """Signing in to the dashboard and creating an app sets the pre-session, session, flow,
    marker, notice and reveal cookies, each ``__Host-``, Secure, Path=/, without Domain."""
    seen: dict[str, dict[str, str]] = {}

    async def collect(response: httpx.Response) -> None:
        seen.update(_set_cookies(response))

    production.client.event_hooks["response"].append(collect)
    await production.user(ADMIN_EMAIL, admin=True)
    assert 200 == (await production.sign_in()).status_code
    created = await production.post("/admin/apps/new", {"name": "Portal", "type": "web"})
    assert 200 == (await production.follow(created)).status_code

    expected = {
        PRODUCTION.browser, PRODUCTION.session, PRODUCTION.admin_flow, PRODUCTION.admin,
        PRODUCTION.admin_notice, PRODUCTION.admin_reveal,
    }  # fmt: skip
    assert expected == set(seen)
    assert all(name.startswith(HOST_PREFIX) for name in seen)
    assert {name: (True, "/", "", True) for name in seen} == {
        name: _host_cookie(cookie) for name, cookie in seen.items()
    }


async def test_production_reads_no_cookie_without_the_prefix(production: AdminBrowser) -> None:
    """A session cookie under the development name (which a sibling subdomain could set) is
    not read in production: the browser is not signed in."""
    await production.user(ADMIN_EMAIL, admin=True)
    assert 200 == (await production.sign_in()).status_code
    session = production.client.cookies.get(PRODUCTION.session)
    assert session is not None
    production.client.cookies.clear()
    production.client.cookies.set(DEVELOPMENT.session, session, domain="auth.example.com")
    response = await production.get("/ui/account/sessions")
    assert (303, "/ui/login") == (response.status_code, response.headers["location"][:9])
