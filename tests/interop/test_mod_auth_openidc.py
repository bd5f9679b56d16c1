"""Apache mod_auth_openidc (Debian's ``libapache2-mod-auth-openidc``, a C relying party with its
own JOSE stack) in front of a protected page, against a REAL ``ostiary serve``, driven by
Chromium:

- login: the protected page sends the browser to Ostiary's login page; after signing in it shows
  the user's claims (email, name, sub);
- refresh: mod_auth_openidc's refresh hook (``<redirect_uri>?refresh=…``) renews the tokens with
  Ostiary's refresh token grant; Ostiary's introspection says the old refresh token is spent and
  the new tokens are live;
- RP-initiated logout: ``<redirect_uri>?logout=<url>`` ends Apache's session and Ostiary's, and
  lands back on the app;
- back-channel logout: signing out of ANOTHER app of the shared session makes Ostiary POST a
  logout token to ``<redirect_uri>?logout=backchannel`` (a back-channel URI with a query, as
  Back-Channel Logout 1.0 §2.2 allows), which ends Apache's session.

Apache's error log is part of every failure message. See ``apache_harness.py`` for the config.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from apache_harness import ApacheRP
from browser_harness import BrowserSession, CallbackCatcher
from flows import Person
from interop_harness import LiveServer, NodeRP, app_command, free_port

pytestmark = [pytest.mark.interop, pytest.mark.browser]

DELIVERY_DEADLINE = 30.0  # seconds; a delivery is sent as soon as the session ends


@dataclass(frozen=True)
class ApacheApp:
    """Apache with mod_auth_openidc, registered with the live server as a web app."""

    apache: ApacheRP
    app: dict[str, Any]
    person: Person

    def fail(self, message: str) -> str:
        """``message`` with Apache's error log, for an assertion."""
        return f"{message}\n--- Apache error log ---\n{self.apache.error_log()[-6000:]}"


@pytest.fixture(scope="module")
def apache_app(apache_installed: None, live_server: LiveServer) -> Iterator[ApacheApp]:
    """One Apache for the module: its app's redirect URI is OIDCRedirectURI, its back-channel
    URI ``<redirect_uri>?logout=backchannel``, its post-logout URI an unprotected page."""
    apache = ApacheRP(port=free_port())
    try:
        app, user = live_server.cli_many(
            app_command(
                "web",
                name="Apache mod_auth_openidc",
                redirect_uris=[apache.redirect_uri],
                post_logout_redirect_uris=[apache.signed_out_url],
                extra=["--backchannel-logout-uri", apache.backchannel_uri, "--enforce-pkce"],
            ),
            Person.command("apache-user@example.com", "Apache User"),
        )
        apache.start(
            issuer=live_server.issuer,
            client_id=app["client_id"],
            client_secret=app["client_secret"],
        )
        yield ApacheApp(apache, app, Person.from_cli(user))
    finally:
        apache.stop()


@pytest.fixture
def apache_browser(apache_app: ApacheApp, browser: BrowserSession) -> BrowserSession:
    """The browser, whose failures also show Apache's error log."""
    server_log = browser.diagnostics
    browser.diagnostics = lambda: apache_app.fail(server_log() if server_log else "")
    return browser


# -- helpers -----------------------------------------------------------------------------------


def _sign_in(browser: BrowserSession, setup: ApacheApp) -> dict[str, str]:
    """Open the protected page, sign in on Ostiary's login page, and return the claims the page
    shows once the browser is back."""
    response = browser.page.goto(setup.apache.claims_url, wait_until="load")
    status = response.status if response else None
    if urlsplit(browser.page.url).path != "/ui/login" or status != 200:
        raise browser.fail(f"expected Ostiary's login page (200), got {status}", "no-login-page")
    browser.screenshot("login-page")
    browser.page.fill("input[name=email]", setup.person.email)
    browser.page.fill("input[name=password]", setup.person.password)
    with browser.page.expect_navigation(wait_until="load"):
        browser.page.click("button[type=submit]")
    return _claims_shown(browser, setup, "claims")


def _claims_shown(browser: BrowserSession, setup: ApacheApp, step: str) -> dict[str, str]:
    """The protected page is shown: the ``name: value`` lines the CGI printed."""
    if browser.page.url != setup.apache.claims_url:
        raise browser.fail(f"expected the protected page {setup.apache.claims_url}", step)
    browser.screenshot(step)
    text = browser.page.inner_text("body")
    lines = [line.partition(": ") for line in text.splitlines() if ": " in line]
    return {name: value for name, _, value in lines}


