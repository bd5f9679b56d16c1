"""The management API on each database backend (SQLite, and PostgreSQL when reachable): cursor
pages, duplicates and text PostgreSQL refuses behave the same."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from api_helpers import Api

from ostiary.bootstrap import build_services, prepare
from ostiary.config import Settings
from ostiary.web.app import create_web_app


@pytest.fixture
async def backend_api(
    database_url: str, make_settings: Callable[..., Settings], clock: Any
) -> AsyncIterator[Api]:
    """``/api/v1`` on services whose database is ``database_url``."""
    services = build_services(make_settings(OSTIARY_DATABASE_URL=database_url), clock=clock)
    await prepare(services)
    transport = httpx.ASGITransport(app=create_web_app(services))
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url=services.settings.issuer
        ) as client:
            yield Api(client, services)
    finally:
        await services.engine.dispose()


async def test_pages_of_every_database_backed_list(backend_api: Api) -> None:
    """Users, organizations, members, roles, permissions and apps page the same way everywhere."""
    api = backend_api
    org = await api.created("/organizations", {"display_name": "Acme"})
    for i in range(3):
        user = await api.created("/users", {"email": f"user{i}@example.com"})
        await api.created(f"/organizations/{org['id']}/members", {"user_id": user["id"]})
        await api.created("/permissions", {"name": f"thing{i}:read"})
        await api.created("/roles", {"name": f"role{i}"})
    expected = {
        "/users": ("users", 3),
        f"/organizations/{org['id']}/members": ("members", 3),
        "/permissions": ("permissions", 3),
        "/roles": ("roles", 5),
        "/applications": ("applications", 2),
        "/organizations": ("organizations", 1),
    }
    found = {}
    for path, (key, _) in expected.items():
        items, _, total = await api.all_pages(path, key)
        found[path] = (key, total)
        assert total == len(items), path
    assert expected == found


async def test_duplicates_are_409_on_every_backend(backend_api: Api) -> None:
    """A duplicate email, slug, role, permission and membership is 409 on every database."""
    api = backend_api
    user = await api.created("/users", {"email": "ada@example.com"})
    org = await api.created("/organizations", {"display_name": "Acme"})
    await api.created(f"/organizations/{org['id']}/members", {"user_id": user["id"]})
    await api.created("/roles", {"name": "billing"})
    await api.created("/permissions", {"name": "invoices:read"})
    statuses = [
        (await api.post(path, json=body)).status_code
        for path, body in [
            ("/users", {"email": "ADA@example.com"}),
            ("/organizations", {"display_name": "Acme"}),
            (f"/organizations/{org['id']}/members", {"user_id": user["id"]}),
            ("/roles", {"name": "billing"}),
            ("/permissions", {"name": "invoices:read"}),
        ]
    ]
    assert [409] * 5 == statuses


async def test_text_postgresql_cannot_store_is_refused_everywhere(backend_api: Api) -> None:
    """NUL characters in a body, a path or a filter are a 422, never a database error."""
    api = backend_api
    responses = [
        await api.post("/organizations", json={"display_name": "Ac\u0000me"}),
        await api.get("/users/ada%00@example.com"),
        await api.get("/users", params={"email": "ada\u0000@example.com"}),
    ]
    assert [422, 422, 422] == [r.status_code for r in responses]
