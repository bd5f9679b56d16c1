"""The storage contract: one suite, run on SQLite and on PostgreSQL (the ``database_url``
fixture), through the services that the rest of Ostiary uses."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.exc import StatementError

from ostiary.bootstrap import SchemaOutdatedError, build_services, migrate_database, prepare
from ostiary.config import Settings
from ostiary.domain.apps import App, ClientSecret
from ostiary.protocol.digests import KeyVault
from ostiary.protocol.jose import PRIVATE_JWK_PARAMS, verify_jwt
from ostiary.services.apps import CONSOLE_ID, CONSOLE_NAME
from ostiary.services.clock import Clock
from ostiary.services.container import Services
from ostiary.services.errors import Conflict, InvalidInput, NotFound
from ostiary.storage.apps import AppStore
from ostiary.storage.db import current_revision, head_revision
from ostiary.storage.tables import metadata


class FakeClock(Clock):
    """The type of the conftest ``clock`` fixture: a Clock that tests move by hand."""

    def advance(self, seconds: float) -> None:
        raise NotImplementedError


WEB_CB = "https://app.example.com/cb"
GATE_SECONDS = 1  # how long one side of a race waits for the other (never asserted on)


async def new_web_app(services: Services, name: str = "Web") -> tuple[App, str]:
    """A web app and its first secret's value."""
    app, secret = await services.apps.create(name, "web", redirect_uris=[WEB_CB])
    assert secret is not None
    return app, secret.value


async def raw_rows(services: Services, table: str) -> list[dict[str, Any]]:
    async with services.engine.connect() as conn:
        result = await conn.execute(sa.text(f"SELECT * FROM {table}"))
        return [dict(row._mapping) for row in result]


def is_utc(value: datetime) -> bool:
    return value.tzinfo is not None and timedelta(0) == value.utcoffset()


# -- schema --------------------------------------------------------------------------------


async def test_migrations_run_twice_safely(backend: Services) -> None:
    """Migrating an up-to-date database again is a no-op, and prepare() twice adds nothing."""
    head = head_revision()
    assert head == await migrate_database(backend)
    assert head == await migrate_database(backend)
    await prepare(backend)
    assert head == await current_revision(backend.engine)
    assert 1 == len(await backend.keys.all())
    assert [CONSOLE_NAME] == [app.name for app in await backend.apps.all()]


