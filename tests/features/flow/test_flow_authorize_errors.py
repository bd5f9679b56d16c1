"""Wrong authorization requests: a page when the client or redirect URI cannot be trusted, else an
error redirect with state and iss (RFC 6749 §4.1.2.1, RFC 9207, OIDC Core §3.1.2.6)."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

from flow_helpers import WEB_REDIRECT, AdvancingClock, Attempt, FlowHelper, query_of


def _error_back(attempt: Attempt) -> dict[str, str]:
    """Assert the response is a 303 to the app's redirect URI with an error; its parameters."""
    response = attempt.response
    assert 303 == response.status_code, response.text
    location = response.headers["location"]
    assert attempt.redirect_uri == location.split("?", 1)[0]
    params = query_of(location)
    assert "code" not in params
    return params


async def test_unregistered_redirect_uri_shows_a_page_and_never_redirects(
    flow: FlowHelper,
) -> None:
    """A redirect_uri not registered for the app gives a 400 HTML page with no Location."""
    app = await flow.web()
    attempt = await flow.start(app, redirect_uri="https://evil.example.com/callback")
    response = attempt.response
    assert 400 == response.status_code
    assert "text/html" == response.headers["content-type"].split(";")[0]
    assert "location" not in response.headers
    assert "is not registered" in response.text


async def test_redirect_uri_differing_by_a_trailing_slash_is_refused(flow: FlowHelper) -> None:
    """Exact matching: the registered URI plus a trailing slash is not accepted."""
    app = await flow.web()
    attempt = await flow.start(app, redirect_uri=WEB_REDIRECT + "/")
    assert (400, None) == (attempt.response.status_code, attempt.response.headers.get("location"))


async def test_unknown_client_id_shows_a_page_and_never_redirects(flow: FlowHelper) -> None:
    """An unknown client_id gives a 400 HTML page with no Location, even with a redirect_uri."""
    app = await flow.web()
    attempt = await flow.start(app, extra={"client_id": "web_doesnotexist"})
    response = attempt.response
    assert 400 == response.status_code
    assert "text/html" == response.headers["content-type"].split(";")[0]
    assert "location" not in response.headers
    assert "no application" in response.text.lower()


async def test_missing_client_id_shows_a_page(flow: FlowHelper) -> None:
    """Without client_id there is nothing to trust: a 400 page, no Location."""
    app = await flow.web()
    attempt = await flow.start(app, extra={"client_id": None})
    assert (400, None) == (attempt.response.status_code, attempt.response.headers.get("location"))


async def test_spa_without_pkce_is_sent_back_with_invalid_request(flow: FlowHelper) -> None:
    """A SPA that sends no code_challenge gets error=invalid_request with its state and iss."""
    app = await flow.spa()
    attempt = await flow.start(app, pkce=False, state="s-1")
    params = _error_back(attempt)
    assert ("invalid_request", "s-1", flow.issuer) == (
        params["error"],
        params["state"],
        params["iss"],
    )
    assert "PKCE" in params["error_description"]


async def test_native_without_pkce_is_sent_back_with_invalid_request(flow: FlowHelper) -> None:
    """A native app that sends no code_challenge gets error=invalid_request."""
    app = await flow.native()
    params = _error_back(await flow.start(app, pkce=False))
    assert "invalid_request" == params["error"]


async def test_plain_code_challenge_method_is_refused(flow: FlowHelper) -> None:
    """code_challenge_method=plain gives error=invalid_request."""
    app = await flow.spa()
    attempt = await flow.start(app, extra={"code_challenge_method": "plain"}, state="s-2")
    params = _error_back(attempt)
    assert ("invalid_request", "s-2") == (params["error"], params["state"])


async def test_response_type_token_is_unsupported(flow: FlowHelper) -> None:
    """response_type=token gives error=unsupported_response_type with state and iss."""
    app = await flow.web()
    attempt = await flow.start(app, extra={"response_type": "token"}, state="s-3")
    params = _error_back(attempt)
    assert ("unsupported_response_type", "s-3", flow.issuer) == (
        params["error"],
        params["state"],
        params["iss"],
    )


async def test_repeated_scope_parameter_is_invalid_request(flow: FlowHelper) -> None:
    """Two scope parameters give error=invalid_request (repeated parameters are an error)."""
    app = await flow.web()
    attempt = await flow.start(app, repeated=[("scope", "openid")])
    params = _error_back(attempt)
    assert "invalid_request" == params["error"]
    assert "scope" in params["error_description"]


async def test_scope_without_openid_is_invalid_scope(flow: FlowHelper) -> None:
    """A scope without openid gives error=invalid_scope."""
    app = await flow.web()
    params = _error_back(await flow.start(app, scope="profile email"))
    assert "invalid_scope" == params["error"]


async def test_prompt_none_without_session_is_login_required(flow: FlowHelper) -> None:
    """prompt=none and no session: error=login_required with state and iss, no page shown."""
    app = await flow.web()
    attempt = await flow.start(app, extra={"prompt": "none"}, state="s-4")
    params = _error_back(attempt)
    assert ("login_required", "s-4", flow.issuer) == (
        params["error"],
        params["state"],
        params["iss"],
    )


