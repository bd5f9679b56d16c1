"""RP-initiated logout at /oidc/logout (OIDC RP-Initiated Logout 1.0, SPEC §4): a valid hint signs
the browser out of every app of the shared session; anything doubtful is an error page or a
confirmation form and never ends the session; discovery advertises it."""

from __future__ import annotations

import base64
import dataclasses
import json
from http.cookies import SimpleCookie

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from logout_helpers import (
    OTHER_EMAIL,
    SESSION_COOKIE,
    SPA_BYE,
    WEB_BYE,
    Harness,
    RegisteredApp,
    Tokens,
    hidden,
)

from ostiary.domain.sessions import SessionStatus
from ostiary.web.cookies import cookie_names

CSRF_COOKIE = cookie_names(production=False).browser

ID_TOKEN_TTL = 1800


@dataclasses.dataclass
class SignedIn:
    """A web app and a SPA, both signed in through one browser session."""

    web: RegisteredApp
    spa: RegisteredApp
    web_tokens: Tokens
    spa_tokens: Tokens
    sid: str


async def _web_and_spa(h: Harness) -> SignedIn:
    web, spa = await h.web(), await h.spa()
    await h.user()
    web_tokens = await h.sign_in(h.browser, web)
    spa_tokens = await h.sign_in(h.browser, spa)  # single sign-on: no login page this time
    sid = await h.sid_of(web_tokens)
    assert sid == await h.sid_of(spa_tokens)
    return SignedIn(web, spa, web_tokens, spa_tokens, sid)


def _cleared_cookie(response: httpx.Response) -> tuple[str, str] | None:
    """(value, max-age) of the session cookie that the response sets, if any."""
    for header in response.headers.get_list("set-cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if SESSION_COOKIE in cookie:
            morsel = cookie[SESSION_COOKIE]
            return morsel.value, str(morsel["max-age"])
    return None


async def _assert_signed_out_everywhere(h: Harness, s: SignedIn) -> None:
    """Session logged_out; both apps' refresh and access tokens dead; login page again."""
    assert SessionStatus.LOGGED_OUT == (await h.session(s.sid)).status
    for app, tokens in ((s.web, s.web_tokens), (s.spa, s.spa_tokens)):
        refreshed = await h.refresh(app, tokens.refresh_token)
        assert (400, "invalid_grant") == (refreshed.status_code, refreshed.json()["error"])
        assert 401 == (await h.userinfo(tokens.access_token)).status_code
    again, _ = await h.authorize(h.browser, s.web)
    assert (303, "/ui/login") == (again.status_code, again.headers["location"].split("?")[0])


async def _assert_still_signed_in(h: Harness, s: SignedIn) -> None:
    """Session active, the web app's refresh token still works (it is rotated here)."""
    assert SessionStatus.ACTIVE == (await h.session(s.sid)).status
    refreshed = await h.refresh(s.web, s.web_tokens.refresh_token)
    assert 200 == refreshed.status_code, refreshed.text
    s.web_tokens = Tokens(refreshed.json())
    assert 200 == (await h.userinfo(s.web_tokens.access_token)).status_code


async def _logout(h: Harness, method: str, params: dict[str, str]) -> httpx.Response:
    if method == "GET":
        return await h.browser.get("/oidc/logout", params=params)
    return await h.browser.post("/oidc/logout", data=params)


# -- 1. a valid hint ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_valid_hint_signs_out_every_app_and_redirects_with_state(
    harness: Harness, method: str
) -> None:
    """A valid id_token_hint + registered URI + state: 303 there with state, cookie cleared,
    session logged_out, the web app's and the SPA's refresh and access tokens dead."""
    s = await _web_and_spa(harness)
    params = {
        "id_token_hint": s.web_tokens.id_token,
        "post_logout_redirect_uri": WEB_BYE,
        "state": "af0ifjsldkj",
    }
    response = await _logout(harness, method, params)
    assert 303 == response.status_code, response.text
    assert f"{WEB_BYE}?state=af0ifjsldkj" == response.headers["location"]
    assert ("", "0") == _cleared_cookie(response)
    assert None is harness.browser.session_cookie()
    await _assert_signed_out_everywhere(harness, s)