async def test_migrations_and_table_definitions_do_not_drift(backend: Services) -> None:
    """Autogenerate finds no difference between the migrated schema and storage.tables."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with backend.engine.connect() as conn:
        differences = await conn.run_sync(compare)
    assert [] == differences


async def test_an_unmigrated_database_is_refused_in_production(
    database_url: str, make_settings: Callable[..., Settings], clock: FakeClock
) -> None:
    """Production does not migrate by itself: prepare() asks for `ostiary migrate` first."""
    settings = make_settings(
        OSTIARY_DATABASE_URL=database_url,
        OSTIARY_ENVIRONMENT="production",
        OSTIARY_ISSUER="https://auth.example.com",
        OSTIARY_SECRET_KEY="p" * 48,
    )
    services = build_services(settings, clock=clock)
    try:
        with pytest.raises(SchemaOutdatedError) as info:
            await prepare(services)
        assert "ostiary migrate" in str(info.value)
        assert None is await current_revision(services.engine)

        await migrate_database(services)
        await prepare(services)
        console = next(app for app in await services.apps.all() if app.is_console)
        assert ("https://auth.example.com/admin/callback",) == console.redirect_uris
    finally:
        await services.engine.dispose()


# -- applications --------------------------------------------------------------------------


async def test_an_app_round_trips_every_field(backend: Services) -> None:
    """Every field of a new app, tuples of URLs included, comes back exactly as it was saved."""
    app, secret = await backend.apps.create(
        "Every field",
        "web",
        enforce_pkce=False,
        management_api_access=True,
        third_party=True,
        access_token_ttl=900,
        refresh_reuse_interval=10,
        redirect_uris=[WEB_CB, "https://app.example.com/cb/"],
        post_logout_redirect_uris=["https://app.example.com/bye"],
        initiate_login_uri="https://app.example.com/login",
        backchannel_logout_uri="https://app.example.com/backchannel",
    )
    loaded = await backend.apps.get(app.client_id)
    assert app == loaded
    assert app == await backend.apps.get(app.id)
    assert (WEB_CB, "https://app.example.com/cb/") == loaded.redirect_uris
    assert ("https://app.example.com/bye",) == loaded.post_logout_redirect_uris
    assert (False, True, True, 900, 10) == (
        loaded.enforce_pkce,
        loaded.management_api_access,
        loaded.third_party,
        loaded.access_token_ttl,
        loaded.refresh_reuse_interval,
    )
    assert secret is not None


async def test_an_app_with_defaults_round_trips_empty_tuples_and_none(backend: Services) -> None:
    """A SPA with no optional settings comes back with (), None TTL and None URLs."""
    app, secret = await backend.apps.create("Bare SPA", "spa")
    loaded = await backend.apps.get(app.client_id)
    assert app == loaded
    assert ((), (), None, None, None) == (
        loaded.redirect_uris,
        loaded.post_logout_redirect_uris,
        loaded.access_token_ttl,
        loaded.initiate_login_uri,
        loaded.backchannel_logout_uri,
    )
    assert None is secret


async def test_an_update_round_trips_and_can_clear_the_ttl(
    backend: Services, clock: FakeClock
) -> None:
    """update() stores new lists and a None TTL; updated_at moves, created_at does not."""
    app, _ = await backend.apps.create(
        "Changing", "native", redirect_uris=["com.example.app:/cb"], access_token_ttl=600
    )
    clock.advance(60)
    updated = await backend.apps.update(
        app.client_id,
        redirect_uris=["com.example.app:/cb2", "http://127.0.0.1/cb"],
        access_token_ttl=None,
        name="Changed",
    )
    loaded = await backend.apps.get(app.id)
    assert updated == loaded
    assert ("com.example.app:/cb2", "http://127.0.0.1/cb") == loaded.redirect_uris
    assert (None, "Changed") == (loaded.access_token_ttl, loaded.name)
    assert (app.created_at, app.created_at + timedelta(seconds=60)) == (
        loaded.created_at,
        loaded.updated_at,
    )


async def test_apps_are_listed_in_creation_order(backend: Services, clock: FakeClock) -> None:
    """all() returns the console first, then apps in the order they were created."""
    for name in ("First", "Second", "Third"):
        clock.advance(1)
        await backend.apps.create(name, "spa")
    assert [CONSOLE_NAME, "First", "Second", "Third"] == [a.name for a in await backend.apps.all()]


async def test_the_console_app_exists_and_cannot_be_deleted(backend: Services) -> None:
    """prepare() creates the Ostiary Console web app; deleting it is refused (Conflict)."""
    [console] = [app for app in await backend.apps.all() if app.is_console]
    assert (CONSOLE_NAME, "web") == (console.name, console.type.value)
    assert (f"{backend.settings.issuer}/admin/callback",) == console.redirect_uris
    with pytest.raises(Conflict):
        await backend.apps.delete(console.client_id)
    with pytest.raises(Conflict):
        await backend.apps.delete(console.id)
    assert console == await backend.apps.get(console.client_id)


async def test_deleting_an_app_removes_it_and_cascades_its_secrets(backend: Services) -> None:
    """delete() removes the app and, through the foreign key, every one of its secrets."""
    app, first = await new_web_app(backend)
    await backend.apps.create_secret(app.client_id)
    keep, _ = await new_web_app(backend, "Keep")
    assert 2 == len([r for r in await raw_rows(backend, "client_secrets") if r["app_id"] == app.id])

    await backend.apps.delete(app.client_id)

    with pytest.raises(NotFound):
        await backend.apps.get(app.client_id)
    owners = [row["app_id"] for row in await raw_rows(backend, "client_secrets")]
    assert (0, 1) == (owners.count(app.id), owners.count(keep.id))
    assert None is await backend.apps.authenticate(app.client_id, first)


# -- client secrets ------------------------------------------------------------------------


async def test_at_most_two_secrets_are_active(backend: Services) -> None:
    """A third active secret is a Conflict that says to revoke one; after a revoke it works
    (and a secret can be revoked only once)."""
    app, _ = await new_web_app(backend)
    second = await backend.apps.create_secret(app.client_id)
    with pytest.raises(Conflict) as info:
        await backend.apps.create_secret(app.client_id)
    assert "revoke one" in str(info.value).lower()
    assert 2 == len(await backend.apps.list_secrets(app.client_id))

    await backend.apps.revoke_secret(app.client_id, second.secret.id)
    with pytest.raises(NotFound):
        await backend.apps.revoke_secret(app.client_id, second.secret.id)
    third = await backend.apps.create_secret(app.client_id)

    secrets = {s.id: s.active for s in await backend.apps.list_secrets(app.client_id)}
    assert 3 == len(secrets)
    assert (False, True) == (secrets[second.secret.id], secrets[third.secret.id])
    assert 2 == sum(secrets.values())


async def test_two_concurrent_secret_creations_cannot_pass_the_limit(
    backend: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one active secret, two simultaneous creations leave exactly two active secrets."""
    app, _ = await new_web_app(backend)
    arrived: list[str] = []
    both_counted = asyncio.Event()
    original_insert = AppStore._insert_secret

    async def insert_once_both_counted(conn: Any, secret: ClientSecret, digest: str) -> None:
        # Hold the first insert until the other creation has counted too (or cannot, because
        # the app row is locked), so a missing lock shows up as a third active secret.
        arrived.append(secret.id)
        if len(arrived) >= 2:
            both_counted.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(both_counted.wait(), GATE_SECONDS)
        await original_insert(conn, secret, digest)

    monkeypatch.setattr(AppStore, "_insert_secret", staticmethod(insert_once_both_counted))
    results = await asyncio.gather(
        backend.apps.create_secret(app.client_id),
        backend.apps.create_secret(app.client_id),
        return_exceptions=True,
    )
    assert [Conflict] == [type(result) for result in results if isinstance(result, Exception)]
    assert 2 == len([s for s in await backend.apps.list_secrets(app.client_id) if s.active])


