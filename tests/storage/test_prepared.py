"""Prepared reads (``ostiary.storage.prepared``) return what SQLAlchemy itself returns for the
same statement, column by column, with every column type the hot reads select: on SQLite
they bypass SQLAlchemy's execution, so each value's conversion is checked here."""

# The house style asserts `expected == actual`; ruff's SIM300 (Yoda) would flip them.

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from ostiary.domain.sessions import AuthorizationCode
from ostiary.services.container import Services
from ostiary.storage import apps as app_storage
from ostiary.storage import tokens as token_storage
from ostiary.storage.prepared import Prepared, PreparedRow
from ostiary.storage.tables import (
    apps,
    client_secrets,
    grants,
    refresh_tokens,
    revoked_access_tokens,
    sessions,
    users,
)
from ostiary.storage.tokens import TokenStore

FIXED = {
    ("apps", "type"): "web",
    ("sessions", "status"): "active",
    ("apps", "client_id"): "client_1",
    ("refresh_tokens", "digest"): "refresh-digest",
    ("grants", "id"): "grant_1",
}
FOREIGN = {"app_id": "app_1", "user_id": "user_1", "session_id": "session_1", "grant_id": "grant_1"}
REVOKED_JTI = "revoked_access_tokens.jti"  # what _fill stores in that column
IDS = {"apps": "app_1", "users": "user_1", "sessions": "session_1", "refresh_tokens": "refresh_1",
       "client_secrets": "secret_1"}  # fmt: skip


def _value(table: sa.Table, column: sa.Column[Any], n: int, nulls: bool) -> Any:
    """A value of the column's type that a conversion could get wrong: aware datetimes with
    microseconds, JSON lists and objects, both booleans, NULLs where allowed."""
    key = (table.name, column.name)
    if key in FIXED:
        return FIXED[key]
    if column.name == "id":
        return IDS[table.name]
    if column.name in FOREIGN:
        return FOREIGN[column.name]
    if nulls and column.nullable:
        return None
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return n % 2 == 0
    if isinstance(kind, sa.Integer):
        return 100 + n
    if isinstance(kind, sa.JSON):
        return {"k": [n, "é"]} if column.name == "metadata" else [f"v{n}", "ü"]
    if isinstance(kind, sa.String):
        return f"{table.name}.{column.name}"[: kind.length]
    return datetime(2026, 5, 17, 12, 34, 56, 789012, tzinfo=UTC) + timedelta(minutes=n)


async def _fill(services: Services, nulls: bool) -> None:
    async with services.engine.begin() as conn:
        tables = (apps, client_secrets, users, sessions, grants, refresh_tokens)
        for table in (*tables, revoked_access_tokens):
            row = {c.name: _value(table, c, n, nulls) for n, c in enumerate(table.c)}
            if table is client_secrets:
                row["revoked_at"] = None  # an active secret: the join finds it
            await conn.execute(table.insert().values(**row))


CASES = [
    (app_storage._APP_WITH_ACTIVE_SECRETS, {"client_id": "client_1"}),
    (token_storage._HOLDER_BY_GRANT, {"grant_id": "grant_1", "jti": REVOKED_JTI}),
    (token_storage._LOGIN_BY_REFRESH, {"digest": "refresh-digest"}),
    (token_storage._TOKEN_REVOKED, {"jti": REVOKED_JTI}),
    (token_storage._TOKEN_REVOKED, {"jti": "grant_1.not-revoked"}),
]


@pytest.mark.parametrize("nulls", [False, True], ids=["values", "nulls"])
async def test_prepared_reads_return_what_sqlalchemy_returns(
    backend: Services, nulls: bool
) -> None:
    await _fill(backend, nulls)
    for prepared, parameters in CASES:
        assert isinstance(prepared, Prepared)
        fast = await backend.engine.fetch(prepared, parameters)
        async with backend.engine.connect() as conn:
            slow = (await conn.execute(prepared.statement, parameters)).all()
        assert 1 == len(slow) == len(fast)
        for column in prepared.statement.selected_columns:
            expected = slow[0]._mapping[column]
            got = fast[0]._mapping[column]
            assert (expected, type(expected)) == (got, type(got)), column
            if isinstance(expected, datetime):
                assert got.tzinfo is not None
    digest_row = (await backend.engine.fetch(*CASES[0]))[0]
    assert "client_secrets.digest" == digest_row.secret_digest
    assert "client_1" == digest_row._mapping["client_id"]


async def test_a_read_that_finds_nothing_is_empty(backend: Services) -> None:
    assert [] == list(await backend.engine.fetch(*CASES[1]))


async def test_a_name_two_selected_columns_share_is_not_guessed(backend: Services) -> None:
    """sessions.id and users.id are both selected: ``row.id`` refuses rather than picks one."""
    await _fill(backend, nulls=False)
    row = (await backend.engine.fetch(*CASES[1]))[0]
    assert "session_1" == row._mapping[sessions.c.id]
    assert "user_1" == row._mapping[users.c.id]
    if isinstance(row, PreparedRow):  # SQLAlchemy's own rows on PostgreSQL
        with pytest.raises(AttributeError):
            _ = row.id


NOW = datetime(2026, 6, 1, 8, 0, 0, 123456, tzinfo=UTC)