async def test_prompt_none_with_session_returns_a_code(flow: FlowHelper) -> None:
    """prompt=none with a live session gives a code straight away, which exchanges."""
    app = await flow.web()
    await flow.user()
    await flow.login(app)
    authorization = await flow.sso(app, extra={"prompt": "none"})
    response = await flow.exchange(authorization)
    assert 200 == response.status_code


async def test_prompt_none_with_exceeded_max_age_is_login_required(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """prompt=none with max_age older than the login gives login_required, not a page."""
    app = await flow.web()
    await flow.user()
    await flow.login(app)
    clock.advance(120)
    params = _error_back(await flow.start(app, extra={"prompt": "none", "max_age": "60"}))
    assert "login_required" == params["error"]


async def test_native_error_redirect_goes_to_the_loopback_port_used(flow: FlowHelper) -> None:
    """A native app's error goes back to the loopback URI it sent, port included."""
    app = await flow.native()
    attempt = await flow.start(app, extra={"response_type": "id_token"})
    location = attempt.response.headers["location"]
    assert location.startswith("http://127.0.0.1:53123/callback?")


async def test_native_loopback_with_localhost_name_is_refused(flow: FlowHelper) -> None:
    """Registered 127.0.0.1 loopback does not match localhost on any port: a page, no redirect."""
    app = await flow.native()
    attempt = await flow.start(app, redirect_uri="http://localhost:53123/callback")
    assert (400, None) == (attempt.response.status_code, attempt.response.headers.get("location"))


async def test_native_loopback_with_another_path_is_refused(flow: FlowHelper) -> None:
    """Any port, but the path must be exactly the registered one: a page, no redirect."""
    app = await flow.native()
    attempt = await flow.start(app, redirect_uri="http://127.0.0.1:53123/callback/other")
    assert (400, None) == (attempt.response.status_code, attempt.response.headers.get("location"))


async def test_native_code_must_be_redeemed_with_the_same_port(flow: FlowHelper) -> None:
    """A code issued for 127.0.0.1:53123 is invalid_grant when redeemed for port 53124."""
    app = await flow.native()
    await flow.user()
    authorization = await flow.login(app)
    response = await flow.exchange(authorization, redirect_uri="http://127.0.0.1:53124/callback")
    assert (400, "invalid_grant") == (response.status_code, response.json()["error"])


async def test_unknown_client_id_is_escaped_on_the_error_page(flow: FlowHelper) -> None:
    """A client_id carrying markup is shown escaped, never as live HTML."""
    app = await flow.web()
    attempt = await flow.start(app, extra={"client_id": "<script>alert(1)</script>"})
    assert 400 == attempt.response.status_code
    assert "<script>alert(1)" not in attempt.response.text


async def test_login_hint_is_escaped_on_the_login_page(flow: FlowHelper) -> None:
    """A login_hint that tries to close the value attribute stays inside it."""
    app = await flow.web()
    hint = '"><script>alert(1)</script>'
    form = await flow.open_form((await flow.start(app, extra={"login_hint": hint})).response)
    assert "<script>alert(1)" not in form.response.text


async def test_state_with_special_characters_comes_back_unchanged(flow: FlowHelper) -> None:
    """A state with spaces, &, =, / and non-ASCII letters comes back exactly as sent."""
    app = await flow.web()
    await flow.user()
    state = "a b&c=d/é?+%"
    authorization = await flow.login(app, state=state)
    assert state == authorization.params["state"]


async def test_error_description_is_sent_with_every_error_redirect(flow: FlowHelper) -> None:
    """Error redirects carry a human-readable error_description."""
    app = await flow.spa()
    params = _error_back(await flow.start(app, pkce=False))
    assert len(params["error_description"]) > 10


async def test_max_age_zero_forces_a_new_login(flow: FlowHelper) -> None:
    """max_age=0 right after the login shows the login page, like prompt=login (OIDC Core)."""
    app = await flow.web()
    await flow.user()
    await flow.login(app)
    attempt = await flow.start(app, extra={"max_age": "0"})
    assert "/ui/login" == attempt.response.headers["location"].split("?", 1)[0]


async def test_malformed_code_challenge_is_invalid_request(flow: FlowHelper) -> None:
    """A code_challenge that is not 43 base64url characters gives error=invalid_request."""
    app = await flow.spa()
    params = _error_back(await flow.start(app, extra={"code_challenge": "abc"}))
    assert "invalid_request" == params["error"]


async def test_redirect_uri_removed_during_login_gets_no_code(flow: FlowHelper) -> None:
    """A redirect URI unregistered while its login page is open receives no code."""
    old = "https://old.example.com/cb"
    app = await flow.web(redirect_uris=["https://web.example.com/callback", old])
    await flow.user()
    form = await flow.open_form((await flow.start(app, redirect_uri=old)).response)
    await flow.update(app, redirect_uris=["https://web.example.com/callback"])
    response = await flow.submit_login(form)
    assert old != response.headers.get("location", "").split("?", 1)[0]