async def test_hint_and_matching_client_id_sign_out(harness: Harness) -> None:
    """client_id together with a hint for that app (what openid-client sends) signs out."""
    s = await _web_and_spa(harness)
    response = await harness.browser.get(
        "/oidc/logout",
        params={
            "id_token_hint": s.spa_tokens.id_token,
            "client_id": s.spa.client_id,
            "post_logout_redirect_uri": SPA_BYE,
            "state": "s1",
        },
    )
    assert 303 == response.status_code, response.text
    assert f"{SPA_BYE}?state=s1" == response.headers["location"]
    await _assert_signed_out_everywhere(harness, s)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_client_id_without_hint_confirms_then_redirects(
    harness: Harness, method: str
) -> None:
    """client_id instead of a hint: a confirmation form first (session alive), then confirming
    signs out and goes to the registered URI with the state."""
    s = await _web_and_spa(harness)
    params = {"client_id": s.web.client_id, "post_logout_redirect_uri": WEB_BYE, "state": "k9"}
    page = await _logout(harness, method, params)
    assert 200 == page.status_code, page.text
    assert "Sign out of all apps?" in page.text
    assert "Web asked to sign you out." in page.text
    assert SessionStatus.ACTIVE == (await harness.session(s.sid)).status
    form = {
        "csrf_token": hidden(page.text, "csrf_token"),
        "client_id": hidden(page.text, "client_id"),
        "post_logout_redirect_uri": hidden(page.text, "post_logout_redirect_uri"),
        "state": hidden(page.text, "state"),
        "confirm": "yes",
    }
    response = await harness.browser.post("/oidc/logout", data=form)
    assert 303 == response.status_code, response.text
    assert f"{WEB_BYE}?state=k9" == response.headers["location"]
    assert ("", "0") == _cleared_cookie(response)
    await _assert_signed_out_everywhere(harness, s)


async def test_valid_hint_without_redirect_shows_signed_out_page(harness: Harness) -> None:
    """A hint and no post-logout URI: the signed-out page, cookie cleared, session ended."""
    s = await _web_and_spa(harness)
    response = await harness.browser.get(
        "/oidc/logout", params={"id_token_hint": s.web_tokens.id_token}
    )
    assert 200 == response.status_code, response.text
    assert "You are signed out" in response.text
    assert ("", "0") == _cleared_cookie(response)
    await _assert_signed_out_everywhere(harness, s)


# -- 2. refused requests: an error page, never a redirect, session alive -------------------------


async def _assert_refused(h: Harness, s: SignedIn, response: httpx.Response) -> None:
    assert 400 == response.status_code, response.text
    assert None is response.headers.get("location")
    assert "This sign-out link is not valid" in response.text
    assert "You have not been signed out" in response.text
    assert None is _cleared_cookie(response)
    await _assert_still_signed_in(h, s)


@pytest.mark.parametrize("with_hint", [True, False], ids=["hint", "client_id"])
async def test_unregistered_post_logout_uri_is_an_error_page(
    harness: Harness, with_hint: bool
) -> None:
    """A post_logout_redirect_uri not registered for the app: 400 page, no Location, signed in."""
    s = await _web_and_spa(harness)
    who = {"id_token_hint": s.web_tokens.id_token} if with_hint else {"client_id": s.web.client_id}
    params = {**who, "post_logout_redirect_uri": "https://evil.example.net/bye", "state": "x"}
    await _assert_refused(harness, s, await harness.browser.get("/oidc/logout", params=params))


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_60000_character_state_is_an_error_page(harness: Harness, method: str) -> None:
    """A state longer than authorize allows (2048) is a 400 page naming the limit, never a
    60,000-character redirect; the session stays."""
    s = await _web_and_spa(harness)
    params = {
        "id_token_hint": s.web_tokens.id_token,
        "post_logout_redirect_uri": WEB_BYE,
        "state": "x" * 60_000,
    }
    response = await _logout(harness, method, params)
    assert "state is longer than 2048 characters." in response.text
    await _assert_refused(harness, s, response)


