"""The hosted login form's CSRF token is an HMAC of what this browser holds (its pre-session
value, or its session), so neither a cookie the attacker plants nor a token from another
browser signs anyone in."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import httpx
from flow_helpers import EMAIL, PASSWORD, FlowHelper, Form

from ostiary.services.container import Services
from ostiary.web.app import create_web_app
from ostiary.web.cookies import cookie_names

COOKIES = cookie_names(production=False)
CHOSEN = "a" * 43  # the attacker's value: well-formed, like a real one


def _refused(flow: FlowHelper, response: httpx.Response) -> None:
    """The readable "Please try again" page, and still no session."""
    page = (response.status_code, "CSRF token missing or wrong" in response.text)
    assert (403, True) == page, response.text
    assert None is flow.session_cookie()


async def test_planted_cookie_and_matching_field_sign_nobody_in(flow: FlowHelper) -> None:
    """The sibling-subdomain attack on double-submit: the attacker sets the CSRF cookie to a
    value of their choosing and posts the same value as the token (login CSRF): refused."""
    app = await flow.web()
    await flow.user()
    form = await flow.open_form((await flow.start(app)).response)
    flow.client.cookies.set(COOKIES.browser, CHOSEN, domain="127.0.0.1", path="/")
    forged = Form(form.response, form.txn, CHOSEN)
    _refused(flow, await flow.submit_login(forged))


async def test_token_from_another_browser_signs_nobody_in(
    flow: FlowHelper, services: Services
) -> None:
    """A token the attacker read in their own browser (with its own pre-session value) does not
    pass in the victim's browser."""
    app = await flow.web()
    await flow.user()
    form = await flow.open_form((await flow.start(app)).response)
    transport = httpx.ASGITransport(app=create_web_app(services))
    async with httpx.AsyncClient(transport=transport, base_url=flow.issuer) as other:
        attacker = FlowHelper(other, services)
        theirs = await attacker.open_form((await attacker.start(app)).response)
        assert theirs.csrf_token != form.csrf_token
    _refused(flow, await flow.submit_login(Form(form.response, form.txn, theirs.csrf_token)))


async def test_the_token_is_bound_to_the_session_once_signed_in(flow: FlowHelper) -> None:
    """Once the browser has a session, a form's token is the session's: the token minted for
    the pre-session value no longer passes, the new one does."""
    app = await flow.web()
    await flow.user()
    before = await flow.open_form((await flow.start(app)).response)
    assert 303 == (await flow.submit_login(before)).status_code
    assert flow.session_cookie() is not None
    again = await flow.open_form((await flow.start(app, extra={"prompt": "login"})).response)
    assert before.csrf_token != again.csrf_token
    stale = await flow.submit_login(Form(again.response, again.txn, before.csrf_token))
    assert 403 == stale.status_code, stale.text
    accepted = await flow.submit_login(again)
    assert 303 == accepted.status_code, accepted.text


async def test_every_form_of_a_browser_shares_one_token(flow: FlowHelper) -> None:
    """Two login pages open in two tabs of one browser carry the same token, so the older tab's
    form still works (nothing typed there is lost)."""
    app = await flow.web()
    await flow.user()
    first = await flow.open_form((await flow.start(app)).response)
    second = await flow.open_form((await flow.start(app)).response)
    assert first.csrf_token == second.csrf_token
    authorization = await flow.submit_login(first, EMAIL, PASSWORD)
    assert 303 == authorization.status_code, authorization.text


async def test_a_form_outlives_the_end_of_its_session(flow: FlowHelper) -> None:
    """A re-authentication form opened while signed in still signs in after that session was
    ended elsewhere (revoked, or expired) mid-form: the token is bound to the browser's session
    cookie, not to the session being alive, so nothing typed is lost."""
    app = await flow.web()
    await flow.user()
    assert 303 == (await flow.login(app)).response.status_code
    form = await flow.open_form((await flow.start(app, extra={"prompt": "login"})).response)
    (session,) = await flow.services.sessions.all()
    await flow.services.logout.revoke_session(session.id)
    response = await flow.submit_login(form)
    assert 303 == response.status_code, response.text
    assert 2 == len(await flow.services.sessions.all())