def _session_info(browser: BrowserSession, setup: ApacheApp) -> dict[str, Any]:
    """mod_auth_openidc's info hook (``?info=json``) for the browser's Apache session."""
    answer = browser.context.request.get(setup.apache.info_url)
    assert 200 == answer.status, setup.fail(f"info hook answered {answer.status}: {answer.text()}")
    info: dict[str, Any] = answer.json()
    return info


def _introspect(server: LiveServer, app: dict[str, Any], token: str) -> dict[str, Any]:
    with httpx.Client(trust_env=False, timeout=30) as http:
        answer = http.post(
            server.url("/oauth/introspect"),
            data={"token": token},
            auth=(app["client_id"], app["client_secret"]),
        )
    assert 200 == answer.status_code, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _query_db(server: LiveServer, sql: str, *params: str) -> list[tuple[Any, ...]]:
    """Rows read straight from the live server's SQLite file."""
    with contextlib.closing(sqlite3.connect(server.data_dir / "ostiary.db")) as db:
        return list(db.execute(sql, params).fetchall())


def _session_status(server: LiveServer, session_id: str) -> str:
    (row,) = _query_db(server, "SELECT status FROM sessions WHERE id = ?", session_id)
    return str(row[0])


def _delivery(server: LiveServer, session_id: str, client_id: str) -> tuple[str, str | None]:
    """``(status, last error)`` of the back-channel notice for this app and session."""
    rows = _query_db(
        server,
        "SELECT status, last_error FROM backchannel_deliveries"
        " WHERE session_id = ? AND client_id = ?",
        session_id,
        client_id,
    )
    if not rows:
        return ("none", None)
    (status, error), *_ = rows
    return (str(status), error)


def _wait_until(condition: Callable[[], bool], deadline: float = DELIVERY_DEADLINE) -> bool:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


# -- the tests ---------------------------------------------------------------------------------


def test_protected_page_signs_in_at_ostiary_and_shows_claims(
    apache_app: ApacheApp, apache_browser: BrowserSession
) -> None:
    """The protected page sends Chromium to Ostiary's login page; after signing in Apache shows
    the user's email, name and sub, taken from the ID token and UserInfo it validated."""
    setup = apache_app
    claims = _sign_in(apache_browser, setup)
    assert (setup.person.email, setup.person.name, setup.person.id) == (
        claims.get("email"),
        claims.get("name"),
        claims.get("sub"),
    ), setup.fail(f"claims shown: {claims}")
    info = _session_info(apache_browser, setup)
    assert (setup.person.id, setup.app["client_id"]) == (
        info["id_token"]["sub"],
        info["id_token"]["aud"],
    ), setup.fail(f"info hook: {info}")


def test_refresh_hook_renews_tokens_at_ostiary(
    apache_app: ApacheApp, apache_browser: BrowserSession, live_server: LiveServer
) -> None:
    """``<redirect_uri>?refresh=<page>&access_token=<token>`` makes mod_auth_openidc use its
    refresh token at Ostiary and return to the page: new access and refresh tokens, which
    Ostiary's introspection calls active, and the old refresh token is spent (rotation)."""
    setup = apache_app
    _sign_in(apache_browser, setup)
    before = _session_info(apache_browser, setup)
    assert isinstance(before.get("refresh_token"), str), setup.fail(f"no refresh token: {before}")

    refresh = setup.apache.refresh_url(setup.apache.claims_url, before["access_token"])
    apache_browser.page.goto(refresh, wait_until="load")
    claims = _claims_shown(apache_browser, setup, "after-refresh")
    assert setup.person.id == claims.get("sub"), setup.fail(f"claims shown: {claims}")

    after = _session_info(apache_browser, setup)
    assert before["access_token"] != after["access_token"], setup.fail("access token unchanged")
    assert before["refresh_token"] != after["refresh_token"], setup.fail("refresh token unchanged")
    old_refresh = _introspect(live_server, setup.app, before["refresh_token"])
    new_refresh = _introspect(live_server, setup.app, after["refresh_token"])
    new_access = _introspect(live_server, setup.app, after["access_token"])
    assert (False, True, True) == (
        old_refresh["active"],
        new_refresh["active"],
        new_access["active"],
    ), (old_refresh, new_refresh, new_access)
    assert (setup.app["client_id"], setup.person.id) == (
        new_access["client_id"],
        new_access["sub"],
    )


