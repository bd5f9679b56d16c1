"""Single sign-on across apps in one browser (SPEC §1, §3.1): a web app signs the user in on the
hosted login page; a SPA and a native app (RFC 8252 loopback redirect at an ephemeral port) then
get their codes with no page shown. openid-client exchanges all three codes with full validation,
and the three ID tokens name the same user and the same Ostiary session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_harness import BrowserSession, CallbackCatcher, Landing
from flows import Person, authorize_with_session, jwt_payload, sign_in
from interop_harness import LiveServer, NodeRP, app_command

pytestmark = [pytest.mark.interop, pytest.mark.browser]

NATIVE_REGISTERED = "http://127.0.0.1/callback"  # any port matches at use (SPEC §2, RFC 8252 §7.3)


@pytest.fixture(scope="module")
def registered(
    live_server: LiveServer, app_callback: Callable[..., CallbackCatcher]
) -> tuple[Person, dict[str, tuple[dict[str, Any], CallbackCatcher]]]:
    """A user, and a web app, a SPA and a native app, each with its own loopback callback."""
    web_cb, spa_cb = app_callback("/cb"), app_callback("/spa/cb")
    native_cb = app_callback("/callback")
    assert native_cb.redirect_uri != NATIVE_REGISTERED  # used at an ephemeral port
    user, web, spa, native = live_server.cli_many(
        Person.command("grace@example.com", "Grace Hopper"),
        app_command("web", name="SSO Web", redirect_uris=[web_cb.redirect_uri]),
        app_command("spa", name="SSO SPA", redirect_uris=[spa_cb.redirect_uri]),
        app_command("native", name="SSO Desktop", redirect_uris=[NATIVE_REGISTERED]),
    )
    apps = {"web": (web, web_cb), "spa": (spa, spa_cb), "native": (native, native_cb)}
    return Person.from_cli(user), apps


def _rp(node_rp: NodeRP, live_server: LiveServer, app: dict[str, Any]) -> NodeRP:
    if app.get("client_secret"):
        return node_rp.bind(
            issuer=live_server.issuer,
            client_id=app["client_id"],
            client_secret=app["client_secret"],
        )
    return node_rp.bind(
        issuer=live_server.issuer, client_id=app["client_id"], token_endpoint_auth_method="none"
    )


def _assert_straight_back(landing: Landing, auth_url: str, app: CallbackCatcher) -> None:
    """/oauth/authorize answered with a redirect to the app: nothing else was requested."""
    assert landing.navigations == [auth_url, landing.callback_url], landing.navigations
    assert landing.requests == [auth_url, landing.callback_url], landing.requests
    assert not landing.hosted_pages
    assert landing.callback_url.startswith(app.redirect_uri + "?")


def test_one_sign_in_serves_web_spa_and_native_apps(
    node_rp: NodeRP,
    browser: BrowserSession,
    live_server: LiveServer,
    registered: tuple[Person, dict[str, tuple[dict[str, Any], CallbackCatcher]]],
) -> None:
    """Sign in once via the web app; the SPA and native app get codes silently; same sid/sub."""
    person, apps = registered
    web, web_cb = apps["web"]
    web_rp = _rp(node_rp, live_server, web)
    first = sign_in(web_rp, browser, web_cb, person)
    assert urlsplit(first.landing.navigations[1]).path == "/ui/login"

    flows = {"web": first}
    for kind in ("spa", "native"):
        app, app_cb = apps[kind]
        # The native app also sends max_age=600: openid-client then requires auth_time.
        flow = authorize_with_session(
            _rp(node_rp, live_server, app),
            browser,
            app_cb,
            step=f"{kind}-silent",
            max_age=600 if kind == "native" else None,
        )
        _assert_straight_back(flow.landing, flow.start["url"], app_cb)
        flows[kind] = flow

    id_tokens = {}
    for kind, flow in flows.items():
        assert flow.tokens is not None
        claims = jwt_payload(flow.tokens["id_token"])
        assert claims == flow.tokens["claims"]  # what openid-client validated
        assert claims["aud"] in (apps[kind][0]["client_id"], [apps[kind][0]["client_id"]])
        assert claims["nonce"] == flow.start["nonce"]
        id_tokens[kind] = claims

    assert {claims["sub"] for claims in id_tokens.values()} == {person.id}
    sids = {claims["sid"] for claims in id_tokens.values()}
    assert len(sids) == 1, id_tokens
    # One authentication event: the silent logins report when the user actually signed in.
    assert len({claims["auth_time"] for claims in id_tokens.values()}) == 1, id_tokens
    # The access tokens (RFC 9068 JWTs) carry the same session.
    for flow in flows.values():
        assert flow.tokens is not None
        assert jwt_payload(flow.tokens["access_token"])["sid"] in sids
