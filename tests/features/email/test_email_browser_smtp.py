"""A real ``ostiary serve`` with OSTIARY_MAGIC_LINK_SAME_BROWSER=true that sends its email over
SMTP to a real server on 127.0.0.1 (aiosmtpd): the server's own background worker delivers a
sign-in email, and in Chromium a magic link opened in a second browser context is refused (the
page says to type the code) while the browser that asked for it is signed in."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from browser_harness import BrowserSession, CallbackCatcher
from email_helpers import Received, SmtpSink, code_in, hidden, link_in
from email_live import Outbox, ask_for_email, auth_request, exchange, h1, landed, open_login
from flows import Person
from interop_harness import LiveServer, NodeRP, app_command

from ostiary.web.cookies import cookie_names

pytestmark = [pytest.mark.interop, pytest.mark.browser]

Browsers = Callable[[str], BrowserSession]
FROM = "Ostiary Live <auth@ostiary.test>"
DEADLINE = 30.0


@pytest.fixture(scope="module")
def live_smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="module")
def live_server_env(live_smtp: SmtpSink) -> dict[str, str]:
    return {
        "OSTIARY_LOGIN_METHODS": "password,code_and_link",
        "OSTIARY_MAGIC_LINK_SAME_BROWSER": "true",
        "OSTIARY_SMTP_HOST": "127.0.0.1",
        "OSTIARY_SMTP_PORT": str(live_smtp.port),
        "OSTIARY_SMTP_SECURITY": "none",
        "OSTIARY_EMAIL_FROM": FROM,
    }


@pytest.fixture(scope="module")
def world(live_server: LiveServer, app_callback: CallbackCatcher) -> dict[str, Any]:
    emails = ["same@example.com", "smtp@example.com"]
    *users, app = live_server.cli_many(
        *(Person.command(email, email.split("@")[0].title()) for email in emails),
        app_command("web", name="Email RP", redirect_uris=[app_callback.redirect_uri]),
    )
    return {"app": app, "people": {u["email"]: Person.from_cli(u) for u in users}}


def _wait_for_mail(sink: SmtpSink, to: str) -> Received:
    """The first message the SMTP server received for ``to`` (generous deadline)."""
    deadline = time.monotonic() + DEADLINE
    while not sink.to(to):
        if time.monotonic() > deadline:
            raise AssertionError(f"no email to {to} reached the SMTP server in {DEADLINE:.0f}s")
        time.sleep(0.1)
    return sink.to(to)[0]


def test_server_worker_sends_the_sign_in_code_over_smtp(
    live_server: LiveServer,
    live_smtp: SmtpSink,
    world: dict[str, Any],
    app_callback: CallbackCatcher,
) -> None:
    """Asking for a code on the real server: the SMTP server receives it; the row is "sent"."""
    email = "smtp@example.com"
    client_id = world["app"]["client_id"]
    with httpx.Client(base_url=live_server.issuer, trust_env=False) as client:
        started = client.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": app_callback.redirect_uri,
                "scope": "openid",
                "state": "state-1",
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                "code_challenge_method": "S256",
            },
        )
        login = client.get(started.headers["location"])
        asked = client.post(
            "/ui/login",
            data={
                "txn": hidden(login.text, "txn"),
                "csrf_token": hidden(login.text, "csrf_token"),
                "email": email,
                "method": "email",
            },
        )
    assert 303 == asked.status_code, asked.text
    got = _wait_for_mail(live_smtp, email)
    assert ([email], FROM, email) == (got.rcpt_tos, got.message["From"], got.message["To"])
    code = code_in(got.part("plain"))
    assert code in got.part("html")
    outbox = Outbox(live_server)
    deadline = time.monotonic() + DEADLINE
    while outbox.messages(email)[0].status != "sent" and time.monotonic() < deadline:
        time.sleep(0.1)
    row = outbox.messages(email)[0]
    assert ("sign_in", "sent", 1) == (row.kind, row.status, row.attempts)


def test_magic_link_works_only_in_the_browser_that_asked(
    browsers: Browsers,
    node_rp: NodeRP,
    live_server: LiveServer,
    live_smtp: SmtpSink,
    world: dict[str, Any],
    app_callback: CallbackCatcher,
) -> None:
    """Same browser only: a second context gets "Open this link in the right browser" (type the
    code instead) and no session; the first context is signed in, amr ["email"]."""
    person: Person = world["people"]["same@example.com"]
    app = world["app"]
    rp = node_rp.bind(
        issuer=live_server.issuer, client_id=app["client_id"], client_secret=app["client_secret"]
    )
    first, second = browsers("first"), browsers("second")
    start = auth_request(live_server, app["client_id"], app_callback.redirect_uri)
    open_login(first, start["url"])
    ask_for_email(first, person.email)
    assert "We sent a 6-digit code and a sign-in link" in first.page.inner_text(".lede")
    link = link_in(_wait_for_mail(live_smtp, person.email).part("plain"), "/ui/login/link")

    response = second.page.goto(link, wait_until="load")
    second.screenshot("link-refused")
    assert (400, "Open this link in the right browser") == (
        response.status if response else None,
        h1(second),
    )
    assert "Type the code from the email there instead." in second.page.inner_text("body")
    session_cookie = cookie_names(production=False).session
    assert [] == [c for c in second.context.cookies() if c["name"] == session_cookie]

    seen = len(app_callback.urls)
    first.page.goto(link, wait_until="load")
    tokens = exchange(rp, start, landed(first, app_callback, seen))
    assert (["email"], person.id) == (tokens["claims"]["amr"], tokens["claims"]["sub"])