async def test_secrets_are_stored_only_as_digests(backend: Services) -> None:
    """No column of client_secrets (or apps) holds a secret's value; the digest is its HMAC."""
    app, first = await new_web_app(backend)
    second = (await backend.apps.create_secret(app.client_id)).value
    stored = [r for r in await raw_rows(backend, "client_secrets") if r["app_id"] == app.id]
    everything = json.dumps(
        stored + await raw_rows(backend, "apps"), default=str, ensure_ascii=False
    )
    assert 2 == len(stored)
    for value in (first, second):
        assert value not in everything
        assert value[4:] not in everything  # not even without its "sec_" prefix
    expected = {backend.digester.digest("client_secret", v) for v in (first, second)}
    assert expected == {row["digest"] for row in stored}
    assert {first[-4:], second[-4:]} == {row["hint"] for row in stored}


async def test_authenticate_accepts_both_active_secrets_only(backend: Services) -> None:
    """Both active secrets authenticate; a revoked, a wrong, and another app's secret do not."""
    app, first = await new_web_app(backend)
    second = await backend.apps.create_secret(app.client_id)
    other, other_secret = await new_web_app(backend, "Other")

    assert app.id == (await backend.apps.authenticate(app.client_id, first)).id  # type: ignore[union-attr]
    assert app.id == (await backend.apps.authenticate(app.client_id, second.value)).id  # type: ignore[union-attr]
    assert None is await backend.apps.authenticate(app.client_id, first + "x")
    assert None is await backend.apps.authenticate(app.client_id, "")
    assert None is await backend.apps.authenticate(app.client_id, other_secret)
    assert None is await backend.apps.authenticate("web_unknown", first)

    await backend.apps.revoke_secret(app.client_id, second.secret.id)
    assert None is await backend.apps.authenticate(app.client_id, second.value)
    assert app.id == (await backend.apps.authenticate(app.client_id, first)).id  # type: ignore[union-attr]
    assert other.id == (await backend.apps.authenticate(other.client_id, other_secret)).id  # type: ignore[union-attr]


