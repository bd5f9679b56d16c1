"""Passwordless sign-in through the in-process client: codes and links expire on the FakeClock,
a newer code replaces the older one (OSTIARY_NEW_CODE_INVALIDATES_OLD), a first sign-in of an
unknown email creates a verified account only when sign-up is allowed, and asking for codes is
limited to 5 per email in 15 minutes."""

from __future__ import annotations

import asyncio
import re

import pytest
from email_helpers import EmailDriver, MakeDriver, code_in
from flow_helpers import AdvancingClock

from ostiary.services.email_flows import ChallengeFailed
from ostiary.services.errors import NotFound

EMAIL = "ada@example.com"


def _title(html: str) -> str:
    start = html.index("<h1>") + len("<h1>")
    return html[start : html.index("</h1>", start)].strip()


async def test_code_sign_in_returns_to_the_app_with_amr_otp(driver: EmailDriver) -> None:
    """The emailed code signs a registered user in; the ID token says amr ["otp"]."""
    app = await driver.web()
    await driver.user()
    attempt, form = await driver.login_form(app)
    code_form = await driver.request_code(form, EMAIL)
    response = await driver.submit_code(code_form, await driver.latest_code(EMAIL))
    tokens = await driver.tokens(driver.back_at_app(attempt, response))
    _, claims = await driver.verify(tokens.id_token)
    assert (["otp"], EMAIL) == (claims["amr"], claims["email"])


async def test_expired_code_is_refused_with_a_readable_page(
    driver: EmailDriver, clock: AdvancingClock
) -> None:
    """After OSTIARY_EMAIL_CODE_TTL (300 s) the right code gives an "expired" page, no code."""
    app = await driver.web()
    await driver.user()
    _, form = await driver.login_form(app)
    code_form = await driver.request_code(form, EMAIL)
    code = await driver.latest_code(EMAIL)
    clock.advance(301)
    response = await driver.submit_code(code_form, code)
    assert 400 == response.status_code
    assert None is response.headers.get("location")
    assert "This link or code has expired" == _title(response.text)
    assert "Ask for a new one." in response.text


async def test_code_still_works_just_before_it_expires(
    driver: EmailDriver, clock: AdvancingClock
) -> None:
    """At 299 s of a 300 s lifetime the code is still accepted (the boundary above is real)."""
    app = await driver.web()
    await driver.user()
    attempt, form = await driver.login_form(app)
    code_form = await driver.request_code(form, EMAIL)
    clock.advance(299)
    response = await driver.submit_code(code_form, await driver.latest_code(EMAIL))
    assert "code" in driver.back_at_app(attempt, response).params


async def test_expired_magic_link_is_refused_with_a_readable_page(
    driver: EmailDriver, clock: AdvancingClock
) -> None:
    """A magic link opened after the code lifetime gives an "expired" page and no session."""
    app = await driver.web()
    await driver.user()
    _, form = await driver.login_form(app)
    await driver.request_code(form, EMAIL)
    link = await driver.latest_link(EMAIL, "sign_in", "/ui/login/link")
    clock.advance(301)
    response = await driver.client.get(link)
    assert (400, None) == (response.status_code, response.headers.get("location"))
    assert "This link or code has expired" == _title(response.text)
    assert None is driver.session_cookie()


async def test_new_code_makes_the_older_code_fail(driver: EmailDriver) -> None:
    """With OSTIARY_NEW_CODE_INVALIDATES_OLD=true (default) the first code stops working."""
    app = await driver.web()
    await driver.user()
    attempt, form = await driver.login_form(app)
    first = await driver.request_code(form, EMAIL)
    first_code = await driver.latest_code(EMAIL)
    again = await driver.open_form(f"/ui/login?txn={form.txn}")
    second = await driver.request_code(again, EMAIL)
    second_code = await driver.latest_code(EMAIL)
    refused = await driver.submit_code(first, first_code)
    assert 400 == refused.status_code
    assert "replaced by a newer one" in refused.text
    accepted = await driver.submit_code(second, second_code)
    assert "code" in driver.back_at_app(attempt, accepted).params