async def test_a_state_of_the_longest_length_authorize_allows_is_kept(harness: Harness) -> None:
    """A 2048-character state, as authorize allows, still comes back in the redirect."""
    s = await _web_and_spa(harness)
    state = "s" * 2048
    params = {
        "id_token_hint": s.web_tokens.id_token,
        "post_logout_redirect_uri": WEB_BYE,
        "state": state,
    }
    response = await harness.browser.get("/oidc/logout", params=params)
    assert f"{WEB_BYE}?state={state}" == response.headers["location"]


async def test_another_apps_post_logout_uri_is_refused(harness: Harness) -> None:
    """The SPA's post-logout URI with the web app's hint: registered, but not for that app."""
    s = await _web_and_spa(harness)
    params = {"id_token_hint": s.web_tokens.id_token, "post_logout_redirect_uri": SPA_BYE}
    await _assert_refused(harness, s, await harness.browser.get("/oidc/logout", params=params))


async def test_hint_signed_with_a_foreign_key_is_refused(harness: Harness) -> None:
    """An ID token with the right claims and kid, signed with someone else's key: error page."""
    s = await _web_and_spa(harness)
    header, claims = await harness.verify(s.web_tokens.id_token)
    forged = jwt.encode(
        {"alg": "RS256", "kid": header["kid"], "typ": "JWT"},
        claims,
        RSAKey.generate_key(2048),
    )
    params = {"id_token_hint": forged, "post_logout_redirect_uri": WEB_BYE, "state": "x"}
    await _assert_refused(harness, s, await harness.browser.get("/oidc/logout", params=params))


async def test_tampered_hint_is_refused(harness: Harness) -> None:
    """Our ID token with its payload changed (another aud) and the old signature: error page."""
    s = await _web_and_spa(harness)
    head, payload, signature = s.web_tokens.id_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["aud"] = s.spa.client_id
    changed = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    params = {"id_token_hint": f"{head}.{changed}.{signature}", "post_logout_redirect_uri": SPA_BYE}
    await _assert_refused(harness, s, await harness.browser.get("/oidc/logout", params=params))


async def test_access_token_as_hint_is_refused(harness: Harness) -> None:
    """A JWT we signed that is not an ID token (an at+jwt access token): error page."""
    s = await _web_and_spa(harness)
    params = {"id_token_hint": s.web_tokens.access_token, "post_logout_redirect_uri": WEB_BYE}
    await _assert_refused(harness, s, await harness.browser.get("/oidc/logout", params=params))


async def test_garbage_hint_is_refused(harness: Harness) -> None:
    """A hint that is not a JWT at all: error page."""
    s = await _web_and_spa(harness)
    params = {"id_token_hint": "not-a-jwt", "post_logout_redirect_uri": WEB_BYE}
    await _assert_refused(harness, s, await harness.browser.get("/oidc/logout", params=params))


async def test_client_id_not_matching_hint_audience_is_refused(harness: Harness) -> None:
    """client_id of the SPA with the web app's hint: error page, still signed in."""
    s = await _web_and_spa(harness)
    params = {
        "id_token_hint": s.web_tokens.id_token,
        "client_id": s.spa.client_id,
        "post_logout_redirect_uri": SPA_BYE,
    }
    await _assert_refused(harness, s, await harness.browser.get("/oidc/logout", params=params))


async def test_unknown_client_id_is_refused(harness: Harness) -> None:
    """A client_id that names no app: error page, still signed in."""
    s = await _web_and_spa(harness)
    params = {"client_id": "web_doesnotexist", "post_logout_redirect_uri": WEB_BYE}
    await _assert_refused(harness, s, await harness.browser.get("/oidc/logout", params=params))


