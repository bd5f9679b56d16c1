"""The shared login: one sign-in, every app gets its own tokens for the same session."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

from flow_helpers import NATIVE_REDIRECT, SPA_REDIRECT, FlowHelper


async def test_second_and_third_app_get_a_code_without_a_page(flow: FlowHelper) -> None:
    """After one login, a SPA and a native app (any loopback port) get a code at once."""
    web, spa, native = await flow.web(), await flow.spa(), await flow.native()
    await flow.user()
    await flow.login(web)
    for app, redirect in ((spa, SPA_REDIRECT), (native, NATIVE_REDIRECT)):
        attempt = await flow.start(app)
        location = attempt.response.headers["location"]
        assert 303 == attempt.response.status_code
        assert redirect == location.split("?", 1)[0]
        assert "text/html" not in attempt.response.headers.get("content-type", "")


async def test_all_apps_share_sid_and_sub(flow: FlowHelper) -> None:
    """Tokens of a web app, a SPA and a native app share one sid and sub after one login."""
    web, spa, native = await flow.web(), await flow.spa(), await flow.native()
    await flow.user()
    token_sets = [await flow.tokens(await flow.login(web))]
    token_sets.append(await flow.tokens(await flow.sso(spa)))
    token_sets.append(await flow.tokens(await flow.sso(native)))
    seen = set()
    for tokens in token_sets:
        for token in (tokens.id_token, tokens.access_token):
            _, claims = await flow.verify(token)
            seen.add((claims["sub"], claims["sid"]))
    assert 1 == len(seen)


async def test_each_app_gets_tokens_for_itself(flow: FlowHelper) -> None:
    """Each app's ID token names that app as aud and azp; access tokens name it as client_id."""
    web, spa, native = await flow.web(), await flow.spa(), await flow.native()
    await flow.user()
    pairs = [(web, await flow.tokens(await flow.login(web)))]
    pairs.append((spa, await flow.tokens(await flow.sso(spa))))
    pairs.append((native, await flow.tokens(await flow.sso(native))))
    for app, tokens in pairs:
        _, id_claims = await flow.verify(tokens.id_token)
        _, access_claims = await flow.verify(tokens.access_token)
        assert (app.client_id, app.client_id, app.client_id) == (
            id_claims["azp"],
            access_claims["client_id"],
            id_claims["aud"],
        )


async def test_sso_records_every_app_in_the_session(flow: FlowHelper) -> None:
    """The session lists every app that took part (authenticated_clients)."""
    web, spa, native = await flow.web(), await flow.spa(), await flow.native()
    user = await flow.user()
    await flow.login(web)
    await flow.sso(spa)
    await flow.sso(native)
    (session,) = await flow.services.sessions.for_user(user.id)
    assert [web.client_id, spa.client_id, native.client_id] == list(session.authenticated_clients)


async def test_a_fresh_browser_has_no_shared_session(flow: FlowHelper) -> None:
    """Without the session cookie the next app is sent to the login page, not back."""
    web, spa = await flow.web(), await flow.spa()
    await flow.user()
    await flow.login(web)
    flow.client.cookies.clear()
    attempt = await flow.start(spa)
    assert "/ui/login" == attempt.response.headers["location"].split("?", 1)[0]
