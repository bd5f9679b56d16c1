"""Signing keys: the first key, encryption at rest, rotation (published first, used later),
retention of retired keys, and JWTs that verify against the published JWKS."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from joserfc.errors import JoseError
from sqlalchemy.ext.asyncio import AsyncEngine

import ostiary.services.keys
from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.protocol.digests import DecryptionError, KeyVault
from ostiary.protocol.jose import PRIVATE_JWK_PARAMS, verify_jwt
from ostiary.services.clock import Clock
from ostiary.services.container import Services


class FakeClock(Clock):
    """The type of the conftest ``clock`` fixture: a Clock that tests move by hand."""

    def advance(self, seconds: float) -> None:
        raise NotImplementedError


SKEW = 120  # seconds of clock skew added to the retention of retired keys
DEFAULT_LONGEST_TTL = 3600  # client_credentials, the longest default JWT lifetime
# Apps may set access-token lifetimes up to the idle timeout (7 days by default): retired keys
# stay published for that bound, so no app setting, now or earlier, outlives its key.
DEFAULT_RETENTION = 7 * 86400 + SKEW


def b64url_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON column read raw: text on some drivers, already decoded on others."""
    return json.loads(value) if isinstance(value, str) else dict(value)


async def raw_key_rows(engine: AsyncEngine) -> dict[str, tuple[dict[str, Any], bytes]]:
    """kid -> (public_jwk, encrypted_private_key) exactly as stored, bypassing the store."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT id, public_jwk, encrypted_private_key FROM signing_keys")
        )
        return {row[0]: (as_dict(row[1]), bytes(row[2])) for row in rows}


async def kids(services: Services) -> list[str]:
    return [key["kid"] for key in (await services.keys.jwks())["keys"]]


async def statuses(services: Services) -> dict[str, str]:
    return {info.kid: info.status for info in await services.keys.all()}


async def signing_kid(services: Services) -> str:
    kid, _algorithm, _private = await services.keys.signing_key()
    return kid


async def test_first_start_creates_one_active_rs256_key_of_at_least_2048_bits(
    services: Services,
) -> None:
    """prepare() leaves exactly one RS256 key, active at once, with a modulus ≥ 2048 bits."""
    infos = await services.keys.all()
    jwks = await services.keys.jwks()
    assert [("RS256", "active")] == [(info.algorithm, info.status) for info in infos]
    assert [infos[0].kid] == [key["kid"] for key in jwks["keys"]]
    public = jwks["keys"][0]
    assert ("RSA", "RS256", "sig") == (public["kty"], public["alg"], public["use"])
    assert b64url_int(public["n"]).bit_length() >= 2048
    assert infos[0].kid == await signing_kid(services)


async def test_private_key_is_encrypted_at_rest(services: Services) -> None:
    """The stored private key is ciphertext: no PEM text and none of the private numbers."""
    rows = await raw_key_rows(services.engine)
    kid = await signing_kid(services)
    _kid, _alg, private = await services.keys.signing_key()
    private_numbers = {
        name: str(value)
        for name, value in private.as_dict(private=True).items()
        if name in PRIVATE_JWK_PARAMS
    }
    public_jwk, blob = rows[kid]
    assert {"d", "p", "q", "dp", "dq", "qi"} == set(private_numbers)
    assert b"-----BEGIN" not in blob
    assert b"PRIVATE KEY" not in blob
    for name, value in private_numbers.items():
        assert value.encode() not in blob, name
        raw = b64url_int(value).to_bytes((b64url_int(value).bit_length() + 7) // 8, "big")
        assert raw not in blob, name
    assert set() == set(public_jwk) & PRIVATE_JWK_PARAMS


async def test_published_keys_have_no_private_parameters(services: Services) -> None:
    """Neither the stored public_jwk nor the JWKS carries d, p, q, dp, dq or qi."""
    await services.keys.rotate(delay=600)
    rows = await raw_key_rows(services.engine)
    jwks = await services.keys.jwks()
    assert 2 == len(jwks["keys"])
    for key in jwks["keys"]:
        assert set() == set(key) & PRIVATE_JWK_PARAMS
    for public_jwk, _blob in rows.values():
        assert set() == set(public_jwk) & PRIVATE_JWK_PARAMS


async def test_the_right_secret_key_decrypts_and_another_one_fails(services: Services) -> None:
    """KeyVault under the deployment's secret key opens the blob; any other secret key fails."""
    kid = await signing_kid(services)
    _public_jwk, blob = (await raw_key_rows(services.engine))[kid]
    pem = KeyVault(services.settings.secret_key).decrypt(blob, kid.encode())
    assert pem.startswith(b"-----BEGIN")
    with pytest.raises(DecryptionError):
        KeyVault("another-secret-key-" + "x" * 32).decrypt(blob, kid.encode())


