"""The hosted login page: passwords, CSRF, expired and bookmarked pages, re-authentication
(prompt=login, max_age) on the same session."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import re

import httpx
from flow_helpers import EMAIL, PASSWORD, AdvancingClock, FlowHelper, Form

from ostiary.web.cookies import cookie_names

SESSION_COOKIE = cookie_names(production=False).session


def _assert_no_session(flow: FlowHelper, response: httpx.Response) -> None:
    assert SESSION_COOKIE not in response.cookies
    assert flow.session_cookie() is None


async def test_wrong_password_shows_401_page_without_code_or_session(flow: FlowHelper) -> None:
    """A wrong password gives the login page again with 401, no redirect and no session cookie."""
    app = await flow.web()
    await flow.user()
    form = await flow.open_form((await flow.start(app)).response)
    response = await flow.submit_login(form, EMAIL, "not the password")
    assert 401 == response.status_code
    assert "location" not in response.headers
    assert "The email or password is not right." in response.text
    _assert_no_session(flow, response)


async def test_unknown_email_shows_the_same_401_message(flow: FlowHelper) -> None:
    """An unknown email gives the same 401 and message as a wrong password."""
    app = await flow.web()
    await flow.user()
    form = await flow.open_form((await flow.start(app)).response)
    response = await flow.submit_login(form, "nobody@example.com", PASSWORD)
    assert 401 == response.status_code
    assert "The email or password is not right." in response.text
    _assert_no_session(flow, response)


async def test_login_sets_an_httponly_lax_session_cookie(flow: FlowHelper) -> None:
    """The successful login sets ostiary_session HttpOnly and SameSite=Lax."""
    app = await flow.web()
    await flow.user()
    authorization = await flow.login(app)
    cookie = authorization.response.headers["set-cookie"].lower()
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert ("httponly" in cookie, "samesite=lax" in cookie) == (True, True)


async def test_login_hint_prefills_the_email(flow: FlowHelper) -> None:
    """login_hint appears as the value of the email field."""
    app = await flow.web()
    form = await flow.open_form((await flow.start(app, extra={"login_hint": EMAIL})).response)
    assert f'value="{EMAIL}"' in form.response.text


async def test_expired_transaction_goes_to_initiate_login_uri(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """A login form posted after 31 min redirects to the app's initiate-login URI."""
    app = await flow.web(initiate_login_uri="https://web.example.com/login")
    await flow.user()
    form = await flow.open_form((await flow.start(app)).response)
    clock.advance(31 * 60)
    response = await flow.submit_login(form)
    assert (303, "https://web.example.com/login") == (
        response.status_code,
        response.headers["location"],
    )
    _assert_no_session(flow, response)