async def test_older_code_keeps_working_when_invalidation_is_off(make_driver: MakeDriver) -> None:
    """With OSTIARY_NEW_CODE_INVALIDATES_OLD=false a second request leaves the first code valid."""
    driver = await make_driver(NEW_CODE_INVALIDATES_OLD="false")
    app = await driver.web()
    await driver.user()
    attempt, form = await driver.login_form(app)
    first = await driver.request_code(form, EMAIL)
    first_code = await driver.latest_code(EMAIL)
    await driver.request_code(await driver.open_form(f"/ui/login?txn={form.txn}"), EMAIL)
    accepted = await driver.submit_code(first, first_code)
    assert "code" in driver.back_at_app(attempt, accepted).params


async def test_first_passwordless_sign_in_creates_a_verified_account(driver: EmailDriver) -> None:
    """An unknown email that opens its magic link gets an account with email_verified true."""
    app = await driver.web()
    attempt, form = await driver.login_form(app)
    await driver.request_code(form, "newcomer@example.com")
    link = await driver.latest_link("newcomer@example.com", "sign_in", "/ui/login/link")
    authorization = driver.back_at_app(attempt, await driver.client.get(link))
    _, claims = await driver.verify((await driver.tokens(authorization)).id_token)
    user = await driver.services.users.get("newcomer@example.com")
    assert (True, True) == (user.email_verified, claims["email_verified"])
    assert (["email"], user.id) == (claims["amr"], claims["sub"])


async def test_unknown_email_gets_no_email_and_no_account_when_signup_is_off(
    make_driver: MakeDriver,
) -> None:
    """OSTIARY_SIGNUP_ENABLED=false: the same "check your email" page, but nothing is sent."""
    driver = await make_driver(SIGNUP_ENABLED="false")
    app = await driver.web()
    await driver.user()
    _, form = await driver.login_form(app)
    unknown = await driver.request_code(form, "stranger@example.com")
    _, form = await driver.login_form(app)
    known = await driver.request_code(form, EMAIL)
    assert "Check your email" == _title(unknown.response.text) == _title(known.response.text)
    assert [] == await driver.outbox("stranger@example.com")
    assert ["sign_in"] == [m.kind for m in await driver.outbox(EMAIL)]
    try:
        await driver.services.users.get("stranger@example.com")
        created = True
    except NotFound:
        created = False
    assert False is created


async def test_no_account_is_created_when_signup_was_turned_off_before_the_code_was_used(
    make_driver: MakeDriver,
) -> None:
    """A code emailed while sign-up was on is refused once OSTIARY_SIGNUP_ENABLED=false."""
    driver = await make_driver()
    app = await driver.web()
    _, form = await driver.login_form(app)
    code_form = await driver.request_code(form, "late@example.com")
    code = await driver.latest_code("late@example.com")
    closed = await make_driver(SIGNUP_ENABLED="false")  # same database, sign-up now off
    try:
        await closed.services.email_flows.finish_with_code(code_form.challenge, code)
        refusal = None
    except ChallengeFailed as err:
        refusal = (err.reason, str(err))
    assert ("unknown", "There is no account for this email.") == refusal
    assert [] == [u.email for u in await driver.services.users.all()]


async def test_sixth_code_request_in_15_minutes_is_refused_with_retry_after(
    driver: EmailDriver, clock: AdvancingClock
) -> None:
    """Five requests per email in 15 minutes; the sixth is a 429 page with Retry-After."""
    app = await driver.web()
    await driver.user()
    _, form = await driver.login_form(app)
    statuses = []
    for n in range(5):
        clock.advance(10)
        # The limit is per address, whatever its case.
        response = await driver.ask_for_email(form, EMAIL if n % 2 else EMAIL.upper())
        statuses.append(response.status_code)
    assert [303] * 5 == statuses
    limited = await driver.ask_for_email(form, EMAIL)
    retry_after = 15 * 60 - 40  # the oldest request was 40 s ago
    assert (429, str(retry_after)) == (limited.status_code, limited.headers.get("retry-after"))
    assert f"Too many emails were requested. Wait {retry_after} seconds" in limited.text
    assert 5 == len(await driver.outbox(EMAIL))