async def test_a_changed_secret_key_cannot_sign_with_the_stored_key(
    services: Services, make_settings: Callable[..., Settings], clock: FakeClock
) -> None:
    """Services started with a different OSTIARY_SECRET_KEY on the same database refuse to sign."""
    other = build_services(
        make_settings(
            OSTIARY_SECRET_KEY="a-different-secret-key-" + "y" * 32,
            OSTIARY_DATABASE_URL=services.settings.database_url,
        ),
        clock=clock,
    )
    try:
        with pytest.raises(DecryptionError):
            await other.keys.sign({"sub": "usr_x"}, typ="JWT")
    finally:
        await other.engine.dispose()


async def test_an_encrypted_key_swapped_onto_another_key_id_fails(
    services: Services, make_settings: Callable[..., Settings], clock: FakeClock
) -> None:
    """The key id is bound as AAD: a blob moved to another key's row does not decrypt."""
    clock.advance(1)
    new = await services.keys.rotate(delay=0)
    rows = await raw_key_rows(services.engine)
    old_kid = next(kid for kid in rows if kid != new.kid)
    vault = KeyVault(services.settings.secret_key)
    with pytest.raises(DecryptionError):
        vault.decrypt(rows[old_kid][1], new.kid.encode())
    async with services.engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE signing_keys SET encrypted_private_key = :blob WHERE id = :kid"),
            {"blob": rows[old_kid][1], "kid": new.kid},
        )
    fresh = build_services(make_settings(), clock=clock)
    try:
        with pytest.raises(DecryptionError):
            await fresh.keys.signing_key()
    finally:
        await fresh.engine.dispose()


@pytest.mark.parametrize("position", [0, 5, 20, -1])
async def test_an_altered_blob_fails_to_decrypt(services: Services, position: int) -> None:
    """Flipping any byte of the stored blob (format, nonce, ciphertext, tag) is detected."""
    kid = await signing_kid(services)
    blob = bytearray((await raw_key_rows(services.engine))[kid][1])
    blob[position] ^= 0x01
    with pytest.raises(DecryptionError):
        KeyVault(services.settings.secret_key).decrypt(bytes(blob), kid.encode())


async def test_rotation_publishes_the_new_key_first_and_signs_with_it_later(
    services: Services, clock: FakeClock
) -> None:
    """rotate(delay=600): the new key is in /keys at once, the old one signs until 600 s pass."""
    old = await signing_kid(services)
    new = await services.keys.rotate(delay=600)
    assert "next" == new.status
    assert {old, new.kid} == set(await kids(services))
    assert old == await signing_kid(services)
    assert {old: "active", new.kid: "next"} == await statuses(services)

    clock.advance(599)
    assert old == await signing_kid(services)

    clock.advance(2)
    assert new.kid == await signing_kid(services)
    assert {old, new.kid} == set(await kids(services))
    assert {old: "retired", new.kid: "active"} == await statuses(services)


async def test_a_retired_key_leaves_the_jwks_after_the_longest_possible_lifetime_plus_skew(
    services: Services, clock: FakeClock
) -> None:
    """The old key stays published for (longest possible token TTL + 2 min) after it stopped
    signing; with default settings that bound is the 7-day idle timeout."""
    old = await signing_kid(services)
    new = await services.keys.rotate(delay=600)
    retention = DEFAULT_RETENTION

    clock.advance(600 + retention - 1)
    assert {old, new.kid} == set(await kids(services))
    assert "retired" == (await statuses(services))[old]

    clock.advance(1)
    assert [new.kid] == await kids(services)
    assert {old: "expired", new.kid: "active"} == await statuses(services)
    assert new.kid == await signing_kid(services)