async def test_a_public_client_never_authenticates_with_a_secret(backend: Services) -> None:
    """A SPA has no secrets: authenticate() says None and create_secret() is refused."""
    spa, _ = await backend.apps.create("SPA", "spa")
    assert None is await backend.apps.authenticate(spa.client_id, "sec_anything")
    with pytest.raises(InvalidInput) as info:
        await backend.apps.create_secret(spa.client_id)
    assert "secret_for_public_client" == info.value.rule
    assert [] == await backend.apps.list_secrets(spa.client_id)


# -- users ---------------------------------------------------------------------------------


async def test_user_email_is_unique_case_insensitively(backend: Services) -> None:
    """A second user whose email differs only in case (or spaces) is a Conflict."""
    user = await backend.users.create("Alice@Example.com", password="correct horse")
    for duplicate in ("alice@example.com", "ALICE@EXAMPLE.COM", " alice@example.com "):
        with pytest.raises(Conflict) as info:
            await backend.users.create(duplicate, password="correct horse")
        assert "already exists" in str(info.value)
    assert [user.id] == [u.id for u in await backend.users.all()]
    assert user.id == (await backend.users.get("ALICE@example.COM")).id


async def test_a_user_round_trips(backend: Services) -> None:
    """A user's fields, metadata and roles come back as saved (email case kept); the password
    rests only as an argon2id hash."""
    user = await backend.users.create(
        "Bob.Smith@Example.com",
        password="correct horse",
        name="  Bob Smith ",
        email_verified=True,
        roles=("ostiary_admin",),
        metadata={"team": "blue", "level": 3},
    )
    loaded = await backend.users.get(user.id)
    assert user == loaded
    assert ("Bob.Smith@Example.com", "Bob Smith", {"team": "blue", "level": 3}) == (
        loaded.email,
        loaded.name,
        loaded.metadata,
    )
    [row] = await raw_rows(backend, "users")
    assert row["password_hash"].startswith("$argon2id$")
    assert "correct horse" not in json.dumps(row, default=str)
    assert await backend.passwords.verify(row["password_hash"], "correct horse")


# -- time ----------------------------------------------------------------------------------


async def test_datetimes_come_back_timezone_aware_utc(backend: Services, clock: FakeClock) -> None:
    """Apps, secrets, users and keys return aware UTC datetimes equal to what was stored."""
    app, _ = await new_web_app(backend)
    [secret] = await backend.apps.list_secrets(app.client_id)
    clock.advance(5)
    await backend.apps.revoke_secret(app.client_id, secret.id)
    [revoked] = await backend.apps.list_secrets(app.client_id)
    user = await backend.users.create("dan@example.com")
    loaded_app = await backend.apps.get(app.id)
    loaded_user = await backend.users.get(user.id)
    key = (await backend.keys.all())[0]

    values = [
        loaded_app.created_at,
        loaded_app.updated_at,
        revoked.created_at,
        revoked.revoked_at,
        loaded_user.created_at,
        loaded_user.updated_at,
        datetime.fromisoformat(key.created_at),
        datetime.fromisoformat(key.activates_at),
    ]
    assert [True] * len(values) == [v is not None and is_utc(v) for v in values]
    assert app.created_at == loaded_app.created_at
    assert secret.created_at + timedelta(seconds=5) == revoked.revoked_at


