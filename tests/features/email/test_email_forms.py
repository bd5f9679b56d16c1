"""Every email form needs its CSRF token (nothing is sent, used or changed without it), and
OSTIARY_LOGIN_METHODS=email_code leaves only the emailed code on the login page."""

from __future__ import annotations

import httpx
import pytest
from email_helpers import EmailDriver, MakeDriver
from flow_helpers import EMAIL, PASSWORD

from ostiary.web.cookies import cookie_names

NEW_PASSWORD = "a brand new passphrase"
# A well-formed token that is not this browser's (43 characters, like a real one).
FOREIGN = "x" * 43
BAD_TOKENS = [pytest.param("", id="missing"), pytest.param(FOREIGN, id="foreign")]


def _refused(response: httpx.Response) -> None:
    """The "Please try again" page of a form sent without its CSRF token."""
    wrong = "CSRF token missing or wrong" in response.text
    assert (403, True) == (response.status_code, wrong), response.text


@pytest.mark.parametrize("token", BAD_TOKENS)
async def test_asking_for_a_sign_in_email_needs_the_csrf_token(
    driver: EmailDriver, token: str
) -> None:
    """POST /ui/login method=email without the right token: 403 and no email."""
    app = await driver.web()
    await driver.user()
    _, form = await driver.login_form(app)
    _refused(await driver.ask_for_email(form, EMAIL, csrf_token=token))
    assert [] == await driver.outbox(EMAIL)


@pytest.mark.parametrize("token", BAD_TOKENS)
async def test_typing_the_code_needs_the_csrf_token(driver: EmailDriver, token: str) -> None:
    """POST /ui/login/code without the right token: 403; the code is neither used nor counted."""
    app = await driver.web()
    await driver.user()
    attempt, form = await driver.login_form(app)
    code_form = await driver.request_code(form, EMAIL)
    code = await driver.latest_code(EMAIL)
    for _ in range(5):  # would lock the code if these counted as wrong tries
        _refused(await driver.submit_code(code_form, "000000", csrf_token=token))
    _refused(await driver.submit_code(code_form, code, csrf_token=token))
    assert None is driver.session_cookie()
    accepted = await driver.submit_code(code_form, code)
    assert "code" in driver.back_at_app(attempt, accepted).params


@pytest.mark.parametrize("token", BAD_TOKENS)
async def test_forgot_password_form_needs_the_csrf_token(driver: EmailDriver, token: str) -> None:
    """POST /ui/password/forgot without the right token: 403 and no email."""
    await driver.user()
    await driver.client.get("/ui/password/forgot")  # the browser has its CSRF cookie
    response = await driver.client.post(
        "/ui/password/forgot", data={"txn": "", "csrf_token": token, "email": EMAIL}
    )
    _refused(response)
    assert [] == await driver.outbox(EMAIL)


@pytest.mark.parametrize("token", BAD_TOKENS)
async def test_reset_password_form_needs_the_csrf_token(driver: EmailDriver, token: str) -> None:
    """POST /ui/password/reset without the right token: 403, password kept, link still good."""
    await driver.user()
    assert 200 == (await driver.forgot(EMAIL)).status_code
    link = await driver.latest_link(EMAIL, "password_reset", "/ui/password/reset")
    _refused(await driver.submit_reset(link, NEW_PASSWORD, csrf_token=token))
    assert EMAIL == (await driver.services.login.sign_in(EMAIL, PASSWORD, None)).email
    assert 200 == (await driver.submit_reset(link, NEW_PASSWORD)).status_code


@pytest.mark.parametrize("token", BAD_TOKENS)
async def test_signup_form_needs_the_csrf_token(driver: EmailDriver, token: str) -> None:
    """POST /ui/signup without the right token: 403, no account, no verification email."""
    app = await driver.web()
    _, form = await driver.login_form(app)
    response = await driver.client.post(
        "/ui/signup",
        data={
            "txn": form.txn,
            "csrf_token": token,
            "email": "new@example.com",
            "password": PASSWORD,
        },
    )
    _refused(response)
    assert [] == await driver.outbox("new@example.com")


async def test_email_code_only_hides_the_password_and_refuses_a_password_post(
    make_driver: MakeDriver,
) -> None:
    """OSTIARY_LOGIN_METHODS=email_code: no password field; a password POST gets 400, no session."""
    driver = await make_driver(LOGIN_METHODS="email_code")
    app = await driver.web()
    await driver.user()
    _, form = await driver.login_form(app)
    page = form.response.text
    assert (False, False) == ('name="password"' in page, "Forgot password?" in page)
    assert ">Email me a sign-in code</button>" in page.replace("\n", "")
    refused = await driver.submit_login(form, EMAIL, PASSWORD)
    assert (400, None) == (refused.status_code, refused.headers.get("location"))
    assert "Sign-in with a password is turned off here: use the email option." in refused.text
    assert None is driver.session_cookie()
    await driver.request_code(form, EMAIL)
    text = (await driver.latest(EMAIL, "sign_in")).text_body or ""
    assert (True, False) == ("Your sign-in code:" in text, "/ui/login/link" in text)


# -- the sibling-subdomain attack: a planted cookie and a matching field ---------------------------

CHOSEN = "a" * 43  # the attacker's value: well-formed, like a real one


def _plant(driver: EmailDriver) -> None:
    """Set this browser's CSRF cookie to the attacker's value (as a sibling subdomain can)."""
    name = cookie_names(production=False).browser
    driver.client.cookies.set(name, CHOSEN, domain="127.0.0.1", path="/")


async def test_forgot_password_refuses_a_planted_cookie_and_field(driver: EmailDriver) -> None:
    """POST /ui/password/forgot with a planted CSRF cookie and the same value as the token:
    403 and no email."""
    await driver.user()
    await driver.client.get("/ui/password/forgot")
    _plant(driver)
    response = await driver.client.post(
        "/ui/password/forgot", data={"txn": "", "csrf_token": CHOSEN, "email": EMAIL}
    )
    _refused(response)
    assert [] == await driver.outbox(EMAIL)


async def test_code_form_refuses_a_planted_cookie_and_field(driver: EmailDriver) -> None:
    """POST /ui/login/code with a planted CSRF cookie and the same value as the token: 403, no
    session."""
    app = await driver.web()
    await driver.user()
    _, form = await driver.login_form(app)
    code_form = await driver.request_code(form, EMAIL)
    code = await driver.latest_code(EMAIL)
    _plant(driver)
    _refused(await driver.submit_code(code_form, code, csrf_token=CHOSEN))
    assert None is driver.session_cookie()


async def test_reset_form_refuses_a_planted_cookie_and_field(driver: EmailDriver) -> None:
    """POST /ui/password/reset with a planted CSRF cookie and the same value as the token:
    403 and the password is kept."""
    await driver.user()
    assert 200 == (await driver.forgot(EMAIL)).status_code
    link = await driver.latest_link(EMAIL, "password_reset", "/ui/password/reset")
    _plant(driver)
    _refused(await driver.submit_reset(link, NEW_PASSWORD, csrf_token=CHOSEN))
    assert EMAIL == (await driver.services.login.sign_in(EMAIL, PASSWORD, None)).email
