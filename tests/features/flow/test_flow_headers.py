"""Hosted pages and the authorize error page cannot be framed and are not cached."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from flow_helpers import EMAIL, FlowHelper


async def _login_page(flow: FlowHelper) -> httpx.Response:
    app = await flow.web()
    return (await flow.open_form((await flow.start(app)).response)).response


async def _signup_page(flow: FlowHelper) -> httpx.Response:
    app = await flow.web()
    return (
        await flow.open_form((await flow.start(app, extra={"prompt": "create"})).response)
    ).response


async def _wrong_password_page(flow: FlowHelper) -> httpx.Response:
    app = await flow.web()
    await flow.user()
    form = await flow.open_form((await flow.start(app)).response)
    return await flow.submit_login(form, EMAIL, "wrong password")


async def _csrf_page(flow: FlowHelper) -> httpx.Response:
    app = await flow.web()
    form = await flow.open_form((await flow.start(app)).response)
    return await flow.client.post("/ui/login", data={"txn": form.txn, "email": EMAIL})


async def _consent_page(flow: FlowHelper) -> httpx.Response:
    app = await flow.update(await flow.web(), third_party=True)
    await flow.user()
    form = await flow.open_form((await flow.start(app)).response)
    return (await flow.open_form(await flow.submit_login(form))).response


async def _bookmarked_page(flow: FlowHelper) -> httpx.Response:
    return await flow.client.get("/ui/login")


async def _expired_login_page(flow: FlowHelper) -> httpx.Response:
    app = await flow.web()
    await flow.user()
    form = await flow.open_form((await flow.start(app)).response)
    flow.services.clock.advance(31 * 60)  # type: ignore[attr-defined]  # the FakeClock
    return await flow.submit_login(form)


async def _authorize_error_page(flow: FlowHelper) -> httpx.Response:
    app = await flow.web()
    return (await flow.start(app, redirect_uri="https://evil.example.com/cb")).response


async def _unknown_client_page(flow: FlowHelper) -> httpx.Response:
    app = await flow.web()
    return (await flow.start(app, extra={"client_id": "nope"})).response


PAGES: dict[str, Callable[[FlowHelper], Awaitable[httpx.Response]]] = {
    "login": _login_page,
    "signup": _signup_page,
    "wrong-password": _wrong_password_page,
    "csrf-failure": _csrf_page,
    "consent": _consent_page,
    "bookmarked-login": _bookmarked_page,
    "expired-login": _expired_login_page,
    "authorize-bad-redirect": _authorize_error_page,
    "authorize-unknown-client": _unknown_client_page,
}


@pytest.mark.parametrize("page", list(PAGES))
async def test_page_forbids_framing_and_caching(flow: FlowHelper, page: str) -> None:
    """The page has X-Frame-Options DENY, CSP frame-ancestors 'none' and no-store."""
    response = await PAGES[page](flow)
    assert "text/html" == response.headers["content-type"].split(";")[0]
    assert "DENY" == response.headers["x-frame-options"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "no-store" == response.headers["cache-control"]


async def test_authorize_redirects_are_not_cached(flow: FlowHelper) -> None:
    """The 303 carrying a code back to the app says Cache-Control no-store."""
    app = await flow.web()
    await flow.user()
    await flow.login(app)
    authorization = await flow.sso(app)
    assert "no-store" == authorization.response.headers["cache-control"]
