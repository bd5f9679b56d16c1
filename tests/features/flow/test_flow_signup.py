"""Sign-up on the hosted pages: the form, creating the user and finishing the authorization,
field errors, duplicates, and sign-up turned off."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import httpx
from flow_helpers import EMAIL, PASSWORD, Attempt, FlowHelper, Form

NEW_EMAIL = "grace@example.com"


async def _signup_form(flow: FlowHelper) -> tuple[Attempt, Form]:
    """Start an authorization and open the sign-up page of its transaction."""
    app = await flow.web()
    attempt = await flow.start(app)
    login = await flow.open_form(attempt.response)
    return attempt, await flow.open_form(f"/ui/signup?txn={login.txn}")


async def _submit(
    flow: FlowHelper, form: Form, email: str, password: str, name: str = "Grace Hopper"
) -> httpx.Response:
    return await flow.client.post(
        "/ui/signup",
        data={
            "txn": form.txn,
            "csrf_token": form.csrf_token,
            "name": name,
            "email": email,
            "password": password,
        },
    )


async def test_signup_page_shows_the_form(flow: FlowHelper) -> None:
    """GET /ui/signup?txn=… shows a form with email, password and the transaction."""
    _, form = await _signup_form(flow)
    html = form.response.text
    assert "Create your account" in html
    assert ('name="email"' in html, 'name="password"' in html) == (True, True)
    assert form.txn.startswith("txn_")


async def test_login_page_links_to_signup(flow: FlowHelper) -> None:
    """The login page links to the sign-up page of the same transaction."""
    app = await flow.web()
    form = await flow.open_form((await flow.start(app)).response)
    assert f'href="/ui/signup?txn={form.txn}"' in form.response.text


async def test_signup_creates_the_user_and_finishes_with_a_code(flow: FlowHelper) -> None:
    """Sign-up creates the user and redirects with a code whose ID token names them."""
    attempt, form = await _signup_form(flow)
    response = await _submit(flow, form, NEW_EMAIL, PASSWORD)
    authorization = flow.back_at_app(attempt, response)
    tokens = await flow.tokens(authorization)
    _, claims = await flow.verify(tokens.id_token)
    user = await flow.services.users.get(NEW_EMAIL)
    assert (user.id, NEW_EMAIL, "Grace Hopper") == (claims["sub"], claims["email"], claims["name"])
    assert flow.session_cookie() is not None


async def test_new_user_can_sign_in_with_the_chosen_password(flow: FlowHelper) -> None:
    """The password chosen at sign-up works on the login page later."""
    attempt, form = await _signup_form(flow)
    await _submit(flow, form, NEW_EMAIL, PASSWORD)
    flow.client.cookies.clear()
    tokens = await flow.tokens(await flow.login(attempt.app, NEW_EMAIL, PASSWORD))
    _, claims = await flow.verify(tokens.id_token)
    assert (await flow.services.users.get(NEW_EMAIL)).id == claims["sub"]


async def test_too_short_password_is_a_field_error(flow: FlowHelper) -> None:
    """A 5-character password gives 400 with the password field error; no user is created."""
    _, form = await _signup_form(flow)
    response = await _submit(flow, form, NEW_EMAIL, "short")
    assert 400 == response.status_code
    assert 'id="password-error"' in response.text
    assert "The password is too short: use at least 8 characters." in response.text
    assert [] == [u for u in await flow.services.users.all() if u.email == NEW_EMAIL]


async def _kinds_sent_to(flow: FlowHelper, to: str) -> list[str]:
    return [m.kind for m in await flow.services.email.recent(100, to)]


async def test_duplicate_email_answers_like_a_new_account_and_emails_the_owner(
    flow: FlowHelper,
) -> None:
    """Signing up with an email that has an account does not say so: the page is "Check your
    email" (200, no redirect, no session) and the owner gets an email with a reset link."""
    user = await flow.user()
    _, form = await _signup_form(flow)
    response = await _submit(flow, form, EMAIL, "another password 123")
    assert 200 == response.status_code
    assert "Check your email" in response.text
    assert "already exists" not in response.text
    assert "location" not in response.headers
    assert ["account_exists"] == await _kinds_sent_to(flow, EMAIL)
    [message] = await flow.services.email.recent(1, EMAIL)
    assert "/ui/password/reset?token=" in (message.text_body or "")
    assert [user.id] == [u.id for u in await flow.services.users.all() if u.email == EMAIL]


async def test_duplicate_email_differing_in_case_is_the_same_account(flow: FlowHelper) -> None:
    """Emails are case-insensitive: ADA@EXAMPLE.COM is the same account as ada@example.com, so
    its owner is told and nothing is created."""
    await flow.user()
    _, form = await _signup_form(flow)
    response = await _submit(flow, form, EMAIL.upper(), PASSWORD)
    assert 200 == response.status_code
    assert ["account_exists"] == await _kinds_sent_to(flow, EMAIL)
    same = [u for u in await flow.services.users.all() if u.email.lower() == EMAIL.lower()]
    assert 1 == len(same)


async def test_signup_post_without_csrf_token_is_403(flow: FlowHelper) -> None:
    """A sign-up POST with a wrong csrf_token gets 403 and creates no user."""
    _, form = await _signup_form(flow)
    response = await _submit(flow, Form(form.response, form.txn, "y" * 43), NEW_EMAIL, PASSWORD)
    assert 403 == response.status_code
    assert [] == [u for u in await flow.services.users.all() if u.email == NEW_EMAIL]


async def test_prompt_create_lands_on_the_signup_page(flow: FlowHelper) -> None:
    """prompt=create sends the browser to /ui/signup?txn=…"""
    app = await flow.web()
    attempt = await flow.start(app, extra={"prompt": "create"})
    location = attempt.response.headers["location"]
    assert 303 == attempt.response.status_code
    assert "/ui/signup" == location.split("?", 1)[0]
    form = await flow.open_form(attempt.response)
    assert "Create your account" in form.response.text


async def test_signup_disabled_is_a_403_page(flow_without_signup: FlowHelper) -> None:
    """With OSTIARY_SIGNUP_ENABLED=false, /ui/signup?txn=… is a 403 page."""
    flow = flow_without_signup
    app = await flow.web()
    login = await flow.open_form((await flow.start(app)).response)
    response = await flow.client.get(f"/ui/signup?txn={login.txn}")
    assert 403 == response.status_code
    assert "Sign-up is turned off" in response.text


async def test_signup_disabled_refuses_the_post(flow_without_signup: FlowHelper) -> None:
    """With sign-up off, a POST to /ui/signup creates no user."""
    flow = flow_without_signup
    app = await flow.web()
    login = await flow.open_form((await flow.start(app)).response)
    response = await _submit(flow, login, NEW_EMAIL, PASSWORD)
    assert 403 == response.status_code
    assert [] == [u for u in await flow.services.users.all() if u.email == NEW_EMAIL]


async def test_signup_disabled_hides_the_link(flow_without_signup: FlowHelper) -> None:
    """With sign-up off, the login page has no sign-up link."""
    flow = flow_without_signup
    app = await flow.web()
    login = await flow.open_form((await flow.start(app)).response)
    assert "/ui/signup" not in login.response.text
    assert "Sign up" not in login.response.text