async def test_an_aware_non_utc_datetime_is_stored_as_the_same_instant(backend: Services) -> None:
    """A +05:30 datetime is read back as the same instant in UTC; a naive one is refused."""
    store = AppStore(backend.engine)
    app, _ = await backend.apps.create("Template", "spa")
    local = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    moved = dataclasses.replace(app, id="app_tz", client_id="spa_tz", created_at=local)
    await store.insert(moved)
    loaded = await store.get("app_tz")
    assert loaded is not None
    assert datetime(2030, 1, 1, 21, 34, 5, 678000, tzinfo=UTC) == loaded.created_at
    assert is_utc(loaded.created_at)

    naive = dataclasses.replace(
        app,
        id="app_naive",
        client_id="spa_naive",
        created_at=datetime(2030, 1, 1),
    )
    with pytest.raises(StatementError):
        await store.insert(naive)
    assert None is await store.get("app_naive")


# -- signing keys --------------------------------------------------------------------------


async def test_signing_keys_work_on_this_backend(backend: Services, clock: FakeClock) -> None:
    """The stored, encrypted key signs a JWT that the JWKS verifies, before and after rotation."""
    [row] = await raw_rows(backend, "signing_keys")
    blob = bytes(row["encrypted_private_key"])
    assert b"-----BEGIN" not in blob
    pem = KeyVault(backend.settings.secret_key).decrypt(blob, row["id"].encode())
    assert pem.startswith(b"-----BEGIN")
    jwk = (
        row["public_jwk"] if isinstance(row["public_jwk"], dict) else json.loads(row["public_jwk"])
    )
    assert set() == set(jwk) & PRIVATE_JWK_PARAMS

    before = await backend.keys.sign({"sub": "usr_1"}, typ="at+jwt")
    clock.advance(1)
    new = await backend.keys.rotate(delay=60)
    clock.advance(61)
    after = await backend.keys.sign({"sub": "usr_2"}, typ="at+jwt")
    jwks = await backend.keys.jwks()

    assert {row["id"], new.kid} == {key["kid"] for key in jwks["keys"]}
    assert row["id"] == verify_jwt(before, jwks, ["RS256"]).header["kid"]
    assert new.kid == verify_jwt(after, jwks, ["RS256"]).header["kid"]
    assert {row["id"]: "retired", new.kid: "active"} == {
        info.kid: info.status for info in await backend.keys.all()
    }


async def test_two_nodes_preparing_a_fresh_database_at_once_create_one_console(
    database_url: str,
    make_settings: Callable[..., Settings],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two processes starting together on a new (migrated) database leave one console app."""
    looked = asyncio.Event()
    lookups: list[App | None] = []
    original_get = AppStore.get

    async def console_seen_by_both(self: AppStore, app_id: str) -> App | None:
        # Both nodes look before either writes: the interleaving that happens in production.
        found = await original_get(self, app_id)
        if app_id != CONSOLE_ID:
            return found
        lookups.append(found)
        if len(lookups) >= 2:
            looked.set()
        with contextlib.suppress(TimeoutError):  # a locking fix makes the other node wait
            await asyncio.wait_for(looked.wait(), GATE_SECONDS)
        return found

    monkeypatch.setattr(AppStore, "get", console_seen_by_both)
    settings = make_settings(OSTIARY_DATABASE_URL=database_url)
    first, second = build_services(settings, clock=clock), build_services(settings, clock=clock)
    try:
        await migrate_database(first)
        await asyncio.gather(prepare(first, migrate=False), prepare(second, migrate=False))
        consoles = [app for app in await first.apps.all() if app.is_console]
        assert [CONSOLE_NAME] == [app.name for app in consoles]
    finally:
        await first.engine.dispose()
        await second.engine.dispose()