def test_rp_initiated_logout_ends_both_sessions_and_lands_back(
    apache_app: ApacheApp, apache_browser: BrowserSession, live_server: LiveServer
) -> None:
    """``<redirect_uri>?logout=<signed-out page>``: mod_auth_openidc ends its session and sends
    the browser to Ostiary's end_session_endpoint with its id_token_hint; Ostiary ends the shared
    session and redirects to the registered post-logout URI; the protected page then asks for a
    password again."""
    setup = apache_app
    _sign_in(apache_browser, setup)
    sid = _session_info(apache_browser, setup)["id_token"]["sid"]
    assert "active" == _session_status(live_server, sid)

    apache_browser.open(setup.apache.logout_url(setup.apache.signed_out_url), "after-logout")
    assert setup.apache.signed_out_url == apache_browser.page.url.split("?")[0], setup.fail(
        f"landed on {apache_browser.page.url}"
    )
    assert "logged_out" == _session_status(live_server, sid)
    assert [] == [c for c in apache_browser.context.cookies() if c["name"] == "ostiary_session"]

    apache_browser.open(setup.apache.claims_url, "protected-again")
    assert "/ui/login" == urlsplit(apache_browser.page.url).path, setup.fail(
        f"expected Ostiary's login page, got {apache_browser.page.url}"
    )


def test_signing_out_of_another_app_logs_out_apache_over_the_back_channel(
    apache_app: ApacheApp,
    apache_browser: BrowserSession,
    live_server: LiveServer,
    node_rp: NodeRP,
    app_callback: Callable[..., CallbackCatcher],
) -> None:
    """Signed in to Apache and (without a password, same session) to an openid-client app;
    signing out of the openid-client app makes Ostiary POST a logout token to
    ``<redirect_uri>?logout=backchannel``; mod_auth_openidc accepts it (200) and drops its
    session, so the protected page sends the browser to Ostiary's login page."""
    setup = apache_app
    callback, bye = app_callback("/cb"), app_callback("/signed-out")
    other = live_server.create_app(
        "web",
        name="Other app",
        redirect_uris=[callback.redirect_uri],
        post_logout_redirect_uris=[bye.redirect_uri],
    )
    rp = node_rp.bind(
        issuer=live_server.issuer,
        client_id=other["client_id"],
        client_secret=other["client_secret"],
    )
    _sign_in(apache_browser, setup)
    sid = _session_info(apache_browser, setup)["id_token"]["sid"]

    start = rp("auth-url", redirect_uri=callback.redirect_uri, scope="openid")
    landing = apache_browser.authorize(start["url"], callback, "other-app-signed-in")
    tokens = rp(
        "callback",
        callback_url=landing.callback_url,
        state=start["state"],
        nonce=start["nonce"],
        code_verifier=start["code_verifier"],
    )
    assert sid == tokens["claims"]["sid"]  # one shared session
    apache_browser.page.goto(setup.apache.claims_url, wait_until="load")
    claims = _claims_shown(apache_browser, setup, "apache-still-signed-in")
    assert setup.person.id == claims.get("sub"), setup.fail(f"claims shown: {claims}")

    end = rp(
        "end-session-url",
        id_token_hint=tokens["id_token"],
        post_logout_redirect_uri=bye.redirect_uri,
    )
    apache_browser.open(end["url"], "other-app-signed-out")
    assert bye.redirect_uri == apache_browser.page.url.split("?")[0]
    assert "logged_out" == _session_status(live_server, sid)

    delivered = _wait_until(
        lambda: _delivery(live_server, sid, setup.app["client_id"])[0] == "delivered"
    )
    assert True is delivered, setup.fail(
        f"back-channel notice to {setup.apache.backchannel_uri}: "
        f"{_delivery(live_server, sid, setup.app['client_id'])}\n{live_server.log()[-3000:]}"
    )
    apache_browser.open(setup.apache.claims_url, "apache-after")
    assert "/ui/login" == urlsplit(apache_browser.page.url).path, setup.fail(
        f"Apache's session survived the back-channel logout: {apache_browser.page.url}"
    )