async def test_code_requests_work_again_after_the_window(
    driver: EmailDriver, clock: AdvancingClock
) -> None:
    """Once the 15-minute window has passed (FakeClock), asking for a code works again."""
    app = await driver.web()
    await driver.user()
    attempt, form = await driver.login_form(app)
    for _ in range(5):
        assert 303 == (await driver.ask_for_email(form, EMAIL)).status_code
    assert 429 == (await driver.ask_for_email(form, EMAIL)).status_code
    clock.advance(15 * 60 + 1)
    code_form = await driver.request_code(form, EMAIL)
    response = await driver.submit_code(code_form, await driver.latest_code(EMAIL))
    assert "code" in driver.back_at_app(attempt, response).params


async def test_one_second_left_is_said_in_the_singular(
    driver: EmailDriver, clock: AdvancingClock
) -> None:
    """A limit with one second left says "Wait 1 second", not "1 seconds"."""
    app = await driver.web()
    await driver.user()
    _, form = await driver.login_form(app)
    for _ in range(5):
        await driver.ask_for_email(form, EMAIL)
    clock.advance(int((await driver.ask_for_email(form, EMAIL)).headers["retry-after"]) - 1)
    limited = await driver.ask_for_email(form, EMAIL)
    assert (429, "1") == (limited.status_code, limited.headers["retry-after"])
    assert "Wait 1 second, then try again." in limited.text


async def test_waiting_exactly_retry_after_is_enough(
    driver: EmailDriver, clock: AdvancingClock
) -> None:
    """A client that waits the Retry-After it was given is served (not refused again)."""
    app = await driver.web()
    await driver.user()
    _, form = await driver.login_form(app)
    for _ in range(5):
        await driver.ask_for_email(form, EMAIL)
    limited = await driver.ask_for_email(form, EMAIL)
    assert 429 == limited.status_code
    clock.advance(int(limited.headers["retry-after"]))
    assert 303 == (await driver.ask_for_email(form, EMAIL)).status_code


async def test_a_burst_of_guessed_codes_gets_only_five_compared(
    make_driver: MakeDriver, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """64 wrong codes at once for one challenge: 5 are compared, the rest are refused as
    locked, and the right code is refused after them (SQLite and PostgreSQL)."""
    driver = await make_driver(DATABASE_URL=database_url)
    app = await driver.web()
    await driver.user()
    _, form = await driver.login_form(app)
    code_form = await driver.request_code(form, EMAIL)
    right = await driver.latest_code(EMAIL)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    digester = driver.services.digester
    compared: list[str] = []
    real_matches = digester.matches

    def counting(purpose: str, value: str, expected: str) -> bool:
        compared.extend([purpose] if purpose.startswith("email_code:") else [])
        return real_matches(purpose, value, expected)

    monkeypatch.setattr(digester, "matches", counting)
    await asyncio.gather(*(driver.submit_code(code_form, wrong) for _ in range(64)))
    after = await driver.submit_code(code_form, right)
    assert 5 == len(compared)
    assert ("Too many wrong codes", None) == (_title(after.text), after.headers.get("location"))


async def test_wrong_codes_count_down_then_lock(driver: EmailDriver) -> None:
    """Each wrong code says how many tries are left; the fifth locks even the right code."""
    app = await driver.web()
    await driver.user()
    _, form = await driver.login_form(app)
    code_form = await driver.request_code(form, EMAIL)
    right = await driver.latest_code(EMAIL)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    told = []
    for _ in range(4):
        response = await driver.submit_code(code_form, wrong)
        found = re.search(r"That code is not right\. (\d) tr(?:ies|y) left\.", response.text)
        told.append((response.status_code, found.group(1) if found else None))
    assert [(400, "4"), (400, "3"), (400, "2"), (400, "1")] == told
    locked = await driver.submit_code(code_form, wrong)
    assert "Too many wrong codes" == _title(locked.text)
    again = await driver.submit_code(code_form, right)
    assert ("Too many wrong codes", None) == (_title(again.text), again.headers.get("location"))
    assert right == code_in((await driver.latest(EMAIL, "sign_in")).text_body or "")
