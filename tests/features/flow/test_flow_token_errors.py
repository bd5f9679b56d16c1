"""Wrong token requests: codes used twice or late, PKCE, redirect URI, client authentication,
grant types, refresh-token rotation and its reuse window (RFC 6749 §4.1.2, §5.2; RFC 7636;
OAuth 2.0 Security BCP §4.14)."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import httpx
from flow_helpers import AdvancingClock, FlowHelper, Pkce, Tokens


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


async def test_code_reuse_fails_and_revokes_the_first_tokens(flow: FlowHelper) -> None:
    """A reused code is invalid_grant and revokes the first exchange's tokens."""
    app = await flow.web()
    await flow.user()
    authorization = await flow.login(app)
    first = await flow.tokens(authorization)
    second = await flow.exchange(authorization)
    refreshed = await flow.refresh(app, first.refresh_token)
    userinfo = await flow.userinfo(first.access_token)
    assert (400, "invalid_grant") == _error(second)
    assert "no-store" == second.headers["cache-control"]
    assert (400, "invalid_grant") == _error(refreshed)
    assert 401 == userinfo.status_code


async def test_wrong_code_verifier_is_invalid_grant(flow: FlowHelper) -> None:
    """A code_verifier that does not hash to the code_challenge gives invalid_grant."""
    app = await flow.spa()
    await flow.user()
    authorization = await flow.login(app)
    response = await flow.exchange(authorization, verifier=Pkce.new().verifier)
    assert (400, "invalid_grant") == _error(response)


async def test_retrying_a_code_after_a_wrong_code_verifier_says_what_happened(
    flow: FlowHelper,
) -> None:
    """A wrong code_verifier uses the code up; retrying it with the right one is refused with
    the truth (the first request failed), not a claim that issued tokens were revoked."""
    app = await flow.spa()
    await flow.user()
    authorization = await flow.login(app)
    await flow.exchange(authorization, verifier=Pkce.new().verifier)
    retried = await flow.exchange(authorization)
    assert (400, "invalid_grant") == _error(retried)
    assert (
        "This authorization code was already used by a request that failed; start a new "
        "authorization."
    ) == retried.json()["error_description"]


async def test_a_redeemed_code_presented_again_says_its_tokens_are_revoked(
    flow: FlowHelper,
) -> None:
    """The real reuse (a code redeemed, then replayed) keeps its own message."""
    app = await flow.web()
    await flow.user()
    authorization = await flow.login(app)
    await flow.tokens(authorization)
    second = await flow.exchange(authorization)
    assert (
        "The authorization code was already used; tokens issued from it are revoked."
    ) == second.json()["error_description"]


async def test_missing_code_verifier_for_a_pkce_code_is_refused(flow: FlowHelper) -> None:
    """A PKCE code exchanged without code_verifier gives invalid_grant, no tokens."""
    app = await flow.web()
    await flow.user()
    authorization = await flow.login(app)
    response = await flow.exchange(authorization, verifier=None)
    assert (400, "invalid_grant") == _error(response)
    assert "access_token" not in response.json()


async def test_redirect_uri_mismatch_at_token_endpoint_is_invalid_grant(
    flow: FlowHelper,
) -> None:
    """Exchanging a code with another (registered) redirect_uri than at authorize fails."""
    other = "https://web.example.com/other-callback"
    app = await flow.web(redirect_uris=["https://web.example.com/callback", other])
    await flow.user()
    authorization = await flow.login(app)
    response = await flow.exchange(authorization, redirect_uri=other)
    assert (400, "invalid_grant") == _error(response)


async def test_code_issued_to_another_client_is_invalid_grant(flow: FlowHelper) -> None:
    """A SPA cannot redeem a code issued to another SPA with the same redirect URI."""
    first, second = await flow.spa("First"), await flow.spa("Second")
    await flow.user()
    authorization = await flow.login(first)
    form = {
        "grant_type": "authorization_code",
        "code": authorization.code,
        "redirect_uri": authorization.attempt.redirect_uri,
        "code_verifier": authorization.attempt.pkce.verifier,  # type: ignore[union-attr]
    }
    response = await flow.post_token(second, form)
    assert (400, "invalid_grant") == _error(response)


