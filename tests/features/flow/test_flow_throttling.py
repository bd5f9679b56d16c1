"""Password guessing is throttled per account; unknown emails cost one argon2 run too."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from flow_helpers import EMAIL, PASSWORD, AdvancingClock, FlowHelper, Form

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.web.app import create_web_app
from ostiary.web.cookies import cookie_names

DEVICE_COOKIE_NAME = cookie_names(production=False).device

WRONG = "not the password"


async def _login_form(flow: FlowHelper) -> tuple[Any, Form]:
    app = await flow.web()
    await flow.user()
    attempt = await flow.start(app)
    return attempt, await flow.open_form(attempt.response)


async def _fail(flow: FlowHelper, form: Form, times: int) -> list[int]:
    return [(await flow.submit_login(form, EMAIL, WRONG)).status_code for _ in range(times)]


def _retry_after(response: httpx.Response) -> int:
    return int(response.headers["retry-after"])


async def test_sixth_attempt_after_five_failures_is_429(flow: FlowHelper) -> None:
    """After 5 wrong passwords the 6th attempt is 429 with Retry-After and a wait message."""
    _, form = await _login_form(flow)
    statuses = await _fail(flow, form, 5)
    sixth = await flow.submit_login(form, EMAIL, WRONG)
    assert [401] * 5 == statuses
    assert 429 == sixth.status_code
    assert _retry_after(sixth) >= 1
    assert f"Wait {_retry_after(sixth)} seconds, then try again." in sixth.text


async def test_throttled_account_gets_429_with_retry_after_and_wait_message(
    flow: FlowHelper,
) -> None:
    """A blocked account gets 429, Retry-After and a page saying how long to wait."""
    _, form = await _login_form(flow)
    await _fail(flow, form, 6)
    blocked = await flow.submit_login(form, EMAIL, WRONG)
    seconds = _retry_after(blocked)
    assert 429 == blocked.status_code
    assert seconds >= 1
    assert f"Wait {seconds} seconds, then try again." in blocked.text


async def test_correct_password_is_refused_while_blocked_then_works(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """The right password is refused while blocked and works after Retry-After."""
    attempt, form = await _login_form(flow)
    await _fail(flow, form, 6)
    refused = await flow.submit_login(form, EMAIL, PASSWORD)
    assert 429 == refused.status_code
    assert flow.session_cookie() is None
    clock.advance(_retry_after(refused) + 1)
    authorization = flow.back_at_app(attempt, await flow.submit_login(form, EMAIL, PASSWORD))
    assert 200 == (await flow.exchange(authorization)).status_code


async def test_throttle_is_per_account(flow: FlowHelper) -> None:
    """Another account on the same browser is not blocked by the first one's failures."""
    attempt, form = await _login_form(flow)
    await flow.user("grace@example.com")
    statuses = await _fail(flow, form, 7)
    response = await flow.submit_login(form, "grace@example.com", PASSWORD)
    assert 429 == statuses[-1]
    assert "code" in flow.back_at_app(attempt, response).params


async def test_throttle_ignores_email_case(flow: FlowHelper) -> None:
    """Failures under ADA@EXAMPLE.COM count for ada@example.com too."""
    _, form = await _login_form(flow)
    for _ in range(7):
        await flow.submit_login(form, EMAIL.upper(), WRONG)
    response = await flow.submit_login(form, EMAIL, PASSWORD)
    assert 429 == response.status_code


class _VerifySpy:
    """Wraps argon2's PasswordHasher (slotted, so it cannot be patched in place)."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.calls = 0

    def verify(self, password_hash: str, password: str) -> bool:
        self.calls += 1
        return bool(self._real.verify(password_hash, password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.mark.parametrize(
    ("email", "password"),
    [(EMAIL, PASSWORD), (EMAIL, WRONG), ("nobody@example.com", PASSWORD)],
    ids=["known-right", "known-wrong", "unknown"],
)
async def test_every_login_attempt_runs_exactly_one_argon2_verify(
    flow: FlowHelper, monkeypatch: pytest.MonkeyPatch, email: str, password: str
) -> None:
    """Known and unknown emails each cost exactly one argon2 verification."""
    _, form = await _login_form(flow)
    spy = _VerifySpy(flow.services.passwords._hasher)
    monkeypatch.setattr(flow.services.passwords, "_hasher", spy)
    await flow.submit_login(form, email, password)
    assert 1 == spy.calls


async def test_page_says_nothing_about_which_emails_exist(flow: FlowHelper) -> None:
    """The 401 page for an unknown email and for a wrong password differ only in the email."""
    _, form = await _login_form(flow)
    known = await flow.submit_login(form, EMAIL, WRONG)
    unknown = await flow.submit_login(form, "nobody@example.com", WRONG)

    def scrub(html: str) -> str:
        html = html.replace(EMAIL, "E").replace("nobody@example.com", "E")
        return re.sub(r'name="csrf_token" value="[^"]*"', "", html)

    assert (401, scrub(known.text)) == (unknown.status_code, scrub(unknown.text))


async def test_device_cookie_is_httponly_and_lax_without_secure_on_http(flow: FlowHelper) -> None:
    """Signing in sets the device cookie HttpOnly and SameSite=Lax; not Secure on http."""
    attempt, form = await _login_form(flow)
    response = await flow.submit_login(form, EMAIL, PASSWORD)
    flow.back_at_app(attempt, response)
    cookie = _set_cookie(response, DEVICE_COOKIE_NAME)
    assert (True, True, False) == (
        "httponly" in cookie,
        "samesite=lax" in cookie,
        "secure" in cookie,
    )


async def test_device_cookie_is_secure_with_an_https_issuer(
    make_settings: Callable[..., Settings], clock: AdvancingClock
) -> None:
    """With an https issuer (even in development) the device cookie is Secure."""
    services = build_services(make_settings(ISSUER="https://auth.example.com"), clock=clock)
    await prepare(services)
    transport = httpx.ASGITransport(app=create_web_app(services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=services.settings.issuer) as c:
            flow = FlowHelper(c, services)
            attempt, form = await _login_form(flow)
            response = await flow.submit_login(form, EMAIL, PASSWORD)
            flow.back_at_app(attempt, response)
    finally:
        await services.engine.dispose()
    assert "secure" in _set_cookie(response, DEVICE_COOKIE_NAME)


def _set_cookie(response: httpx.Response, name: str) -> list[str]:
    """The attributes of the Set-Cookie header for ``name``, lower-cased."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return [part.strip().lower() for part in header.split(";")[1:]]
    raise AssertionError(f"no {name} cookie set")


async def test_a_one_second_wait_is_said_in_the_singular(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """With one second left the page says "Wait 1 second", not "1 seconds"."""
    _, form = await _login_form(flow)
    await _fail(flow, form, 5)  # the 5th sets a 2-second wait
    clock.advance(1)
    blocked = await flow.submit_login(form, EMAIL, WRONG)
    assert (429, 1) == (blocked.status_code, _retry_after(blocked))
    assert "Wait 1 second, then try again." in blocked.text
