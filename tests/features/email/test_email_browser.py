"""The email flows in Chromium against a real ``ostiary serve`` (OSTIARY_LOGIN_METHODS=
password,code_and_link) and a registered web app whose codes openid-client exchanges: email
verification after sign-up, forgot/reset password (ending the user's other sessions), sign-in
with an emailed code (amr otp) or magic link (amr email), a code locked after five wrong tries,
and a used link refused. The emails are read from the server's outbox (its SQLite file, and
``ostiary outbox --json``). Screenshots: test-artifacts/screenshots/email-*.png."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from browser_harness import BrowserSession, CallbackCatcher
from email_helpers import code_in, hidden, link_in
from email_live import (
    Outbox,
    ask_for_email,
    auth_request,
    exchange,
    h1,
    landed,
    open_login,
    path_of,
    submit_and_land,
)
from flows import Person, jwt_payload
from interop_harness import CLI_BATCH_SCRIPT, LiveServer, NodeRP, app_command

pytestmark = [pytest.mark.interop, pytest.mark.browser]

Browsers = Callable[[str], BrowserSession]
AuthUrl = Callable[[], dict[str, Any]]
NEW_PASSWORD = "a brand new passphrase for the browser"
EMAIL_CLI = "outbox@example.com"


@pytest.fixture(scope="module")
def world(live_server: LiveServer, app_callback: CallbackCatcher) -> dict[str, Any]:
    """The registered web app and the users of this module (created with the CLI)."""
    emails = [
        "reset@example.com",
        "code@example.com",
        "link@example.com",
        "lock@example.com",
        EMAIL_CLI,
    ]
    *users, app = live_server.cli_many(
        *(Person.command(email, email.split("@")[0].title()) for email in emails),
        app_command("web", name="Email RP", redirect_uris=[app_callback.redirect_uri]),
    )
    return {"app": app, "people": {u["email"]: Person.from_cli(u) for u in users}}


@pytest.fixture
def rp(node_rp: NodeRP, live_server: LiveServer, world: dict[str, Any]) -> NodeRP:
    app = world["app"]
    return node_rp.bind(
        issuer=live_server.issuer, client_id=app["client_id"], client_secret=app["client_secret"]
    )


@pytest.fixture
def outbox(live_server: LiveServer) -> Outbox:
    return Outbox(live_server)


@pytest.fixture
def auth_url(
    live_server: LiveServer, world: dict[str, Any], app_callback: CallbackCatcher
) -> AuthUrl:
    """``auth_url()``: a fresh authorization request of the registered app (url, state, nonce,
    code_verifier)."""
    client_id = world["app"]["client_id"]
    return lambda: auth_request(live_server, client_id, app_callback.redirect_uri)


def test_signup_then_verification_link_gives_email_verified_true(
    browsers: Browsers,
    rp: NodeRP,
    auth_url: AuthUrl,
    app_callback: CallbackCatcher,
    outbox: Outbox,
) -> None:
    """Sign up (email_verified false), open the emailed link, sign in again: verified true."""
    browser = browsers("a")
    start = auth_url()
    open_login(browser, start["url"])
    with browser.page.expect_navigation(wait_until="load"):
        browser.page.click("a[href^='/ui/signup']")
    browser.page.fill("input[name=name]", "Signe Up")
    browser.page.fill("input[name=email]", "signup@example.com")
    browser.page.fill("input[name=password]", "signup correct horse battery")
    browser.screenshot("signup-filled")
    before = exchange(rp, start, submit_and_land(browser, app_callback))
    assert (False, "signup@example.com") == (
        before["claims"]["email_verified"],
        before["claims"]["email"],
    )

    listed = outbox.messages("signup@example.com")
    assert ["verify_email"] == [m.kind for m in listed]
    link = link_in(listed[0].text_body, "/ui/email/verify")
    response = browser.page.goto(link, wait_until="load")
    browser.screenshot("verified")
    assert (200, "All set") == (response.status if response else None, h1(browser))
    assert "Your email address is verified." in browser.page.inner_text("body")

    again = auth_url()
    seen = len(app_callback.urls)
    browser.page.goto(again["url"], wait_until="load")  # the session is still there: SSO
    after = exchange(rp, again, landed(browser, app_callback, seen))
    assert (True, before["claims"]["sub"]) == (
        after["claims"]["email_verified"],
        after["claims"]["sub"],
    )


def test_forgot_password_resets_it_and_ends_the_other_sessions(
    browsers: Browsers,
    rp: NodeRP,
    auth_url: AuthUrl,
    live_server: LiveServer,
    app_callback: CallbackCatcher,
    outbox: Outbox,
    world: dict[str, Any],
) -> None:
    """Reset by emailed link: new password works, old fails; another browser is signed out."""
    person: Person = world["people"]["reset@example.com"]
    other = browsers("other")
    other_start = auth_url()
    landing = other.sign_in(other_start["url"], app_callback, person.email, person.password)
    other_tokens = exchange(rp, other_start, landing.callback_url)

    me = browsers("me")
    start = auth_url()
    open_login(me, start["url"])
    with me.page.expect_navigation(wait_until="load"):
        me.page.click("text=Forgot password?")
    me.screenshot("forgot-page")
    me.page.fill("input[name=email]", person.email)
    with me.page.expect_navigation(wait_until="load"):
        me.page.click("button[type=submit]")
    me.screenshot("forgot-sent")
    assert "Check your email" == h1(me)

    link = link_in(outbox.wait_for(person.email, "password_reset").text_body, "/ui/password/reset")
    me.page.goto(link, wait_until="load")
    me.screenshot("reset-page")
    assert "Choose a new password" == h1(me)
    me.page.fill("input[name=password]", NEW_PASSWORD)
    with me.page.expect_navigation(wait_until="load"):
        me.page.click("button[type=submit]")
    me.screenshot("back-at-login")
    assert "/ui/login" == path_of(me.page.url)
    assert "Your password was changed. Sign in with the new one." in me.page.inner_text("body")

    me.page.fill("input[name=email]", person.email)
    me.page.fill("input[name=password]", person.password)
    with me.page.expect_navigation(wait_until="load"):
        me.page.click("button[type=submit]")
    me.screenshot("old-password-refused")
    assert "/ui/login" == path_of(me.page.url)
    me.page.fill("input[name=email]", person.email)
    me.page.fill("input[name=password]", NEW_PASSWORD)
    tokens = exchange(rp, start, submit_and_land(me, app_callback))
    assert (person.id, ["pwd"]) == (tokens["claims"]["sub"], tokens["claims"]["amr"])

    # The other browser's session ended with the reset: the login page again, refresh fails.
    other_again = auth_url()
    response = other.page.goto(other_again["url"], wait_until="load")
    other.screenshot("signed-out")
    assert ("/ui/login", 200) == (path_of(other.page.url), response.status if response else None)
    app = world["app"]
    refreshed = httpx.post(
        live_server.url("/oauth/token"),
        data={"grant_type": "refresh_token", "refresh_token": other_tokens["refresh_token"]},
        auth=(app["client_id"], app["client_secret"]),
        trust_env=False,
    )
    assert (400, "invalid_grant") == (refreshed.status_code, refreshed.json().get("error"))


def test_sign_in_with_an_emailed_code_gives_amr_otp(
    browsers: Browsers,
    rp: NodeRP,
    auth_url: AuthUrl,
    app_callback: CallbackCatcher,
    outbox: Outbox,
    world: dict[str, Any],
) -> None:
    """Login page → "Email me a sign-in code and link" → type the code → app; amr ["otp"]."""
    person: Person = world["people"]["code@example.com"]
    browser = browsers("a")
    start = auth_url()
    open_login(browser, start["url"])
    assert (
        "Email me a sign-in code and link" == browser.page.inner_text("button[name=method]").strip()
    )
    ask_for_email(browser, person.email)
    assert "Check your email" == h1(browser)
    code = code_in(outbox.wait_for(person.email, "sign_in").text_body)
    browser.page.fill("input[name=code]", code)
    browser.screenshot("code-typed")
    tokens = exchange(rp, start, submit_and_land(browser, app_callback))
    claims = tokens["claims"]
    assert (["otp"], person.id, True) == (claims["amr"], claims["sub"], claims["email_verified"])
    assert ["otp"] == jwt_payload(tokens["id_token"])["amr"]


def test_magic_link_signs_in_with_amr_email_and_works_only_once(
    browsers: Browsers,
    rp: NodeRP,
    auth_url: AuthUrl,
    app_callback: CallbackCatcher,
    outbox: Outbox,
    world: dict[str, Any],
) -> None:
    """Opening the emailed link finishes the app's authorization (amr ["email"]); a second
    opening shows "This link was already used"."""
    person: Person = world["people"]["link@example.com"]
    browser = browsers("a")
    start = auth_url()
    open_login(browser, start["url"])
    ask_for_email(browser, person.email)
    link = link_in(outbox.wait_for(person.email, "sign_in").text_body, "/ui/login/link")
    seen = len(app_callback.urls)
    browser.page.goto(link, wait_until="load")
    tokens = exchange(rp, start, landed(browser, app_callback, seen))
    assert (["email"], person.id) == (tokens["claims"]["amr"], tokens["claims"]["sub"])

    response = browser.page.goto(link, wait_until="load")
    browser.screenshot("link-reused")
    assert (400, "This link was already used") == (
        response.status if response else None,
        h1(browser),
    )
    assert "already used" in browser.page.inner_text(".message")


def test_five_wrong_codes_lock_until_a_new_code_is_requested(
    browsers: Browsers,
    rp: NodeRP,
    auth_url: AuthUrl,
    app_callback: CallbackCatcher,
    outbox: Outbox,
    world: dict[str, Any],
) -> None:
    """Four wrong codes count down, the fifth locks; the right code is then refused too, and
    only a newly requested code signs in."""
    person: Person = world["people"]["lock@example.com"]
    browser = browsers("a")
    start = auth_url()
    open_login(browser, start["url"])
    ask_for_email(browser, person.email)
    code_page = browser.page.url
    right = code_in(outbox.wait_for(person.email, "sign_in").text_body)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        browser.page.fill("input[name=code]", wrong)
        with browser.page.expect_navigation(wait_until="load"):
            browser.page.click("button[type=submit]")
        tries = "1 try" if left == 1 else f"{left} tries"
        assert f"That code is not right. {tries} left." in browser.page.inner_text("body")
    browser.screenshot("wrong-code")
    browser.page.fill("input[name=code]", wrong)
    with browser.page.expect_navigation(wait_until="load"):
        browser.page.click("button[type=submit]")
    browser.screenshot("locked")
    assert "Too many wrong codes" == h1(browser)

    browser.page.goto(code_page, wait_until="load")
    browser.page.fill("input[name=code]", right)
    with browser.page.expect_navigation(wait_until="load"):
        browser.page.click("button[type=submit]")
    browser.screenshot("right-code-still-locked")
    assert "Too many wrong codes" == h1(browser)

    with browser.page.expect_navigation(wait_until="load"):
        browser.page.click("text=Start again")
    assert "/ui/login" == path_of(browser.page.url)
    ask_for_email(browser, person.email)
    new_code = code_in(outbox.wait_for(person.email, "sign_in", seen=1).text_body)
    browser.page.fill("input[name=code]", new_code)
    tokens = exchange(rp, start, submit_and_land(browser, app_callback))
    assert (["otp"], person.id) == (tokens["claims"]["amr"], tokens["claims"]["sub"])


def test_outbox_cli_prints_the_latest_message(
    live_server: LiveServer, outbox: Outbox, world: dict[str, Any]
) -> None:
    """``ostiary outbox --to --limit 1`` shows subject, To and body; ``--json`` parses."""
    with httpx.Client(base_url=live_server.issuer, trust_env=False) as client:
        page = client.get("/ui/password/forgot")
        sent = client.post(
            "/ui/password/forgot",
            data={"txn": "", "csrf_token": hidden(page.text, "csrf_token"), "email": EMAIL_CLI},
        )
    assert 200 == sent.status_code
    link = link_in(outbox.wait_for(EMAIL_CLI, "password_reset").text_body, "/ui/password/reset")
    argv = ["outbox", "--to", EMAIL_CLI, "--limit", "1"]
    # Both commands in one Python process (the harness's cli_batch.py calls the console
    # script's main(argv) for each): the same CLI without paying the start-up twice.
    text, as_json = run_cli(live_server, argv, [*argv, "--json"])
    assert f"To:      {EMAIL_CLI}" in text
    assert "Subject: Reset your password · Ostiary" in text
    assert link in text
    assert "(No SMTP server is configured: messages stay here." in text
    listed = json.loads(as_json)
    assert [("password_reset", EMAIL_CLI, "kept")] == [
        (m["kind"], m["to_address"], m["status"]) for m in listed
    ]
    assert link in listed[0]["text_body"]


def run_cli(server: LiveServer, *commands: list[str]) -> list[str]:
    """Standard output of each ``ostiary`` command (run in order, all must exit 0)."""
    payload = json.dumps([{"argv": argv, "stdin": ""} for argv in commands])
    done = subprocess.run(
        [sys.executable, str(CLI_BATCH_SCRIPT)],
        env=server.env,
        input=payload,
        capture_output=True,
        text=True,
        timeout=120,
    )
    results = json.loads(done.stdout)
    assert [0] * len(commands) == [r["returncode"] for r in results], results
    return [r["stdout"] for r in results]
