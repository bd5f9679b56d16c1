"""Nothing secret reaches a log line: passwords, codes, tokens, session cookies, secrets."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import logging

import pytest
from flow_helpers import PASSWORD, FlowHelper

from ostiary.web.logs import JsonFormatter, TextFormatter


async def test_a_full_flow_logs_no_secret(
    flow: FlowHelper, caplog: pytest.LogCaptureFixture
) -> None:
    """Sign-in, a wrong password, code exchange, refresh, userinfo, revoke and logout leave
    Ostiary's log records (request lines, auth events) without any secret, in either format."""
    caplog.set_level(logging.DEBUG)
    web = await flow.web(backchannel_logout_uri=None)
    await flow.user()
    attempt = await flow.start(web)
    form = await flow.open_form(attempt.response)
    await flow.submit_login(form, password="not the password")
    authorization = flow.back_at_app(attempt, await flow.submit_login(form))
    tokens = await flow.tokens(authorization)
    refreshed = await flow.refresh(web, tokens.refresh_token)
    await flow.userinfo(tokens.access_token)
    await flow.revoke(web, refreshed.json()["refresh_token"])
    await flow.client.get("/oidc/logout", params={"id_token_hint": tokens.id_token})

    secrets = {
        "password": PASSWORD,
        "wrong password": "not the password",
        "client secret": web.secret or "",
        "code": authorization.code,
        "access token": tokens.access_token,
        "refresh token": tokens.refresh_token,
        "id token": tokens.id_token,
        "session cookie": flow.session_cookie() or form.csrf_token,
        "csrf token": form.csrf_token,
    }
    ours = [r for r in caplog.records if r.name.startswith("ostiary")]  # not the test's client
    lines = [JsonFormatter().format(r) for r in ours] + [TextFormatter().format(r) for r in ours]
    assert any("POST /oauth/token" in line for line in lines)  # the records were captured
    leaked = sorted(name for name, value in secrets.items() for line in lines if value in line)
    assert [] == leaked
