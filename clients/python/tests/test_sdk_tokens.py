"""Local validation of access, ID and logout tokens, and the JWKS cache across key rotation."""

from __future__ import annotations

import time

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from ostiary_client import (
    AsyncOstiaryClient,
    InsufficientPermissions,
    InsufficientScope,
    InvalidToken,
    NonceMismatch,
    TokenExpired,
    TokenNotYetValid,
    TokenReplayed,
    WrongAudience,
    WrongIssuer,
)
from sdk_harness import CountingTransport

EVENT = "http://schemas.openid.net/event/backchannel-logout"


class FakeMonotonic:
    """A monotonic clock that tests move by hand (for the JWKS rate limit)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def setup(ostiary):
    """A web app's client whose requests are counted, and its client_id."""
    app, secret = await ostiary.services.apps.create(
        "API", "web", redirect_uris=["https://api.example.com/cb"]
    )
    transport = CountingTransport(ostiary.transport())
    monotonic = FakeMonotonic()
    client = AsyncOstiaryClient(
        ostiary.issuer, app.client_id, secret.value,
        http=httpx.AsyncClient(transport=transport), monotonic=monotonic,
    )  # fmt: skip
    yield client, transport, monotonic
    await client._http.aclose()


def access_claims(client, **overrides):
    now = int(time.time())
    claims = {
        "iss": client.issuer, "aud": [client.client_id], "sub": "usr_1",
        "client_id": client.client_id, "sid": "ses_1", "scope": "openid email",
        "jti": f"grt_x.{time.time_ns()}", "iat": now, "nbf": now, "exp": now + 300,
        "permissions": ["orders:read"], "roles": ["member"],
    }  # fmt: skip
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def logout_claims(client, **overrides):
    now = int(time.time())
    claims = {
        "iss": client.issuer, "aud": client.client_id, "iat": now, "exp": now + 120,
        "jti": f"jti-{time.time_ns()}", "sub": "usr_1", "sid": "ses_1", "events": {EVENT: {}},
    }  # fmt: skip
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


async def server_kid(ostiary) -> str:
    return (await ostiary.services.keys.jwks())["keys"][-1]["kid"]


# -- access tokens -------------------------------------------------------------------------------


async def test_valid_access_token_exposes_its_claims(ostiary, setup):
    """A token signed by Ostiary for this client validates; scopes, permissions and roles show."""
    client, _, _ = setup
    token = await ostiary.sign(access_claims(client), typ="at+jwt")
    access = await client.validate_access_token(
        token, required_scopes=["email"], required_permissions=["orders:read"]
    )
    assert "usr_1" == access.sub
    assert frozenset({"openid", "email"}) == access.scopes
    assert frozenset({"orders:read"}) == access.permissions
    assert frozenset({"member"}) == access.roles


async def test_expired_access_token_is_refused(ostiary, setup):
    """exp in the past (beyond the 30 s leeway) raises TokenExpired."""
    client, _, _ = setup
    now = int(time.time())
    token = await ostiary.sign(
        access_claims(client, iat=now - 900, nbf=now - 900, exp=now - 60), typ="at+jwt"
    )
    with pytest.raises(TokenExpired):
        await client.validate_access_token(token)


async def test_leeway_tolerates_small_clock_skew(ostiary, setup):
    """A token expired 10 s ago still passes with the default 30 s leeway."""
    client, _, _ = setup
    now = int(time.time())
    token = await ostiary.sign(access_claims(client, exp=now - 10), typ="at+jwt")
    assert "usr_1" == (await client.validate_access_token(token)).sub


async def test_not_yet_valid_access_token_is_refused(ostiary, setup):
    """nbf in the future raises TokenNotYetValid."""
    client, _, _ = setup
    token = await ostiary.sign(access_claims(client, nbf=int(time.time()) + 600), typ="at+jwt")
    with pytest.raises(TokenNotYetValid):
        await client.validate_access_token(token)