async def test_retention_covers_an_app_with_a_longer_access_token_ttl(
    services: Services, clock: FakeClock
) -> None:
    """A key that signed an app's 2-hour tokens is still published 2 hours after retiring."""
    await services.apps.create(
        "Long tokens", "web", redirect_uris=["https://app.example.com/cb"], access_token_ttl=7200
    )
    old = await signing_kid(services)
    clock.advance(1)
    new = await services.keys.rotate(delay=0)

    clock.advance(DEFAULT_LONGEST_TTL + SKEW)  # the default retention has passed
    assert {old, new.kid} == set(await kids(services))

    clock.advance(7200 - DEFAULT_LONGEST_TTL)  # 7200 + skew in all: tokens just expired
    assert {old, new.kid} == set(await kids(services))


async def test_lowering_an_app_ttl_keeps_keys_that_signed_longer_lived_tokens(
    services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key that signed 2-hour tokens stays published for 2 hours after retiring, even when the
    app's lifetime is lowered later."""
    monkeypatch.setattr(ostiary.services.keys, "CACHE_SECONDS", 0)
    app, _ = await services.apps.create(
        "Long tokens", "web", redirect_uris=["https://app.example.com/cb"], access_token_ttl=7200
    )
    old = await signing_kid(services)
    long_lived = await services.keys.sign(
        {"sub": "usr_1", "client_id": app.client_id}, typ="at+jwt"
    )
    clock.advance(1)
    await services.keys.rotate(delay=0)
    await services.apps.update(app.client_id, access_token_ttl=600)

    clock.advance(DEFAULT_LONGEST_TTL + SKEW)  # the token (7200 s) is still alive
    assert old in await kids(services)
    verify_jwt(long_lived, await services.keys.jwks(), ["RS256"])


async def test_configured_id_token_ttl_extends_retention(
    make_settings: Callable[..., Settings], clock: FakeClock
) -> None:
    """An ID-token lifetime longer than the idle timeout sets how long retired keys stay."""
    services = build_services(
        make_settings(OSTIARY_ID_TOKEN_TTL="10000", OSTIARY_SESSION_IDLE_TIMEOUT="3600"),
        clock=clock,
    )
    try:
        await prepare(services)
        old = await signing_kid(services)
        clock.advance(1)
        new = await services.keys.rotate(delay=0)
        clock.advance(10000 + SKEW - 1)
        assert {old, new.kid} == set(await kids(services))
        clock.advance(1)
        assert [new.kid] == await kids(services)
    finally:
        await services.engine.dispose()


async def test_a_signed_jwt_verifies_against_the_published_jwks(services: Services) -> None:
    """sign(typ="at+jwt") gives a JWT with kid/typ/alg headers that /keys' JWKS verifies."""
    claims = {"iss": services.settings.issuer, "sub": "usr_1", "scope": "openid"}
    token = await services.keys.sign(claims, typ="at+jwt")
    verified = verify_jwt(token, await services.keys.jwks(), ["RS256"])
    expected_header = {"alg": "RS256", "kid": await signing_kid(services), "typ": "at+jwt"}
    assert expected_header == dict(verified.header)
    assert claims == dict(verified.claims)


async def test_claims_outside_ascii_survive_signing(services: Services) -> None:
    """A user's name in any script comes back from the token as it went in."""
    claims = {"sub": "usr_1", "name": "Zoë Ñandú 山田 \u2028", "groups": ["ä", 1, True, None]}
    token = await services.keys.sign(claims, typ="JWT")
    assert claims == dict(verify_jwt(token, await services.keys.jwks(), ["RS256"]).claims)


async def test_only_the_signature_runs_on_a_signing_thread(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread gets the finished signing input and returns bare signature bytes: the JSON
    and base64 work stays on the event loop, where it does not hold the GIL against it."""
    handed: list[bytes] = []
    to_thread = asyncio.to_thread

    async def watched(fn: Callable[..., Any], /, *args: Any) -> Any:
        result = await to_thread(fn, *args)
        handed.append(result)
        return result

    monkeypatch.setattr(asyncio, "to_thread", watched)
    token = await services.keys.sign({"sub": "usr_1"}, typ="at+jwt")
    [sig] = handed
    assert isinstance(sig, bytes) and len(sig) == 256  # an RSA-2048 signature, nothing more
    assert token.rsplit(".", 1)[1] == base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


async def test_verification_names_its_algorithms(services: Services) -> None:
    """An RS256 token is refused when the verifier allows only ES256."""
    token = await services.keys.sign({"sub": "usr_1"}, typ="JWT")
    with pytest.raises(JoseError):
        verify_jwt(token, await services.keys.jwks(), ["ES256"])


async def test_a_token_signed_by_a_retired_key_still_verifies_until_the_key_expires(
    services: Services, clock: FakeClock
) -> None:
    """A token from the old key verifies while the key is retired, and not once it has expired."""
    old_token = await services.keys.sign({"sub": "usr_1"}, typ="at+jwt")
    clock.advance(1)
    await services.keys.rotate(delay=0)
    new_token = await services.keys.sign({"sub": "usr_1"}, typ="at+jwt")
    jwks = await services.keys.jwks()
    assert {"sub": "usr_1"} == dict(verify_jwt(old_token, jwks, ["RS256"]).claims)
    assert {"sub": "usr_1"} == dict(verify_jwt(new_token, jwks, ["RS256"]).claims)

    clock.advance(DEFAULT_RETENTION)
    jwks = await services.keys.jwks()
    with pytest.raises(JoseError):
        verify_jwt(old_token, jwks, ["RS256"])
    assert {"sub": "usr_1"} == dict(verify_jwt(new_token, jwks, ["RS256"]).claims)


async def test_rotation_with_no_delay_signs_with_the_new_key_at_once(services: Services) -> None:
    """rotate(delay=0) makes the new key the signing key immediately, even within one instant."""
    old = await signing_kid(services)
    new = await services.keys.rotate(delay=0)
    assert new.kid == await signing_kid(services)
    assert {old: "retired", new.kid: "active"} == await statuses(services)


async def test_another_nodes_rotation_is_seen_once_the_cache_expires(
    services: Services,
    make_settings: Callable[..., Settings],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A key rotated by another process appears in this process's JWKS after its cache ends."""
    monkeypatch.setattr(ostiary.services.keys, "CACHE_SECONDS", 0)
    before = await kids(services)
    other = build_services(make_settings(), clock=clock)
    try:
        new = await other.keys.rotate(delay=600)
    finally:
        await other.engine.dispose()
    assert [*before, new.kid] == await kids(services)


async def test_es256_deployments_sign_with_a_p256_key(
    make_settings: Callable[..., Settings], clock: FakeClock
) -> None:
    """OSTIARY_SIGNING_ALGORITHM=ES256 creates a P-256 key whose tokens verify as ES256."""
    services = build_services(make_settings(OSTIARY_SIGNING_ALGORITHM="ES256"), clock=clock)
    try:
        await prepare(services)
        jwks = await services.keys.jwks()
        [public] = jwks["keys"]
        assert ("EC", "P-256", "ES256") == (public["kty"], public["crv"], public["alg"])
        assert set() == set(public) & PRIVATE_JWK_PARAMS
        token = await services.keys.sign({"sub": "usr_1"}, typ="at+jwt")
        verified = verify_jwt(token, jwks, ["ES256"])
        assert ("ES256", public["kid"]) == (verified.header["alg"], verified.header["kid"])
    finally:
        await services.engine.dispose()


# -- a rotation while a key is still waiting to sign: the newest rotation wins -------------------


@pytest.mark.parametrize("gap", [0, 30])
async def test_an_emergency_rotation_is_not_undone_by_the_key_it_replaced(
    services: Services, clock: FakeClock, gap: int
) -> None:
    """rotate(600) then rotate(0): 601 s later the emergency key still signs and the earlier
    pending key never became active (also when both rotations fall in the same instant)."""
    old = await signing_kid(services)
    pending = await services.keys.rotate(delay=600)
    clock.advance(gap)
    emergency = await services.keys.rotate(delay=0)
    assert emergency.kid == await signing_kid(services)

    clock.advance(601)
    assert emergency.kid == await signing_kid(services)
    assert {old: "retired", pending.kid: "superseded", emergency.kid: "active"} == await statuses(
        services
    )


@pytest.mark.parametrize(("first_delay", "second_delay"), [(600, 300), (300, 600), (600, 600)])
async def test_the_later_of_two_delayed_rotations_signs_and_the_earlier_never_does(
    services: Services, clock: FakeClock, first_delay: int, second_delay: int
) -> None:
    """Two rotations made while the first still waits, with delays in either order: the key
    currently signing carries on until the later rotation's key activates; the first never signs."""
    old = await signing_kid(services)
    first = await services.keys.rotate(delay=first_delay)
    clock.advance(10)
    second = await services.keys.rotate(delay=second_delay)
    signers = []
    for _ in range(0, max(first_delay, second_delay) + 20, 5):
        signers.append(await signing_kid(services))
        clock.advance(5)
    assert first.kid not in signers
    assert [old, second.kid] == sorted(set(signers), key=signers.index)
    assert second.kid == await signing_kid(services)
    assert {old: "retired", first.kid: "superseded", second.kid: "active"} == await statuses(
        services
    )


async def test_a_key_that_already_signs_is_retired_by_the_next_rotation_not_superseded(
    services: Services, clock: FakeClock
) -> None:
    """A key whose activation time came before the next rotation signs until that rotation's key
    activates, then is retired and stays published like any key that signed."""
    first = await services.keys.rotate(delay=60)
    clock.advance(61)
    assert first.kid == await signing_kid(services)
    second = await services.keys.rotate(delay=600)
    assert () == second.superseded
    assert first.kid == await signing_kid(services)
    clock.advance(600)
    assert second.kid == await signing_kid(services)
    assert ("retired", True) == (
        (await statuses(services))[first.kid],
        first.kid in await kids(services),
    )


async def test_a_rotation_reports_the_pending_key_it_superseded(
    services: Services, clock: FakeClock
) -> None:
    """The rotation's result names the key that was waiting to sign, now superseded, and the
    key list says which rotation superseded it."""
    first = await services.keys.rotate(delay=600)
    assert () == first.superseded
    clock.advance(1)
    second = await services.keys.rotate(delay=0)
    assert [(first.kid, "superseded", second.kid)] == [
        (info.kid, info.status, info.superseded_by) for info in second.superseded
    ]
    listed = {info.kid: info.superseded_by for info in await services.keys.all()}
    assert (second.kid, None) == (listed[first.kid], listed[second.kid])


async def test_a_superseded_key_leaves_the_jwks_once_the_retention_after_its_supersession_ends(
    services: Services, clock: FakeClock
) -> None:
    """A superseded key stays published for the usual retention after the rotation that
    superseded it (a node that had not seen that rotation yet may have signed with it), then
    it is expired."""
    first = await services.keys.rotate(delay=600)
    second = await services.keys.rotate(delay=0)
    clock.advance(DEFAULT_RETENTION - 1)
    assert first.kid in await kids(services)
    clock.advance(1)
    assert first.kid not in await kids(services)
    assert {first.kid: "expired", second.kid: "active"} == {
        kid: status
        for kid, status in (await statuses(services)).items()
        if kid in (first.kid, second.kid)
    }


async def test_every_node_agrees_which_rotation_won(
    services: Services,
    make_settings: Callable[..., Settings],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A delayed rotation made on one node and an immediate one made on another: 601 s later
    both nodes sign with the immediate rotation's key (the rule reads only the key table)."""
    monkeypatch.setattr(ostiary.services.keys, "CACHE_SECONDS", 0)
    other = build_services(make_settings(), clock=clock)
    try:
        pending = await other.keys.rotate(delay=600)
        clock.advance(1)
        emergency = await services.keys.rotate(delay=0)
        clock.advance(601)
        assert [emergency.kid, emergency.kid] == [
            await signing_kid(services),
            await signing_kid(other),
        ]
        assert "superseded" == (await statuses(other))[pending.kid]
    finally:
        await other.engine.dispose()
