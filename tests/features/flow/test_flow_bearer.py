"""Bearer access tokens at /userinfo (RFC 6750 §3): only Ostiary's own, unaltered, live tokens."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import re

import httpx
from flow_helpers import AdvancingClock, FlowHelper

from ostiary.protocol.jose import generate_private_key, sign_jwt

INVALID_TOKEN = (401, "Bearer", "invalid_token")


def _challenge(response: httpx.Response) -> tuple[int, str, str | None]:
    """Status, WWW-Authenticate scheme and its error parameter."""
    header = response.headers.get("www-authenticate", "")
    error = re.search(r'error="([^"]*)"', header)
    return response.status_code, header.split(" ", 1)[0], error.group(1) if error else None


async def _access_token(flow: FlowHelper) -> str:
    app = await flow.web()
    tokens = await flow.signed_in(app)
    return tokens.access_token


def _flip_signature_char(token: str) -> str:
    """Change one character in the middle of the signature (every bit there counts)."""
    head, payload, signature = token.split(".")
    i = len(signature) // 2
    replacement = "A" if signature[i] != "A" else "B"
    return f"{head}.{payload}.{signature[:i]}{replacement}{signature[i + 1 :]}"


async def test_tampered_signature_is_invalid_token(flow: FlowHelper) -> None:
    """An access token with one signature character changed gets 401 invalid_token."""
    token = await _access_token(flow)
    assert INVALID_TOKEN == _challenge(await flow.userinfo(_flip_signature_char(token)))


async def test_token_signed_by_a_foreign_key_with_our_kid_is_invalid_token(
    flow: FlowHelper,
) -> None:
    """A JWT with our claims and kid but signed by someone else's key gets 401 invalid_token."""
    token = await _access_token(flow)
    header, claims = await flow.verify(token)
    forged = sign_jwt(
        claims, generate_private_key("RS256"), kid=header["kid"], algorithm="RS256", typ="at+jwt"
    )
    assert INVALID_TOKEN == _challenge(await flow.userinfo(forged))


async def test_token_signed_by_a_foreign_key_with_unknown_kid_is_invalid_token(
    flow: FlowHelper,
) -> None:
    """A JWT signed by a foreign key under a kid we never published gets 401 invalid_token."""
    token = await _access_token(flow)
    _, claims = await flow.verify(token)
    forged = sign_jwt(
        claims, generate_private_key("RS256"), kid="key_attacker", algorithm="RS256", typ="at+jwt"
    )
    assert INVALID_TOKEN == _challenge(await flow.userinfo(forged))


async def test_payload_changed_after_signing_is_invalid_token(flow: FlowHelper) -> None:
    """Another genuine token's payload under this token's header and signature gets 401."""
    app = await flow.web()
    tokens = await flow.signed_in(app)
    head, _, signature = tokens.access_token.split(".")
    other_payload = tokens.id_token.split(".")[1]
    assert INVALID_TOKEN == _challenge(await flow.userinfo(f"{head}.{other_payload}.{signature}"))


async def test_id_token_is_not_an_access_token(flow: FlowHelper) -> None:
    """Our own ID token (typ JWT) presented as a bearer token gets 401 invalid_token."""
    app = await flow.web()
    tokens = await flow.signed_in(app)
    assert INVALID_TOKEN == _challenge(await flow.userinfo(tokens.id_token))


async def test_expired_access_token_is_invalid_token(
    flow: FlowHelper, clock: AdvancingClock
) -> None:
    """An access token past exp (300 s, plus the 30 s leeway) gets 401 invalid_token."""
    token = await _access_token(flow)
    clock.advance(300 + 31)
    assert INVALID_TOKEN == _challenge(await flow.userinfo(token))


async def test_a_token_that_worked_still_expires(flow: FlowHelper, clock: AdvancingClock) -> None:
    """A token already accepted (its signature check remembered) is refused once it expires."""
    token = await _access_token(flow)
    assert 200 == (await flow.userinfo(token)).status_code
    clock.advance(300 + 31)
    assert INVALID_TOKEN == _challenge(await flow.userinfo(token))


async def test_a_token_that_worked_stops_at_logout(flow: FlowHelper) -> None:
    """A token already accepted is refused as soon as its session is logged out."""
    app = await flow.web()
    tokens = await flow.signed_in(app)
    assert 200 == (await flow.userinfo(tokens.access_token)).status_code
    await flow.client.get("/oidc/logout", params={"id_token_hint": tokens.id_token})
    assert INVALID_TOKEN == _challenge(await flow.userinfo(tokens.access_token))


async def test_malformed_token_is_invalid_token(flow: FlowHelper) -> None:
    """A bearer value that is not a JWT at all gets 401 invalid_token."""
    assert INVALID_TOKEN == _challenge(await flow.userinfo("not-a-jwt"))


async def test_missing_token_gets_a_bearer_challenge(flow: FlowHelper) -> None:
    """/userinfo without any token gets 401 and a Bearer challenge (RFC 6750 §3.1)."""
    response = await flow.client.get("/userinfo")
    assert 401 == response.status_code
    assert response.headers["www-authenticate"].startswith("Bearer ")