async def test_post_logout_uri_without_client_is_refused(harness: Harness) -> None:
    """A post_logout_redirect_uri with neither hint nor client_id: error page, signed in."""
    s = await _web_and_spa(harness)
    params = {"post_logout_redirect_uri": WEB_BYE}
    await _assert_refused(harness, s, await harness.browser.get("/oidc/logout", params=params))


# -- 3. the confirmation form ------------------------------------------------------------------


async def _confirmation(h: Harness, params: dict[str, str] | None = None) -> httpx.Response:
    page = await h.browser.get("/oidc/logout", params=params or {})
    assert 200 == page.status_code, page.text
    assert "Sign out of all apps?" in page.text
    return page


async def test_plain_get_without_hint_only_asks(harness: Harness) -> None:
    """GET /oidc/logout with no hint shows the form with the user's email; nothing ends."""
    s = await _web_and_spa(harness)
    page = await _confirmation(harness)
    assert "ada@example.com" in page.text
    assert 'name="confirm" value="yes"' in page.text
    assert None is _cleared_cookie(page)
    await _assert_still_signed_in(harness, s)


async def test_confirming_without_redirect_shows_signed_out_page(harness: Harness) -> None:
    """confirm=yes with the CSRF token: signed-out page, cookie cleared, every app signed out."""
    s = await _web_and_spa(harness)
    page = await _confirmation(harness)
    response = await harness.browser.post(
        "/oidc/logout", data={"csrf_token": hidden(page.text, "csrf_token"), "confirm": "yes"}
    )
    assert 200 == response.status_code, response.text
    assert "You are signed out" in response.text
    assert ("", "0") == _cleared_cookie(response)
    await _assert_signed_out_everywhere(harness, s)


async def test_declining_keeps_the_session(harness: Harness) -> None:
    """confirm=no: 'still signed in' page, session active, refresh works."""
    s = await _web_and_spa(harness)
    page = await _confirmation(harness, {"client_id": s.web.client_id, "state": "q"})
    response = await harness.browser.post(
        "/oidc/logout",
        data={
            "csrf_token": hidden(page.text, "csrf_token"),
            "client_id": s.web.client_id,
            "state": "q",
            "confirm": "no",
        },
    )
    assert 200 == response.status_code, response.text
    assert "You are still signed in" in response.text
    assert None is _cleared_cookie(response)
    await _assert_still_signed_in(harness, s)


@pytest.mark.parametrize("csrf", [None, "wrong" * 8 + "abc"], ids=["missing", "wrong"])
async def test_confirming_without_the_right_csrf_token_is_403(
    harness: Harness, csrf: str | None
) -> None:
    """confirm=yes with a missing or wrong CSRF token: 403, still signed in."""
    s = await _web_and_spa(harness)
    await _confirmation(harness)
    form = {"confirm": "yes"} if csrf is None else {"confirm": "yes", "csrf_token": csrf}
    response = await harness.browser.post("/oidc/logout", data=form)
    assert 403 == response.status_code, response.text
    assert "You are still signed in" in response.text
    assert None is _cleared_cookie(response)
    await _assert_still_signed_in(harness, s)


async def test_token_from_another_browser_is_403(harness: Harness) -> None:
    """A forged post carrying a token the attacker got in their own browser (signed in as
    someone else): 403, and the victim is still signed in."""
    s = await _web_and_spa(harness)
    await harness.user(OTHER_EMAIL)
    attacker = harness.new_browser()
    await harness.sign_in(attacker, s.web, email=OTHER_EMAIL)
    page = await attacker.get("/oidc/logout")
    token = hidden(page.text, "csrf_token")
    response = await harness.browser.post(
        "/oidc/logout", data={"confirm": "yes", "csrf_token": token}
    )
    assert 403 == response.status_code, response.text
    await _assert_still_signed_in(harness, s)