async def test_expired_transaction_without_initiate_login_uri_explains(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """Without initiate-login URI, an expired login form is a 400 page saying go back."""
    app = await flow.web("Payroll")
    await flow.user()
    form = await flow.open_form((await flow.start(app)).response)
    clock.advance(31 * 60)
    response = await flow.submit_login(form)
    assert 400 == response.status_code
    assert "text/html" == response.headers["content-type"].split(";")[0]
    assert "Go back to Payroll" in response.text
    _assert_no_session(flow, response)


async def test_transaction_still_valid_at_29_minutes(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """A login form posted 29 min after it was opened still signs in."""
    app = await flow.web()
    await flow.user()
    attempt = await flow.start(app)
    form = await flow.open_form(attempt.response)
    clock.advance(29 * 60)
    authorization = flow.back_at_app(attempt, await flow.submit_login(form))
    assert 200 == (await flow.exchange(authorization)).status_code


async def test_bookmarked_login_page_without_txn_explains(flow: FlowHelper) -> None:
    """/ui/login without a txn gives a readable 400 page that says to start from the app."""
    response = await flow.client.get("/ui/login")
    assert 400 == response.status_code
    assert "text/html" == response.headers["content-type"].split(";")[0]
    assert "Start again from the app" in response.text
    assert "<form" not in response.text


async def test_bookmarked_login_page_with_unknown_txn_explains(flow: FlowHelper) -> None:
    """/ui/login?txn=<unknown> gives the same readable 400 page."""
    response = await flow.client.get("/ui/login?txn=txn_doesnotexist")
    assert 400 == response.status_code
    assert "Start again from the app" in response.text


async def test_bookmarked_login_page_naming_the_app_goes_to_initiate_login(
    flow: FlowHelper,
) -> None:
    """/ui/login?client_id=… of an app with an initiate-login URI redirects there (303)."""
    app = await flow.spa(initiate_login_uri="http://localhost:5173/login")
    response = await flow.client.get(f"/ui/login?client_id={app.client_id}")
    assert (303, "http://localhost:5173/login") == (
        response.status_code,
        response.headers["location"],
    )


async def test_login_post_without_csrf_token_is_403(flow: FlowHelper) -> None:
    """A login POST without csrf_token gets a 403 page and no session."""
    app = await flow.web()
    await flow.user()
    form = await flow.open_form((await flow.start(app)).response)
    response = await flow.client.post(
        "/ui/login", data={"txn": form.txn, "email": EMAIL, "password": PASSWORD}
    )
    assert 403 == response.status_code
    assert "location" not in response.headers
    _assert_no_session(flow, response)


async def test_login_post_with_wrong_csrf_token_is_403(flow: FlowHelper) -> None:
    """A login POST with a csrf_token other than the browser's gets a 403 page, no session."""
    app = await flow.web()
    await flow.user()
    form = await flow.open_form((await flow.start(app)).response)
    forged = Form(form.response, form.txn, "x" * 43)
    response = await flow.submit_login(forged)
    assert 403 == response.status_code
    assert "Please try again" in response.text
    _assert_no_session(flow, response)


async def test_login_post_from_a_browser_without_csrf_cookie_is_403(flow: FlowHelper) -> None:
    """A cross-site POST (the right-looking token, but no CSRF cookie) gets 403, no session."""
    app = await flow.web()
    await flow.user()
    form = await flow.open_form((await flow.start(app)).response)
    flow.client.cookies.clear()
    response = await flow.submit_login(form)
    assert 403 == response.status_code
    _assert_no_session(flow, response)


async def test_max_age_exceeded_asks_for_the_password_again(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """max_age=60 two minutes after the login sends the browser to /ui/login again."""
    app = await flow.web()
    await flow.user()
    await flow.login(app)
    clock.advance(120)
    attempt = await flow.start(app, extra={"max_age": "60"})
    assert 303 == attempt.response.status_code
    assert "/ui/login" == attempt.response.headers["location"].split("?", 1)[0]


async def test_max_age_relogin_keeps_sid_and_renews_auth_time(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """Re-entering the password for max_age keeps the sid and renews auth_time."""
    app = await flow.web()
    await flow.user()
    first = await flow.tokens(await flow.login(app))
    _, before = await flow.verify(first.id_token)
    clock.advance(120)
    attempt = await flow.start(app, extra={"max_age": "60"})
    form = await flow.open_form(attempt.response)
    second = await flow.tokens(flow.back_at_app(attempt, await flow.submit_login(form)))
    _, after = await flow.verify(second.id_token)
    assert before["sid"] == after["sid"]
    assert before["auth_time"] + 120 == after["auth_time"]


async def test_max_age_not_exceeded_returns_a_code(flow: FlowHelper, clock: AdvancingClock) -> None:
    """max_age=600 two minutes after the login gives a code straight away."""
    app = await flow.web()
    await flow.user()
    await flow.login(app)
    clock.advance(120)
    authorization = await flow.sso(app, extra={"max_age": "600"})
    assert {"code", "state", "iss"} == set(authorization.params)


async def test_prompt_login_shows_the_email_read_only(flow: FlowHelper) -> None:
    """prompt=login with a live session shows the login page with the email read-only."""
    app = await flow.web()
    await flow.user()
    await flow.login(app)
    attempt = await flow.start(app, extra={"prompt": "login"})
    form = await flow.open_form(attempt.response)
    email_input = re.search(r'<input name="email"[^>]*>', form.response.text)
    assert email_input is not None
    assert f'value="{EMAIL}"' in email_input.group(0)
    assert " readonly" in email_input.group(0)


async def test_prompt_login_keeps_the_session_id(flow: FlowHelper, clock: AdvancingClock) -> None:
    """prompt=login and the password keep sid and cookie and renew auth_time."""
    app = await flow.web()
    await flow.user()
    first = await flow.tokens(await flow.login(app))
    cookie = flow.session_cookie()
    clock.advance(30)
    attempt = await flow.start(app, extra={"prompt": "login"})
    form = await flow.open_form(attempt.response)
    response = await flow.submit_login(form)
    second = await flow.tokens(flow.back_at_app(attempt, response))
    _, before = await flow.verify(first.id_token)
    _, after = await flow.verify(second.id_token)
    assert before["sid"] == after["sid"]
    assert before["auth_time"] + 30 == after["auth_time"]
    assert cookie == flow.session_cookie()


async def test_prompt_login_with_wrong_password_keeps_the_old_login(flow: FlowHelper) -> None:
    """A wrong password on the prompt=login page is 401 and issues no code."""
    app = await flow.web()
    await flow.user()
    await flow.login(app)
    form = await flow.open_form((await flow.start(app, extra={"prompt": "login"})).response)
    response = await flow.submit_login(form, EMAIL, "wrong password")
    assert (401, None) == (response.status_code, response.headers.get("location"))


async def test_transaction_is_single_use(flow: FlowHelper) -> None:
    """Posting the same login form twice: the second post does not give a second code."""
    app = await flow.web()
    await flow.user()
    attempt = await flow.start(app)
    form = await flow.open_form(attempt.response)
    flow.back_at_app(attempt, await flow.submit_login(form))
    again = await flow.submit_login(form)
    assert (400, None) == (again.status_code, again.headers.get("location"))
    assert "You are already signed in as ada@example.com." in again.text