async def test_expired_code_is_invalid_grant(flow: FlowHelper, clock: AdvancingClock) -> None:
    """A code exchanged 601 s after it was issued (TTL 600 s) gives invalid_grant."""
    app = await flow.web()
    await flow.user()
    authorization = await flow.login(app)
    clock.advance(601)
    response = await flow.exchange(authorization)
    assert (400, "invalid_grant") == _error(response)


async def test_code_just_before_expiry_still_works(flow: FlowHelper, clock: AdvancingClock) -> None:
    """A code exchanged 599 s after it was issued still gives tokens."""
    app = await flow.web()
    await flow.user()
    authorization = await flow.login(app)
    clock.advance(599)
    response = await flow.exchange(authorization)
    assert 200 == response.status_code


async def test_wrong_secret_with_basic_is_401_with_www_authenticate(flow: FlowHelper) -> None:
    """client_secret_basic with a wrong secret: 401 invalid_client and WWW-Authenticate Basic."""
    app = await flow.web()
    await flow.user()
    authorization = await flow.login(app)
    response = await flow.exchange(authorization, auth="basic", secret="sec_wrong")
    assert (401, "invalid_client") == _error(response)
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert "no-store" == response.headers["cache-control"]


async def test_wrong_secret_with_post_is_401_invalid_client(flow: FlowHelper) -> None:
    """client_secret_post with a wrong secret: 401 invalid_client."""
    app = await flow.web()
    await flow.user()
    authorization = await flow.login(app)
    response = await flow.exchange(authorization, auth="post", secret="sec_wrong")
    assert (401, "invalid_client") == _error(response)


async def test_web_app_without_secret_is_401_invalid_client(flow: FlowHelper) -> None:
    """A web app that sends only its client_id is refused with invalid_client."""
    app = await flow.web()
    await flow.user()
    authorization = await flow.login(app)
    response = await flow.exchange(authorization, auth="none")
    assert (401, "invalid_client") == _error(response)


async def test_wrong_secret_does_not_burn_the_code(flow: FlowHelper) -> None:
    """A failed client authentication leaves the code usable by the real client."""
    app = await flow.web()
    await flow.user()
    authorization = await flow.login(app)
    await flow.exchange(authorization, secret="sec_wrong")
    response = await flow.exchange(authorization)
    assert 200 == response.status_code


async def test_unsupported_grant_type(flow: FlowHelper) -> None:
    """grant_type=password gives 400 unsupported_grant_type."""
    app = await flow.web()
    response = await flow.post_token(
        app, {"grant_type": "password", "username": "a", "password": "b"}
    )
    assert (400, "unsupported_grant_type") == _error(response)


async def test_reused_refresh_token_revokes_the_whole_family(flow: FlowHelper) -> None:
    """A rotated refresh token reused is invalid_grant and kills the newest one too."""
    app = await flow.web()
    await flow.user()
    first = await flow.tokens(await flow.login(app))
    rotated = await flow.refresh(app, first.refresh_token)
    newest = Tokens(rotated).refresh_token
    reused = await flow.refresh(app, first.refresh_token)
    after = await flow.refresh(app, newest)
    assert 200 == rotated.status_code
    assert (400, "invalid_grant") == _error(reused)
    assert (400, "invalid_grant") == _error(after)


async def test_reused_refresh_token_kills_the_access_tokens(flow: FlowHelper) -> None:
    """After a refresh-token reuse, the access token of the newest rotation fails at userinfo."""
    app = await flow.spa()
    await flow.user()
    first = await flow.tokens(await flow.login(app))
    newest = Tokens(await flow.refresh(app, first.refresh_token))
    await flow.refresh(app, first.refresh_token)
    response = await flow.userinfo(newest.access_token)
    assert 401 == response.status_code


