"""Password reset through the in-process client: the forgot-password answer reveals nothing, the
emailed link is single use and lives 30 minutes, and a too-short password keeps it usable."""

from __future__ import annotations

from email_helpers import EmailDriver, hidden
from flow_helpers import EMAIL, PASSWORD, AdvancingClock, query_of

NEW_PASSWORD = "a brand new passphrase"


def _title(html: str) -> str:
    start = html.index("<h1>") + len("<h1>")
    return html[start : html.index("</h1>", start)].strip()


async def _reset_link(driver: EmailDriver, txn: str = "") -> str:
    response = await driver.forgot(EMAIL, txn=txn)
    assert 200 == response.status_code, response.text
    return await driver.latest_link(EMAIL, "password_reset", "/ui/password/reset")


async def test_forgot_password_answers_the_same_for_known_and_unknown_emails(
    driver: EmailDriver,
) -> None:
    """Same status and page (apart from the typed email); only the known email gets a message."""
    await driver.user()
    known = await driver.forgot(EMAIL)
    unknown = await driver.forgot("nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(EMAIL, "<email>") == unknown.text.replace(
        "nobody@example.com", "<email>"
    )
    assert "Check your email" == _title(known.text)
    assert [] == await driver.outbox("nobody@example.com")
    assert ["password_reset"] == [m.kind for m in await driver.outbox(EMAIL)]


async def test_reset_link_sets_the_new_password_and_works_only_once(driver: EmailDriver) -> None:
    """The link changes the password (old one refused, new one works); reopening it is refused."""
    app = await driver.web()
    await driver.user()
    attempt, form = await driver.login_form(app)
    link = await _reset_link(driver, txn=form.txn)
    done = await driver.submit_reset(link, NEW_PASSWORD)
    assert 303 == done.status_code, done.text
    assert {"txn": form.txn, "notice": "password_changed"} == query_of(done.headers["location"])
    notice = await driver.client.get(done.headers["location"])
    assert "Your password was changed. Sign in with the new one." in notice.text

    reopened = await driver.client.get(link)
    assert ("This link was already used", 400) == (_title(reopened.text), reopened.status_code)
    assert 401 == (await driver.submit_login(form, EMAIL, PASSWORD)).status_code
    authorization = driver.back_at_app(
        attempt, await driver.submit_login(form, EMAIL, NEW_PASSWORD)
    )
    assert "code" in authorization.params


async def test_reset_link_posted_twice_is_refused_the_second_time(driver: EmailDriver) -> None:
    """A second POST with the same token (e.g. a form kept open) does not change the password."""
    await driver.user()
    link = await _reset_link(driver)
    page = await driver.client.get(link)
    form = {"token": hidden(page.text, "token"), "csrf_token": hidden(page.text, "csrf_token")}
    first = await driver.client.post("/ui/password/reset", data={**form, "password": NEW_PASSWORD})
    second = await driver.client.post(
        "/ui/password/reset", data={**form, "password": "yet another passphrase"}
    )
    assert 200 == first.status_code, first.text  # no login page behind it: "All set"
    assert ("This link was already used", 400) == (_title(second.text), second.status_code)
    user = await driver.services.login.sign_in(EMAIL, NEW_PASSWORD, None)
    assert EMAIL == user.email


async def test_reset_link_expires_after_30_minutes(
    driver: EmailDriver, clock: AdvancingClock
) -> None:
    """The link opens at 29:59 and gives an "expired" page at 30:01 (FakeClock)."""
    await driver.user()
    link = await _reset_link(driver)
    clock.advance(30 * 60 - 1)
    assert 200 == (await driver.client.get(link)).status_code
    clock.advance(2)
    expired = await driver.client.get(link)
    assert ("This link or code has expired", 400) == (_title(expired.text), expired.status_code)
    assert "/ui/password/forgot" in expired.text  # a way to ask for a new one


async def test_too_short_password_shows_the_rule_and_keeps_the_link(driver: EmailDriver) -> None:
    """A 5-character password is refused with the length rule; the same link then works."""
    await driver.user()
    link = await _reset_link(driver)
    short = await driver.submit_reset(link, "short")
    assert 400 == short.status_code
    assert "The password is too short: use at least 8 characters." in short.text
    assert "Choose a new password" == _title(short.text)
    done = await driver.submit_reset(link, NEW_PASSWORD)
    assert (200, "All set") == (done.status_code, _title(done.text))
    assert EMAIL == (await driver.services.login.sign_in(EMAIL, NEW_PASSWORD, None)).email


async def test_reset_ends_every_session_and_refresh_token(driver: EmailDriver) -> None:
    """Sessions signed in before the reset end: their refresh token fails, SSO asks to log in."""
    app = await driver.web()
    await driver.user()
    tokens = await driver.tokens(await driver.login(app))
    link = await _reset_link(driver)
    assert 200 == (await driver.submit_reset(link, NEW_PASSWORD)).status_code
    refreshed = await driver.refresh(app, tokens.refresh_token)
    assert (400, "invalid_grant") == (refreshed.status_code, refreshed.json()["error"])
    again = await driver.start(app)
    assert 303 == again.response.status_code
    assert again.response.headers["location"].startswith("/ui/login?")