async def test_planted_cookie_and_matching_field_is_403(harness: Harness) -> None:
    """The sibling-subdomain attack on double-submit: the attacker sets the CSRF cookie to a
    value of their choosing and posts the same value as the form's token: 403, signed in."""
    s = await _web_and_spa(harness)
    await _confirmation(harness)
    chosen = "a" * 43
    harness.browser.http.cookies.set(CSRF_COOKIE, chosen, domain="127.0.0.1", path="/")
    response = await harness.browser.post(
        "/oidc/logout", data={"confirm": "yes", "csrf_token": chosen}
    )
    assert 403 == response.status_code, response.text
    assert "You are still signed in" in response.text
    await _assert_still_signed_in(harness, s)


async def test_hint_for_another_user_asks_first(harness: Harness) -> None:
    """A valid hint of a different user than this browser's: the form, not a silent logout."""
    s = await _web_and_spa(harness)
    await harness.user(OTHER_EMAIL)
    other = harness.new_browser()
    other_tokens = await harness.sign_in(other, s.web, email=OTHER_EMAIL)
    params = {"id_token_hint": other_tokens.id_token, "post_logout_redirect_uri": WEB_BYE}
    await _confirmation(harness, params)
    await _assert_still_signed_in(harness, s)


@pytest.mark.parametrize("source", ["earlier-session", "other-device"])
async def test_hint_from_another_session_of_the_same_user_asks_first(
    harness: Harness, source: str
) -> None:
    """A hint of the same user but another session (an earlier, ended one, or the phone's) is
    not this browser's session: the confirmation form, the current session stays active."""
    h = harness
    web = await h.web()
    await h.user()
    if source == "earlier-session":
        stale = await h.sign_in(h.browser, web)
        ended = await h.browser.get("/oidc/logout", params={"id_token_hint": stale.id_token})
        assert 200 == ended.status_code, ended.text
    else:
        stale = await h.sign_in(h.new_browser(), web)
    current = await h.sign_in(h.browser, web)
    current_sid = await h.sid_of(current)
    assert current_sid != await h.sid_of(stale)
    response = await h.browser.get(
        "/oidc/logout",
        params={"id_token_hint": stale.id_token, "post_logout_redirect_uri": WEB_BYE, "state": "a"},
    )
    assert SessionStatus.ACTIVE == (await h.session(current_sid)).status
    assert 200 == response.status_code, response.headers.get("location")
    assert "Sign out of all apps?" in response.text


async def test_expired_id_token_still_works_as_hint(harness: Harness) -> None:
    """An ID token past its 30 minutes still identifies the session: signed out, redirected."""
    s = await _web_and_spa(harness)
    harness.clock.advance(ID_TOKEN_TTL + 60)
    _, claims = await harness.verify(s.web_tokens.id_token)
    assert claims["exp"] < harness.clock.now().timestamp()
    response = await harness.browser.get(
        "/oidc/logout",
        params={
            "id_token_hint": s.web_tokens.id_token,
            "post_logout_redirect_uri": WEB_BYE,
            "state": "late",
        },
    )
    assert 303 == response.status_code, response.text
    assert f"{WEB_BYE}?state=late" == response.headers["location"]
    assert SessionStatus.LOGGED_OUT == (await harness.session(s.sid)).status


async def test_logout_is_not_framable_and_not_cached(harness: Harness) -> None:
    """The confirmation page is no-store and forbids framing (clickjacking the Sign out button)."""
    await _web_and_spa(harness)
    page = await _confirmation(harness)
    assert "no-store" == page.headers.get("cache-control")
    framing = page.headers.get("x-frame-options", "").upper()
    csp = page.headers.get("content-security-policy", "")
    assert True is (framing == "DENY" or "frame-ancestors 'none'" in csp), dict(page.headers)


# -- 10. discovery -----------------------------------------------------------------------------


async def test_discovery_advertises_logout(harness: Harness) -> None:
    """end_session_endpoint = issuer + /oidc/logout; back-channel (with sid) supported."""
    document = (await harness.browser.get("/.well-known/openid-configuration")).json()
    assert f"{harness.issuer}/oidc/logout" == document["end_session_endpoint"]
    assert True is document["backchannel_logout_supported"]
    assert True is document["backchannel_logout_session_supported"]