async def test_wrong_audience_is_refused_unless_configured(ostiary, setup):
    """A token for another app raises WrongAudience; an API that lists it accepts it."""
    client, _, _ = setup
    token = await ostiary.sign(access_claims(client, aud=["spa_other"]), typ="at+jwt")
    with pytest.raises(WrongAudience):
        await client.validate_access_token(token)
    access = await client.validate_access_token(token, audience=["spa_other", "ntv_desktop"])
    assert "usr_1" == access.sub


async def test_wrong_issuer_is_refused(ostiary, setup):
    """iss naming another server raises WrongIssuer even with a good signature."""
    client, _, _ = setup
    token = await ostiary.sign(access_claims(client, iss="https://evil.example"), typ="at+jwt")
    with pytest.raises(WrongIssuer):
        await client.validate_access_token(token)


async def test_id_token_is_not_an_access_token(ostiary, setup):
    """A JWT without typ at+jwt (e.g. an ID token) is refused as an access token."""
    client, _, _ = setup
    token = await ostiary.sign(access_claims(client), typ="JWT")
    with pytest.raises(InvalidToken, match="typ"):
        await client.validate_access_token(token)


async def test_missing_scope_and_permission_are_refused(ostiary, setup):
    """A valid token lacking a scope or a permission raises InsufficientScope / …Permissions."""
    client, _, _ = setup
    token = await ostiary.sign(access_claims(client), typ="at+jwt")
    with pytest.raises(InsufficientScope) as scope:
        await client.validate_access_token(token, required_scopes=["orders:write"])
    assert ("orders:write",) == scope.value.missing
    with pytest.raises(InsufficientPermissions) as permission:
        await client.validate_access_token(token, required_permissions=["orders:delete"])
    assert ("orders:delete",) == permission.value.missing


async def test_forged_and_unsigned_tokens_are_refused(ostiary, setup):
    """Another key under Ostiary's kid, HS256 and alg=none all fail signature checks."""
    client, _, _ = setup
    kid = await server_kid(ostiary)
    claims = access_claims(client)
    forged = jwt.encode(
        {"alg": "RS256", "kid": kid, "typ": "at+jwt"}, claims, RSAKey.generate_key(2048)
    )
    with pytest.raises(InvalidToken, match="signature"):
        await client.validate_access_token(forged)
    hs = jwt.encode(
        {"alg": "HS256", "kid": kid, "typ": "at+jwt"}, claims, OctKey.generate_key(256),
        algorithms=["HS256"],
    )  # fmt: skip
    with pytest.raises(InvalidToken, match="algorithm"):
        await client.validate_access_token(hs)
    header, payload, _ = forged.split(".")
    with pytest.raises(InvalidToken):
        await client.validate_access_token(f"{header}.{payload}.")


async def test_key_rotation_refetches_the_jwks_once(ostiary, setup):
    """After a rotation one JWKS refetch finds the new kid; a next unknown kid waits 60 s."""
    client, transport, monotonic = setup
    first = await ostiary.sign(access_claims(client), typ="at+jwt")
    await client.validate_access_token(first)
    assert 1 == transport.count("/keys")

    await ostiary.services.keys.rotate(delay=0)
    second = await ostiary.sign(access_claims(client), typ="at+jwt")
    await client.validate_access_token(second)
    assert 2 == transport.count("/keys")
    await client.validate_access_token(first)  # the retired key is still published
    assert 2 == transport.count("/keys")

    await ostiary.services.keys.rotate(delay=0)
    third = await ostiary.sign(access_claims(client), typ="at+jwt")
    monotonic.now += 10
    with pytest.raises(InvalidToken, match="unknown key"):
        await client.validate_access_token(third)
    assert 2 == transport.count("/keys")

    monotonic.now += 60
    await client.validate_access_token(third)
    assert 3 == transport.count("/keys")
    assert 1 == transport.count("/.well-known/openid-configuration")


# -- ID tokens -----------------------------------------------------------------------------------