async def test_refresh_reuse_interval_tolerates_a_second_use_within_it(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """With refresh_reuse_interval=10, the same refresh token works again 10 s after rotation."""
    app = await flow.update(await flow.spa(), refresh_reuse_interval=10)
    await flow.user()
    first = await flow.tokens(await flow.login(app))
    rotated = await flow.refresh(app, first.refresh_token)
    clock.advance(10)
    again = await flow.refresh(app, first.refresh_token)
    assert (200, 200) == (rotated.status_code, again.status_code)
    assert Tokens(rotated).refresh_token != Tokens(again).refresh_token


async def test_refresh_reuse_interval_refuses_a_use_after_it(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """With refresh_reuse_interval=10, reuse after 11 s fails and revokes the family."""
    app = await flow.update(await flow.spa(), refresh_reuse_interval=10)
    await flow.user()
    first = await flow.tokens(await flow.login(app))
    rotated = await flow.refresh(app, first.refresh_token)
    clock.advance(11)
    late = await flow.refresh(app, first.refresh_token)
    newest = await flow.refresh(app, Tokens(rotated).refresh_token)
    assert (400, "invalid_grant") == _error(late)
    assert (400, "invalid_grant") == _error(newest)


async def test_refresh_token_of_another_client_is_invalid_grant(flow: FlowHelper) -> None:
    """A SPA cannot use the web app's refresh token."""
    web, spa = await flow.web(), await flow.spa()
    await flow.user()
    tokens = await flow.tokens(await flow.login(web))
    response = await flow.refresh(spa, tokens.refresh_token)
    assert (400, "invalid_grant") == _error(response)


async def test_refresh_cannot_widen_the_scope(flow: FlowHelper) -> None:
    """A refresh asking for a scope the login did not have gives invalid_scope."""
    app = await flow.web()
    await flow.user()
    tokens = await flow.tokens(await flow.login(app, scope="openid offline_access"))
    response = await flow.post_token(
        app,
        {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, "scope": "email"},
    )
    assert (400, "invalid_scope") == _error(response)


async def test_repeated_token_parameter_is_invalid_request(flow: FlowHelper) -> None:
    """A form with code sent twice gives invalid_request."""
    app = await flow.web()
    response = await flow.client.post(
        "/oauth/token",
        content="grant_type=authorization_code&code=a&code=b&redirect_uri=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
        auth=(app.client_id, app.secret or ""),
    )
    assert (400, "invalid_request") == _error(response)


async def test_code_reuse_after_a_refresh_revokes_the_rotated_token(flow: FlowHelper) -> None:
    """A code replayed after its refresh token was rotated revokes the rotated one too."""
    app = await flow.web()
    await flow.user()
    authorization = await flow.login(app)
    first = await flow.tokens(authorization)
    rotated = Tokens(await flow.refresh(app, first.refresh_token))
    await flow.exchange(authorization)
    response = await flow.refresh(app, rotated.refresh_token)
    assert (400, "invalid_grant") == _error(response)


async def test_public_client_sending_a_secret_is_invalid_client(flow: FlowHelper) -> None:
    """A SPA that sends a client_secret is refused with 401 invalid_client."""
    app = await flow.spa()
    await flow.user()
    authorization = await flow.login(app)
    response = await flow.exchange(authorization, auth="post", secret="anything")
    assert (401, "invalid_client") == _error(response)


async def test_web_app_without_enforced_pkce_may_skip_it(flow: FlowHelper) -> None:
    """A web app with enforce_pkce off redeems a code without PKCE, by secret alone."""
    app = await flow.update(await flow.web(), enforce_pkce=False)
    await flow.user()
    authorization = await flow.login(app, pkce=False)
    response = await flow.exchange(authorization)
    assert 200 == response.status_code


async def test_verifier_for_a_code_without_challenge_is_invalid_grant(flow: FlowHelper) -> None:
    """A code_verifier for a code without code_challenge is invalid_grant."""
    app = await flow.update(await flow.web(), enforce_pkce=False)
    await flow.user()
    authorization = await flow.login(app, pkce=False)
    response = await flow.exchange(authorization, verifier=Pkce.new().verifier)
    assert (400, "invalid_grant") == _error(response)
