"""OSTIARY_REQUIRE_EMAIL_VERIFICATION=true through the in-process client: sign-up asks the user to
check their email, a password sign-in of an unverified user stops (no session, no code) until
the emailed link is opened, and then works with email_verified true in the ID token."""

from __future__ import annotations

import pytest
from email_helpers import EmailDriver, MakeDriver
from flow_helpers import EMAIL, PASSWORD, query_of


def _title(html: str) -> str:
    start = html.index("<h1>") + len("<h1>")
    return html[start : html.index("</h1>", start)].strip()


@pytest.fixture
async def strict(make_driver: MakeDriver) -> EmailDriver:
    return await make_driver(REQUIRE_EMAIL_VERIFICATION="true")


async def test_signup_shows_check_your_email_and_starts_no_session(strict: EmailDriver) -> None:
    """Sign-up answers "Check your email" (200, no redirect, no session) and emails a link."""
    app = await strict.web()
    _, form = await strict.login_form(app)
    signup = await strict.open_form(f"/ui/signup?txn={form.txn}")
    response = await strict.client.post(
        "/ui/signup",
        data={
            "txn": signup.txn,
            "csrf_token": signup.csrf_token,
            "email": "new@example.com",
            "name": "New Person",
            "password": PASSWORD,
        },
    )
    assert (200, None) == (response.status_code, response.headers.get("location"))
    assert "Check your email" == _title(response.text)
    assert None is strict.session_cookie()
    assert ["verify_email"] == [m.kind for m in await strict.outbox("new@example.com")]
    user = await strict.services.users.get("new@example.com")
    assert False is user.email_verified


async def test_unverified_user_must_open_the_link_before_password_sign_in(
    strict: EmailDriver,
) -> None:
    """ "Verify your email first" (403, no session, no code); after the link, sign-in works."""
    app = await strict.web()
    await strict.user()  # created unverified
    attempt, form = await strict.login_form(app)
    stopped = await strict.submit_login(form, EMAIL, PASSWORD)
    assert (403, None) == (stopped.status_code, stopped.headers.get("location"))
    assert "Verify your email first" == _title(stopped.text)
    assert None is strict.session_cookie()

    link = await strict.latest_link(EMAIL, "verify_email", "/ui/email/verify")
    opened = await strict.client.get(link)
    assert 303 == opened.status_code, opened.text
    assert {"txn": form.txn, "notice": "email_verified"} == query_of(opened.headers["location"])
    login_page = await strict.client.get(opened.headers["location"])
    assert "Your email address is verified. Sign in to continue." in login_page.text

    authorization = strict.back_at_app(attempt, await strict.submit_login(form, EMAIL, PASSWORD))
    _, claims = await strict.verify((await strict.tokens(authorization)).id_token)
    assert (True, ["pwd"]) == (claims["email_verified"], claims["amr"])
    reused = await strict.client.get(link)
    assert ("This link was already used", 400) == (_title(reused.text), reused.status_code)


async def test_repeated_sign_ins_of_an_unverified_user_send_at_most_five_emails(
    strict: EmailDriver,
) -> None:
    """Seven password sign-ins in a row: still at most 5 verification emails in 15 minutes."""
    app = await strict.web()
    await strict.user()
    statuses = []
    for _ in range(7):
        _, form = await strict.login_form(app)
        statuses.append((await strict.submit_login(form, EMAIL, PASSWORD)).status_code)
    assert [403] * 7 == statuses
    sent = [m for m in await strict.outbox(EMAIL) if m.kind == "verify_email"]
    assert 5 == len(sent)
