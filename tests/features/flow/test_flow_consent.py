"""Consent: third-party apps ask once per scope set; first-party apps never ask."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

from typing import Any

import httpx
from flow_helpers import Attempt, FlowHelper, Form, RegisteredApp, query_of


async def _third_party(flow: FlowHelper) -> RegisteredApp:
    return await flow.update(await flow.web("Partner"), third_party=True)


async def _to_consent(flow: FlowHelper, app: RegisteredApp, **start: Any) -> tuple[Attempt, Form]:
    """Authorize without a session, sign in, and open the consent page it leads to."""
    attempt = await flow.start(app, **start)
    login = await flow.open_form(attempt.response)
    signed_in = await flow.submit_login(login)
    assert "/ui/consent" == signed_in.headers["location"].split("?", 1)[0]
    return attempt, await flow.open_form(signed_in)


async def _decide(flow: FlowHelper, form: Form, decision: str) -> httpx.Response:
    return await flow.client.post(
        "/ui/consent",
        data={"txn": form.txn, "csrf_token": form.csrf_token, "decision": decision},
    )


async def test_third_party_app_shows_consent_listing_the_scopes(flow: FlowHelper) -> None:
    """After sign-in, a third-party app leads to /ui/consent naming the app and each scope."""
    app = await _third_party(flow)
    await flow.user()
    _, form = await _to_consent(flow, app, scope="openid profile email")
    html = form.response.text
    assert "Partner wants to access your account" in html
    for scope, description in (
        ("openid", "Confirm who you are"),
        ("profile", "Your name and profile picture"),
        ("email", "Your email address"),
    ):
        assert f'<code class="scope-name">{scope}</code>' in html
        assert description in html


async def test_deny_redirects_with_access_denied_state_and_iss(flow: FlowHelper) -> None:
    """Choosing Deny redirects to the app with error=access_denied, its state and iss."""
    app = await _third_party(flow)
    await flow.user()
    attempt, form = await _to_consent(flow, app, state="s-deny")
    response = await _decide(flow, form, "deny")
    location = response.headers["location"]
    params = query_of(location)
    assert 303 == response.status_code
    assert attempt.redirect_uri == location.split("?", 1)[0]
    assert ("access_denied", "s-deny", flow.issuer) == (
        params["error"],
        params["state"],
        params["iss"],
    )
    assert "code" not in params


async def test_allow_redirects_with_a_code(flow: FlowHelper) -> None:
    """Choosing Allow redirects with a code that exchanges for tokens."""
    app = await _third_party(flow)
    await flow.user()
    attempt, form = await _to_consent(flow, app)
    authorization = flow.back_at_app(attempt, await _decide(flow, form, "allow"))
    response = await flow.exchange(authorization)
    assert 200 == response.status_code


async def test_consent_is_remembered(flow: FlowHelper) -> None:
    """After Allow, a second authorization for the same scopes returns a code at once."""
    app = await _third_party(flow)
    await flow.user()
    _, form = await _to_consent(flow, app)
    await _decide(flow, form, "allow")
    authorization = await flow.sso(app)
    assert {"code", "state", "iss"} == set(authorization.params)


async def test_consent_is_asked_again_for_a_new_scope(flow: FlowHelper) -> None:
    """After allowing openid only, asking for openid email shows the consent page again."""
    app = await _third_party(flow)
    await flow.user()
    _, form = await _to_consent(flow, app, scope="openid")
    await _decide(flow, form, "allow")
    attempt = await flow.start(app, scope="openid email")
    assert "/ui/consent" == attempt.response.headers["location"].split("?", 1)[0]


async def test_prompt_none_without_consent_is_consent_required(flow: FlowHelper) -> None:
    """prompt=none for an unconsented third-party app gives consent_required, state, iss."""
    first_party, partner = await flow.spa(), await _third_party(flow)
    await flow.user()
    await flow.login(first_party)
    attempt = await flow.start(partner, extra={"prompt": "none"}, state="s-pn")
    params = query_of(attempt.response.headers["location"])
    assert ("consent_required", "s-pn", flow.issuer) == (
        params["error"],
        params["state"],
        params["iss"],
    )


async def test_prompt_none_after_consent_returns_a_code(flow: FlowHelper) -> None:
    """Once consent is given, prompt=none for the third-party app returns a code."""
    app = await _third_party(flow)
    await flow.user()
    _, form = await _to_consent(flow, app)
    await _decide(flow, form, "allow")
    authorization = await flow.sso(app, extra={"prompt": "none"})
    assert {"code", "state", "iss"} == set(authorization.params)


async def test_first_party_apps_never_see_consent(flow: FlowHelper) -> None:
    """First-party web, SPA and native apps get codes without consent, even prompt=consent."""
    web, spa, native = await flow.web(), await flow.spa(), await flow.native()
    await flow.user()
    authorizations = [await flow.login(web)]
    authorizations.append(await flow.sso(spa))
    authorizations.append(await flow.sso(native, extra={"prompt": "consent"}))
    assert [True, True, True] == ["code" in a.params for a in authorizations]


async def test_consent_post_with_wrong_csrf_token_is_403(flow: FlowHelper) -> None:
    """A consent POST with a forged csrf_token is refused (403) and issues no code."""
    app = await _third_party(flow)
    await flow.user()
    _, form = await _to_consent(flow, app)
    response = await _decide(flow, Form(form.response, form.txn, "z" * 43), "allow")
    assert (403, None) == (response.status_code, response.headers.get("location"))