def _code(grant_id: str = "grant_2") -> AuthorizationCode:
    return AuthorizationCode(
        grant_id=grant_id, app_id="app_1", client_id="client_1", session_id="session_1",
        user_id="user_1", redirect_uri="https://app.example.com/cb", scope=("openid", "email"),
        nonce="n-0", code_challenge=None, auth_time=NOW - timedelta(minutes=1),
        amr=("pwd",), organization_id=None, created_at=NOW, expires_at=NOW + timedelta(minutes=1),
    )  # fmt: skip


async def test_a_code_is_stored_and_consumed_once_with_every_field(backend: Services) -> None:
    """The code comes back as stored, with its login, the first time only; then as used."""
    await _fill(backend, nulls=False)
    store = TokenStore(backend.engine)
    await store.insert_code(_code(), "code-digest")
    consumed = await store.consume_code("code-digest", NOW)
    assert consumed is not None
    code, first, login = consumed
    assert (dataclasses.replace(_code(), consumed_at=NOW), True) == (code, first)
    assert login is not None and ("session_1", "user_1") == (login.session.id, login.user.id)
    again = await store.consume_code("code-digest", NOW + timedelta(seconds=1))
    assert again is not None and (NOW, False, None) == (again[0].consumed_at, *again[1:])
    assert None is await store.consume_code("no-such-digest", NOW)


@pytest.mark.parametrize("records_activity", [True, False], ids=["with-activity", "alone"])
async def test_a_refresh_token_rotates_once(backend: Services, records_activity: bool) -> None:
    """Rotation retires the old token and stores the new one atomically (with the session's
    activity, in one transaction; alone, one statement on PostgreSQL); a second rotation of the
    same old token changes nothing."""
    await _fill(backend, nulls=True)  # not rotated, not revoked
    store = TokenStore(backend.engine)
    found = await store.refresh_login("refresh-digest")
    assert found is not None
    old, login = found
    new = dataclasses.replace(old, id="refresh_2", created_at=NOW, rotated_at=None, revoked_at=None)
    active = (NOW, NOW + timedelta(hours=1)) if records_activity else None
    assert await store.rotate(old, new, "refresh-digest-2", NOW, session_active=active)
    later = dataclasses.replace(new, id="refresh_3")
    assert not await store.rotate(old, later, "refresh-digest-3", NOW, session_active=None)
    assert not await store.rotate(old, later, "refresh-digest-3", NOW, session_active=active)
    rotated = await store.refresh_login("refresh-digest")
    fresh = await store.refresh_login("refresh-digest-2")
    assert rotated is not None and NOW == rotated[0].rotated_at
    assert fresh is not None and new == fresh[0]
    expected_idle = NOW + timedelta(hours=1) if records_activity else login.session.idle_expires_at
    assert expected_idle == fresh[1].session.idle_expires_at
    assert None is await store.refresh_login("refresh-digest-3")


@pytest.mark.parametrize("records_activity", [True, False], ids=["with-activity", "alone"])
async def test_a_rotation_that_fails_to_store_the_new_token_retires_nothing(
    backend: Services, records_activity: bool
) -> None:
    await _fill(backend, nulls=True)
    store = TokenStore(backend.engine)
    found = await store.refresh_login("refresh-digest")
    assert found is not None
    old = found[0]
    new = dataclasses.replace(old, id="refresh_2", created_at=NOW)
    active = (NOW, NOW + timedelta(hours=1)) if records_activity else None
    with pytest.raises(Exception):  # noqa: B017 - each driver names its own integrity error
        await store.rotate(old, new, "refresh-digest", NOW, session_active=active)  # taken
    still = await store.refresh_login("refresh-digest")
    assert still is not None and still[0].rotated_at is None
    assert await store.rotate(old, new, "refresh-digest-2", NOW, session_active=active)


async def test_a_write_transaction_that_fails_leaves_nothing(backend: Services) -> None:
    """A statement that fails (a duplicate key) rolls back the ones before it."""
    await _fill(backend, nulls=False)
    store = TokenStore(backend.engine)
    with pytest.raises(Exception):  # noqa: B017 - each driver names its own integrity error
        await store.insert_code(_code(grant_id="grant_1"), "code-digest")  # grant_1 exists
    await store.insert_code(_code(grant_id="grant_3"), "code-digest")  # the digest is free
    assert None is not await store.consume_code("code-digest", NOW)


async def test_of_two_concurrent_uses_of_a_code_one_consumes_it(backend: Services) -> None:
    await _fill(backend, nulls=False)
    store = TokenStore(backend.engine)
    await store.insert_code(_code(), "code-digest")
    results = await asyncio.gather(*(store.consume_code("code-digest", NOW) for _ in range(2)))
    assert [False, True] == sorted(result[1] for result in results if result is not None)


async def test_of_two_concurrent_rotations_one_wins(backend: Services) -> None:
    await _fill(backend, nulls=True)
    store = TokenStore(backend.engine)
    found = await store.refresh_login("refresh-digest")
    assert found is not None
    old = found[0]
    news = [dataclasses.replace(old, id=f"refresh_{n}", created_at=NOW) for n in (2, 3)]
    results = await asyncio.gather(
        *(store.rotate(old, new, f"digest-{new.id}", NOW, session_active=None) for new in news)
    )
    assert [False, True] == sorted(results)
    stored = [await store.refresh_login(f"digest-{new.id}") for new in news]
    assert 1 == sum(found is not None for found in stored)