async def test_id_token_nonce_and_audience(ostiary, setup):
    """An ID token validates with its nonce; another nonce or another azp is refused."""
    client, _, _ = setup
    now = int(time.time())
    claims = {
        "iss": client.issuer, "aud": client.client_id, "azp": client.client_id, "sub": "usr_1",
        "sid": "ses_1", "auth_time": now, "iat": now, "exp": now + 1800, "nonce": "n-1",
    }  # fmt: skip
    token = await ostiary.sign(claims, typ="JWT")
    assert "usr_1" == (await client.validate_id_token(token, nonce="n-1"))["sub"]
    with pytest.raises(NonceMismatch):
        await client.validate_id_token(token, nonce="n-2")
    other = await ostiary.sign({**claims, "azp": "web_other"}, typ="JWT")
    with pytest.raises(WrongAudience):
        await client.validate_id_token(other, nonce="n-1")
    old_login = await ostiary.sign({**claims, "auth_time": now - 3600}, typ="JWT")
    with pytest.raises(InvalidToken, match="max_age"):
        await client.validate_id_token(old_login, nonce="n-1", max_age=600)


# -- logout tokens -------------------------------------------------------------------------------


async def test_valid_logout_token_is_accepted(ostiary, setup):
    """A logout token signed by Ostiary (typ logout+jwt) validates and names sid and sub."""
    client, _, _ = setup
    token = await ostiary.sign(logout_claims(client), typ="logout+jwt")
    logout = await client.validate_logout_token(token)
    assert ("usr_1", "ses_1") == (logout.sub, logout.sid)


async def test_forged_logout_token_is_refused(ostiary, setup):
    """A logout token signed by another key (even under Ostiary's kid) is refused."""
    client, _, _ = setup
    kid = await server_kid(ostiary)
    forged = jwt.encode(
        {"alg": "RS256", "kid": kid, "typ": "logout+jwt"}, logout_claims(client),
        RSAKey.generate_key(2048),
    )  # fmt: skip
    with pytest.raises(InvalidToken):
        await client.validate_logout_token(forged)
    stranger = jwt.encode(
        {"alg": "RS256", "kid": "key_stranger", "typ": "logout+jwt"}, logout_claims(client),
        RSAKey.generate_key(2048),
    )  # fmt: skip
    with pytest.raises(InvalidToken):
        await client.validate_logout_token(stranger)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"nonce": "n-1"}, "nonce"),
        ({"events": None}, "event"),
        ({"events": {"http://example.com/other": {}}}, "event"),
        ({"sid": None, "sub": None}, "neither sub nor sid"),
        ({"aud": "web_other"}, "is for"),
        ({"iat": 0, "exp": 120}, "expired"),
        ({"exp": None}, "exp"),
    ],
)
async def test_malformed_logout_tokens_are_refused(ostiary, setup, overrides, message):
    """§2.6: nonce, no event, no sid/sub, other audience or expiry each get the token refused."""
    client, _, _ = setup
    token = await ostiary.sign(logout_claims(client, **overrides), typ="logout+jwt")
    with pytest.raises(InvalidToken, match=message):
        await client.validate_logout_token(token)


async def test_logout_token_with_only_sub_is_accepted(ostiary, setup):
    """A logout token may name only the user (sub) to end all of the user's sessions."""
    client, _, _ = setup
    token = await ostiary.sign(logout_claims(client, sid=None), typ="logout+jwt")
    logout = await client.validate_logout_token(token)
    assert (logout.sub, logout.sid) == ("usr_1", None)


async def test_replayed_logout_token_is_refused(ostiary, setup):
    """The same logout token (same jti) is accepted once."""
    client, _, _ = setup
    token = await ostiary.sign(logout_claims(client), typ="logout+jwt")
    await client.validate_logout_token(token)
    with pytest.raises(TokenReplayed):
        await client.validate_logout_token(token)


async def test_access_token_is_not_a_logout_token(ostiary, setup):
    """A token typed at+jwt is refused as a logout token even with the right claims."""
    client, _, _ = setup
    token = await ostiary.sign(logout_claims(client), typ="at+jwt")
    with pytest.raises(InvalidToken, match="typ"):
        await client.validate_logout_token(token)
